"""The policy library: trained policies kept side by side, ready to be selected and deployed.

A library is a folder::

    <root>/library.json                 format marker
    <root>/entries/<name>/entry.json    task id, description, figures, source, notes
    <root>/entries/<name>/bundle/       the PolicyBundle (copied; robustness/ included)
    <root>/entries/<name>/scenes/       a few scene images rendered from the task
    <root>/selector/                    the offline selector (``train-selector``)

Entries come from a PolicyBundle folder, a refinement run folder (its ``best/`` bundle and
``summary.json``) or a training run folder (exported to a bundle on the way in). The figures
an entry keeps are the ones a user choosing between policies looks at: the run's success rate
and, when ``agentic-rl robustness`` has written a ``robustness.json`` next to the bundle, the
nominal and joint-randomization success and the per-parameter safe ranges.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

LIBRARY_FORMAT = "agentic-rl/policy-library"
LIBRARY_VERSION = 1
#: Library folder when neither ``--library`` nor ``$AGENTIC_RL_LIBRARY`` names one.
DEFAULT_ROOT = "policy_library"
ENV_VAR = "AGENTIC_RL_LIBRARY"
#: Scene images kept per entry (rendered from the task's overview camera, seeds 0..n-1).
SCENE_IMAGES = 3
SCENE_SIZE = (320, 240)
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,63}$")


class LibraryError(ValueError):
    """A library, entry or source that cannot be used as asked."""


class RobustnessFigures(BaseModel):
    """The headline numbers of a ``robustness.json`` (absent ones stay ``None``)."""

    model_config = ConfigDict(extra="forbid")

    nominal_success: float | None = None
    joint_success: float | None = Field(
        None, description="Success under joint randomization at the safe ranges."
    )
    safe_ranges: dict[str, tuple[float, float]] = Field(default_factory=dict)
    transfer: dict[str, float] = Field(
        default_factory=dict, description="Success rate per transfer physics configuration."
    )
    report: str = Field("", description="Path of the report, relative to the entry.")


class LibraryEntry(BaseModel):
    """One policy of the library (``entry.json``)."""

    model_config = ConfigDict(extra="forbid")

    name: str
    task_id: str
    robot: str
    description: str
    success_criterion: str = ""
    action_mode: str
    control_hz: float
    source: str = Field(description="Where the policy was added from (absolute path).")
    added: str
    policy_sha256: str = Field(
        description="Hash of the task id and the bundle's weights (duplicate check)."
    )
    success_rate: float | None = Field(None, description="Evaluation success of the run.")
    robustness: RobustnessFigures | None = None
    notes: str = ""
    scenes: list[str] = Field(default_factory=list, description="Scene images, entry-relative.")

    @property
    def quality(self) -> float:
        """One number in [0, 1] for ordering policies of the same task (robust success
        first, then nominal, then the run's success)."""
        r = self.robustness
        for value in (
            r.joint_success if r else None,
            r.nominal_success if r else None,
            self.success_rate,
        ):
            if value is not None:
                return float(value)
        return 0.0

    def card_text(self) -> str:
        """The task card an LLM selector reads."""
        lines = [
            f"policy: {self.name}",
            f"task: {self.task_id} ({self.robot}, {self.action_mode} actions)",
            f"goal: {self.description}",
        ]
        if self.success_criterion:
            lines.append(f"success: {self.success_criterion}")
        if self.notes:
            lines.append(f"notes: {self.notes}")
        figures = []
        if self.success_rate is not None:
            figures.append(f"success {self.success_rate:.0%}")
        if self.robustness and self.robustness.joint_success is not None:
            figures.append(f"randomized-physics success {self.robustness.joint_success:.0%}")
        if figures:
            lines.append("figures: " + ", ".join(figures))
        return "\n".join(lines)


class Library:
    """A policy library folder.

    Args:
        root: the folder (created on the first :meth:`add`); default ``$AGENTIC_RL_LIBRARY``
            or ``./policy_library``.
    """

    def __init__(self, root: str | Path | None = None) -> None:
        self.root = Path(root or os.environ.get(ENV_VAR) or DEFAULT_ROOT)
        marker = self.root / "library.json"
        if marker.is_file():
            meta = json.loads(marker.read_text())
            if meta.get("format") != LIBRARY_FORMAT:
                raise LibraryError(
                    f"{self.root} holds {meta.get('format')!r}, not a policy library; choose "
                    "another --library folder"
                )
        elif self.root.is_dir() and any(self.root.iterdir()):
            raise LibraryError(
                f"{self.root} exists, is not empty and is not a policy library; choose an "
                "empty or new --library folder"
            )

    @property
    def entries_dir(self) -> Path:
        return self.root / "entries"

    @property
    def selector_dir(self) -> Path:
        """Where ``train-selector`` writes the offline selector."""
        return self.root / "selector"

    # ------------------------------------------------------------------ read
    def entries(self) -> list[LibraryEntry]:
        """Every entry, by name."""
        if not self.entries_dir.is_dir():
            return []
        out = []
        for d in sorted(self.entries_dir.iterdir()):
            if (d / "entry.json").is_file():
                out.append(LibraryEntry.model_validate_json((d / "entry.json").read_text()))
        return out

    def get(self, name: str) -> LibraryEntry:
        """The entry called ``name``.

        Raises:
            LibraryError: naming the entries there are.
        """
        path = self.entries_dir / name / "entry.json"
        if not _NAME.match(name) or not path.is_file():
            names = [e.name for e in self.entries()]
            raise LibraryError(
                f"no policy {name!r} in the library at {self.root}; it has {names or 'none'}"
            )
        return LibraryEntry.model_validate_json(path.read_text())

    def bundle_dir(self, name: str) -> Path:
        """The PolicyBundle folder of an entry."""
        self.get(name)
        return self.entries_dir / name / "bundle"

    def entry_dir(self, name: str) -> Path:
        return self.entries_dir / name

    def task_ids(self) -> list[str]:
        """The distinct task ids of the entries, sorted."""
        return sorted({e.task_id for e in self.entries()})

    # ------------------------------------------------------------------ write
    def add(
        self,
        source: str | Path,
        *,
        name: str | None = None,
        notes: str = "",
        scene_images: int = SCENE_IMAGES,
    ) -> LibraryEntry:
        """Add a policy from a bundle, a refinement run or a training run folder.

        Args:
            source: a PolicyBundle folder (``bundle.json``), a run folder of ``agentic-rl
                refine`` (its ``best/`` bundle) or of ``agentic-rl train`` (exported here).
            name: entry name (default: the task's short name, made unique with ``-2`` ...).
            notes: free text kept with the entry (the text matcher reads it too).
            scene_images: scene images to render from the task.

        Raises:
            LibraryError: for a source that holds no policy, an invalid or taken name, or a
                policy that is already in the library.
        """
        from agentic_rl.export import BundleError, load_bundle

        if name is not None:
            _check_name(name)
        src = Path(source).resolve()
        if not src.exists():
            raise LibraryError(f"{source} does not exist; pass a run folder or a PolicyBundle")
        self._init()
        with tempfile.TemporaryDirectory(dir=self.root, prefix=".add-") as tmp:
            staged = Path(tmp) / "entry"
            bundle_src, run_dir = self._bundle_source(src, Path(tmp) / "exported")
            try:
                bundle = load_bundle(bundle_src)
            except BundleError as exc:
                raise LibraryError(f"{bundle_src} is not a usable PolicyBundle: {exc}") from None
            # the same weights on another task are another policy (zero-initialized ones are)
            digest = hashlib.sha256(
                bundle.task_id.encode() + (bundle_src / "weights.npz").read_bytes()
            ).hexdigest()
            for e in self.entries():
                if e.policy_sha256 == digest:
                    raise LibraryError(
                        f"this policy is already in the library as {e.name!r} (added from "
                        f"{e.source}); remove it first to add it again"
                    )
            import sims

            task_id = bundle.task_id
            try:
                spec = sims.get_spec(task_id, bundle.meta.action.mode)
                success_text = spec.success
            except Exception:  # a plugin task not installed here: the bundle's text suffices
                spec, success_text = None, ""
            entry_name = name or self._free_name(task_id)
            if (self.entries_dir / entry_name).exists():
                raise LibraryError(
                    f"the library already has an entry {entry_name!r}; pass --name to choose "
                    "another, or remove it first"
                )
            shutil.copytree(bundle_src, staged / "bundle")
            figures = robustness_figures(staged / "bundle", run_dir)
            scenes = (
                render_scenes(task_id, staged / "scenes", scene_images)
                if spec is not None and scene_images > 0
                else []
            )
            entry = LibraryEntry(
                name=entry_name,
                task_id=task_id,
                robot=str(bundle.meta.task.robot),
                description=str(bundle.meta.task.description),
                success_criterion=success_text,
                action_mode=str(bundle.meta.action.mode),
                control_hz=bundle.control_hz,
                source=str(src),
                added=datetime.now(UTC).isoformat(timespec="seconds"),
                policy_sha256=digest,
                success_rate=run_success(run_dir) if run_dir is not None else None,
                robustness=figures,
                notes=notes,
                scenes=[str(s.relative_to(staged)) for s in scenes],
            )
            (staged / "entry.json").write_text(entry.model_dump_json(indent=2))
            self.entries_dir.mkdir(exist_ok=True)
            # one rename: a failed add leaves nothing half-written behind
            staged.rename(self.entries_dir / entry_name)
        return entry

    def remove(self, name: str) -> LibraryEntry:
        """Remove an entry (its bundle and images). The selector stays valid: it only loses
        a choice (retrain to drop the task from the classifier)."""
        entry = self.get(name)
        shutil.rmtree(self.entries_dir / name)
        return entry

    # ------------------------------------------------------------------ helpers
    def _init(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        marker = self.root / "library.json"
        if not marker.exists():
            marker.write_text(
                json.dumps({"format": LIBRARY_FORMAT, "version": LIBRARY_VERSION}, indent=2)
            )

    def _free_name(self, task_id: str) -> str:
        base = task_id.split("/")[-1].rsplit("-v", 1)[0]
        base = re.sub(r"[^A-Za-z0-9_.-]", "_", base) or "policy"
        if not base[0].isalpha():
            base = "p" + base
        name, k = base, 2
        while (self.entries_dir / name).exists():
            name, k = f"{base}-{k}", k + 1
        return name

    def _bundle_source(self, src: Path, export_to: Path) -> tuple[Path, Path | None]:
        """(bundle folder, run folder or None) for a source path."""
        if (src / "bundle.json").is_file():
            parent = src.parent
            return src, parent if (parent / "summary.json").is_file() else None
        if (src / "best" / "bundle.json").is_file():
            return src / "best", src
        if (src / "summary.json").is_file():
            raise LibraryError(
                f"run {src} has no best/ bundle yet (no candidate trained successfully); "
                "let the run finish or resume it"
            )
        config = src / "config.json"
        if config.is_file() and (
            (src / "policy.npz").is_file() or (src / "checkpoint.pt").is_file()
        ):
            task_id = json.loads(config.read_text()).get("task_id")
            if not task_id:
                raise LibraryError(f"{config} names no task_id; export a bundle with --task")
            from agentic_rl.export import export_bundle

            export_bundle(src, task_id, export_to, golden_episodes=1)
            return export_to, src
        raise LibraryError(
            f"{src} holds no policy: pass a PolicyBundle folder (bundle.json), an `agentic-rl "
            "refine` run folder (best/) or an `agentic-rl train` run folder (policy.npz)"
        )


def _check_name(name: str) -> None:
    if not _NAME.match(name):
        raise LibraryError(
            f"entry name {name!r} is invalid: start with a letter, then letters, digits, '_', "
            "'-' or '.', at most 64 characters"
        )


def run_success(run_dir: Path) -> float | None:
    """Success rate recorded by a run: ``summary.json`` (refine) or ``eval.json`` (train)."""
    summary = run_dir / "summary.json"
    if summary.is_file():
        final = json.loads(summary.read_text()).get("final") or {}
        value = final.get("success_rate")
        return float(value) if value is not None else None
    ev = run_dir / "eval.json"
    if ev.is_file():
        value = json.loads(ev.read_text()).get("success_rate")
        return float(value) if value is not None else None
    return None


def robustness_figures(bundle_dir: Path, run_dir: Path | None) -> RobustnessFigures | None:
    """The headline numbers of the first ``robustness.json`` found next to the bundle.

    Read as plain JSON (fields looked up one by one, absent ones skipped), so a report of a
    newer layout still yields what it shares with this one.
    """
    candidates = [bundle_dir / "robustness" / "robustness.json", bundle_dir / "robustness.json"]
    if run_dir is not None:
        candidates += [run_dir / "robustness" / "robustness.json", run_dir / "robustness.json"]
    for path in candidates:
        if not path.is_file():
            continue
        try:
            data = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        return _figures(data, path, bundle_dir)
    return None


def _figures(data: dict[str, Any], path: Path, bundle_dir: Path) -> RobustnessFigures:
    sweep = data.get("sweep") or {}
    transfer = data.get("transfer") or {}
    ranges = {}
    for param in sweep.get("params") or []:
        rng = param.get("safe_range")
        if isinstance(param, dict) and isinstance(rng, (list, tuple)) and len(rng) == 2:
            ranges[str(param.get("name"))] = (float(rng[0]), float(rng[1]))
    joint = sweep.get("joint") or []
    rows = {}
    for row in transfer.get("rows") or []:
        cfg = row.get("config")
        label = cfg.get("name") if isinstance(cfg, dict) else cfg
        if label is not None and row.get("success_rate") is not None:
            rows[str(label)] = float(row["success_rate"])
    nominal = sweep.get("nominal_success", transfer.get("nominal_success"))
    try:
        rel = str(path.relative_to(bundle_dir.parent))
    except ValueError:
        rel = str(path)
    return RobustnessFigures(
        nominal_success=float(nominal) if nominal is not None else None,
        joint_success=float(joint[0]["success_rate"])
        if joint and isinstance(joint[0], dict) and joint[0].get("success_rate") is not None
        else None,
        safe_ranges=ranges,
        transfer=rows,
        report=rel,
    )


def render_scenes(task_id: str, out_dir: Path, n: int) -> list[Path]:
    """``n`` overview images of a task (seeds 0..n-1) as PNGs in ``out_dir``."""
    from PIL import Image

    import sims

    out_dir.mkdir(parents=True, exist_ok=True)
    env = sims.make(task_id)
    paths = []
    try:
        for seed in range(n):
            env.reset(seed=seed)
            path = out_dir / f"scene_{seed}.png"
            Image.fromarray(env.unwrapped.scene_image(*SCENE_SIZE)).save(path)
            paths.append(path)
    finally:
        env.close()
    return paths
