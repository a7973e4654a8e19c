"""The run folder: layout, atomic JSON writes, the manifest and the single-writer lock.

Layout (DESIGN.md)::

    runs/<task>/<timestamp>/
        config.json            resolved RefineConfig
        manifest.json          state of the loop, rewritten atomically after every step
        llm_transcript.jsonl   every designer request/response (minus secrets)
        iter_<i>/cand_<k>/     proposal.json, reward.py, train.csv, tb/, checkpoint.pt,
                               policy.npz, result.json, packet.json, packet.txt, plots
        best/                  PolicyBundle of the all-time best candidate
        report.html, summary.json
"""

from __future__ import annotations

import fcntl
import json
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel


class RunLockedError(RuntimeError):
    """Another process is writing this run folder."""


def write_json(path: Path, data: Any) -> None:
    """Write JSON atomically: a temporary file in the same folder, fsync, then rename.

    A reader (or a resumed run after ``kill -9``) sees either the old or the new file, never
    a torn one.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, BaseModel):
        text = data.model_dump_json(indent=2)
    else:
        text = json.dumps(data, indent=2, default=str)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_json(path: Path) -> Any:
    return json.loads(path.read_text())


class RunStore:
    """Paths and persistence of one run folder."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._lock_fd: int | None = None

    @classmethod
    def create(cls, parent: str | Path, task_id: str) -> RunStore:
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S-%f")[:-3]
        root = Path(parent) / task_id.split("/")[-1] / stamp
        root.mkdir(parents=True, exist_ok=False)
        return cls(root)

    # ---------------------------------------------------------------- paths
    @property
    def config_path(self) -> Path:
        return self.root / "config.json"

    @property
    def manifest_path(self) -> Path:
        return self.root / "manifest.json"

    @property
    def transcript_path(self) -> Path:
        return self.root / "llm_transcript.jsonl"

    @property
    def best_dir(self) -> Path:
        return self.root / "best"

    def candidate_dir(self, iteration: int, index: int) -> Path:
        return self.root / f"iter_{iteration}" / f"cand_{index}"

    # ---------------------------------------------------------------- lock
    def lock(self) -> None:
        """Take the run's lock for this process's lifetime (released on exit, even kill -9).

        Raises:
            RunLockedError: if another live process holds it.
        """
        path = self.root / ".lock"
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 64).decode(errors="replace").strip() or "another process"
            os.close(fd)
            raise RunLockedError(
                f"run folder {self.root} is in use by PID {holder}; wait for it to finish or "
                "stop it before resuming"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._lock_fd = fd

    @property
    def lock_fds(self) -> tuple[int, ...]:
        """The lock's descriptor (empty when not locked): workers inherit it, so the lock is
        held until the driver and every worker are gone."""
        return () if self._lock_fd is None else (self._lock_fd,)

    def unlock(self) -> None:
        if self._lock_fd is not None:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            os.close(self._lock_fd)
            self._lock_fd = None

    # ---------------------------------------------------------------- manifest
    def load_manifest(self) -> dict[str, Any]:
        if not self.manifest_path.exists():
            raise FileNotFoundError(
                f"{self.root} has no manifest.json: not an agentic-rl run folder (or it was "
                "interrupted before its first step; start a new run)"
            )
        return read_json(self.manifest_path)

    def save_manifest(self, manifest: dict[str, Any]) -> None:
        write_json(self.manifest_path, manifest)
