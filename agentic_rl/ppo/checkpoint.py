"""Checkpoint files: everything needed to continue a run bit for bit.

A checkpoint holds the policy and value weights, the optimizer state, the observation and
reward normalizer statistics, every RNG state (numpy action noise and minibatch order, torch,
the env-seed generator), the step and update counters, the recent-episode window that logs
are computed from, and each env's current episode as (seed, actions) so envs are rebuilt
mid-episode by replay. Files are written atomically (temp file + rename), so an interruption
while saving leaves the previous checkpoint intact.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from agentic_rl.runfiles import CHECKPOINT, run_file

#: Bumped when the checkpoint layout changes incompatibly.
FORMAT_VERSION = 1


class CheckpointError(RuntimeError):
    """A checkpoint file that is missing, unreadable or from an incompatible version."""


def save_checkpoint(path: str | Path, state: dict[str, Any]) -> Path:
    """Atomically write ``state`` (plus the format version) to ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save({"format_version": FORMAT_VERSION, **state}, tmp)
    os.replace(tmp, path)
    return path


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Read a checkpoint written by :func:`save_checkpoint`.

    Checkpoints hold numpy arrays and RNG states, so they are unpickled in full
    (``weights_only=False``): load only checkpoints you or your own runs wrote.

    Raises:
        CheckpointError: when the file is missing, not a checkpoint, or of another version.
    """
    path = run_file(path, CHECKPOINT, CheckpointError)
    try:
        state = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:
        raise CheckpointError(f"cannot read checkpoint {path}: {exc}") from exc
    version = state.get("format_version") if isinstance(state, dict) else None
    if version != FORMAT_VERSION:
        raise CheckpointError(
            f"{path} has checkpoint format {version!r}, this version reads {FORMAT_VERSION}; "
            "retrain, or evaluate it with the agentic-rl version that wrote it"
        )
    return state
