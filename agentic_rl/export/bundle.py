"""The PolicyBundle writer: everything a robot needs to run a trained policy, in one folder.

A bundle (DESIGN.md, "PolicyBundle") is read by :mod:`ros_bridge` with numpy and onnxruntime
only, so everything the runtime must know about the task is resolved here, where ``sims`` and
torch are available, and written down as data:

* ``policy.onnx``: normalization, actor and action clip in one float64 graph;
* ``weights.npz``: the same policy as arrays (the numpy fallback);
* ``golden.npz``: observation/action pairs from seeded simulated episodes, which the robot
  replays at start-up (SELF_TEST) before it may move;
* ``bundle.json``: the observation layout (names, shapes, units, frames, offsets), the action
  spec, how a normalized action becomes a physical command (speed limits, joint steps), the
  robot model the runtime needs (the arm's kinematic chain and joint limits, the drone's flight
  box), the task constants, reward hash, training config and library versions, and the
  policy's held-out success (nominal and randomized physics, on test seeds) -- a typed
  :class:`ros_bridge.meta.BundleMeta`, defined on the robot side;
* ``reward.py``: the reward program the policy was trained with.

A policy whose held-out success is below ``min_success`` is refused unless ``force``.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import platform
import shutil
import tempfile
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from agentic_rl import seeds
from agentic_rl.export.onnx_export import INPUT_NAME, OPSET, OUTPUT_NAME, export_onnx
from agentic_rl.ppo.networks import Policy
from ros_bridge.meta import (
    BUNDLE_FORMAT,
    BUNDLE_VERSION,
    ActionMeta,
    BundleMeta,
    EvaluationMeta,
    FieldMeta,
    GoldenMeta,
    ObservationMeta,
    PolicyMeta,
    RewardMeta,
    TaskMeta,
)
from sims.rollout import run_episodes

__all__ = [
    "BUNDLE_FORMAT",
    "BUNDLE_VERSION",
    "ExportError",
    "export_bundle",
    "record_evaluation",
    "urdf_chain",
]
#: At most this many golden pairs are kept (evenly spaced), so start-up self-tests stay fast.
MAX_GOLDEN_PAIRS = 256
#: Tolerance the runtime's self-test applies to golden actions.
GOLDEN_ATOL = 1e-5

PolicySource = Policy | str | Path


class ExportError(ValueError):
    """A policy or task that cannot be written as a PolicyBundle."""


class BelowThresholdError(ExportError):
    """A policy whose held-out success is below the export threshold (``force`` overrides)."""


def export_bundle(
    policy_or_checkpoint: PolicySource,
    task_id: str,
    out_dir: str | Path,
    *,
    reward_source: str | None = None,
    train_config: dict[str, Any] | None = None,
    golden_episodes: int = 2,
    action_mode: str | None = None,
    evaluate_episodes: int = 0,
    min_success: float = 0.0,
    force: bool = False,
) -> Path:
    """Write a PolicyBundle folder for a trained policy.

    Args:
        policy_or_checkpoint: a :class:`Policy`, or a path to a ``checkpoint.pt``, a training
            run folder or a ``policy.npz``.
        task_id: the task the policy was trained on (any name :func:`sims.resolve` accepts).
        out_dir: bundle folder to create (existing bundle files in it are replaced).
        reward_source: text of the reward program; when ``None`` and the policy comes from a
            run folder with a ``reward.py``, that file is used.
        train_config: the resolved training config to record; when ``None`` and the policy
            comes from a run folder, its ``config.json`` is used.
        golden_episodes: seeded simulated episodes whose observation/action pairs go into
            ``golden.npz`` (at least 1).
        action_mode: the task's action mode the policy was trained with (default: the
            task's default mode, which is what ``agentic_rl.ppo.train`` uses).
        evaluate_episodes: held-out episodes (test seeds) run with nominal and with randomized
            physics; their success rates go into ``bundle.json`` (0: not evaluated).
        min_success: refuse a policy whose nominal held-out success is below this.
        force: write the bundle anyway (recorded as ``evaluation.forced``).

    Returns:
        The bundle folder.

    Raises:
        ExportError: when the policy does not fit the task (observation or action size).
        BelowThresholdError: when its held-out success is below ``min_success`` and not
            ``force`` (nothing is written).
    """
    import sims

    if golden_episodes < 1:
        raise ExportError(f"golden_episodes must be >= 1, got {golden_episodes}")
    policy = _as_policy(policy_or_checkpoint)
    run_dir = _run_dir(policy_or_checkpoint)
    if run_dir is not None:
        if reward_source is None and (run_dir / "reward.py").is_file():
            reward_source = (run_dir / "reward.py").read_text()
        if train_config is None and (run_dir / "config.json").is_file():
            train_config = json.loads((run_dir / "config.json").read_text())
    task_id, _ = sims.resolve(task_id)
    spec = sims.get_spec(task_id, action_mode)
    if policy.obs_mean.size != spec.obs_size:
        raise ExportError(
            f"the policy takes {policy.obs_mean.size} observation values but {task_id} "
            f"({spec.action.mode} mode) has {spec.obs_size}; was it trained on another task?"
        )
    act_size = math.prod(spec.action.shape)
    if policy.action_low.size != act_size:
        raise ExportError(
            f"the policy outputs {policy.action_low.size} actions but {task_id} in "
            f"{spec.action.mode} mode takes {act_size}; pass the action_mode it was trained in"
        )
    if min_success > 0.0 and evaluate_episodes < 1:
        raise ExportError("min_success needs evaluate_episodes >= 1 to measure the success")
    evaluation = None
    if evaluate_episodes > 0:
        evaluation = _evaluate(policy, task_id, spec.action.mode, evaluate_episodes, min_success)
        if evaluation.success_nominal < min_success:
            if not force:
                raise BelowThresholdError(
                    f"the policy succeeds in {evaluation.success_nominal:.0%} of "
                    f"{evaluate_episodes} held-out episodes of {task_id} (randomized physics: "
                    f"{evaluation.success_randomized:.0%}), below the export threshold "
                    f"{min_success:.0%}; train further, or export anyway (--force, force=True)"
                )
            evaluation = EvaluationMeta(**{**evaluation.__dict__, "forced": True})
    command = _command_model(task_id, spec)
    out = Path(out_dir)
    # Built in a temporary folder and moved into place at the end: a failure (a task hook
    # that raises, a full disk) leaves no half-written bundle behind.
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        export_onnx(policy, tmp / "policy.onnx")
        policy.save(tmp / "weights.npz")
        golden = _golden_pairs(policy, task_id, spec.action.mode, golden_episodes)
        np.savez(tmp / "golden.npz", **golden)
        reward_text = reward_source if reward_source is not None else _NO_REWARD
        (tmp / "reward.py").write_text(reward_text)
        observe = _observation_function(task_id, spec, tmp)
        meta = _bundle_meta(
            policy, task_id, spec, golden, reward_source, train_config, evaluation, observe
        )
        meta = replace(meta, command=command)  # checked above, before anything was written
        (tmp / "bundle.json").write_text(json.dumps(meta.to_dict(), indent=2, allow_nan=False))
        _move_into(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def _move_into(tmp: Path, out: Path) -> None:
    """Move a finished bundle into ``out``: a rename when ``out`` is new, else entry by entry
    (replacing the bundle's own files and keeping anything else the folder holds)."""
    if not out.exists():
        tmp.rename(out)
        return
    for entry in tmp.iterdir():
        dest = out / entry.name
        if dest.is_dir() and not dest.is_symlink():
            shutil.rmtree(dest)
        os.replace(entry, dest)


def record_evaluation(bundle_dir: str | Path, evaluation: EvaluationMeta) -> None:
    """Write a held-out success measured elsewhere into an exported bundle's ``bundle.json``.

    The refinement loop exports its best policy when it is selected and judges it on test
    seeds only when it stops; this records that verdict in the bundle without exporting (or
    evaluating) again.

    Raises:
        ExportError: when ``bundle_dir`` holds no readable ``bundle.json``.
    """
    path = Path(bundle_dir) / "bundle.json"
    try:
        meta = BundleMeta.from_dict(json.loads(path.read_text()), str(path))
    except (OSError, ValueError) as exc:
        raise ExportError(f"cannot record the evaluation in {path}: {exc}") from exc
    meta = replace(meta, evaluation=evaluation)
    path.write_text(json.dumps(meta.to_dict(), indent=2, allow_nan=False))


def _evaluate(
    policy: Policy, task_id: str, action_mode: str, episodes: int, min_success: float
) -> EvaluationMeta:
    """Success on test seeds (never used by training or selection), nominal and randomized."""
    import sims

    test_seeds = seeds.TEST.seeds(episodes)
    rates = []
    for randomize in (False, True):
        env = sims.make(task_id, action_mode=action_mode, randomize=randomize)
        try:
            runs = run_episodes(env, policy.act, test_seeds)
        finally:
            env.close()
        rates.append(sum(r.success for r in runs) / len(runs))
    return EvaluationMeta(
        episodes=episodes,
        seeds=tuple(test_seeds),
        success_nominal=rates[0],
        success_randomized=rates[1],
        min_success=min_success,
    )


_NO_REWARD = (
    "# The reward program was not recorded when this bundle was exported.\n"
    "# (export_bundle(..., reward_source=...) stores it here.)\n"
)


def _as_policy(source: PolicySource) -> Policy:
    if isinstance(source, Policy):
        return source
    if isinstance(source, (str, Path)):
        from agentic_rl.ppo.evaluate import load_policy

        path = Path(source)
        if not path.exists():
            raise ExportError(f"no policy at {path}: pass a checkpoint, run folder or policy.npz")
        return load_policy(path)
    raise ExportError(
        f"policy_or_checkpoint must be a Policy or a path, got {type(source).__name__}"
    )


def _run_dir(source: PolicySource) -> Path | None:
    if isinstance(source, Policy):
        return None
    path = Path(source)
    return path if path.is_dir() else path.parent


def _golden_pairs(
    policy: Policy, task_id: str, action_mode: str, episodes: int
) -> dict[str, np.ndarray]:
    """Observation/action pairs of the deterministic policy on seeded nominal episodes."""
    import sims

    env = sims.make(task_id, action_mode=action_mode)
    try:
        runs = run_episodes(env, policy.act, seeds.GOLDEN.seeds(episodes), record=True)
    finally:
        env.close()
    obs_rows = [o for run in runs for o in run.observations]
    act_rows = [a for run in runs for a in run.actions]
    episode_ids = [ep for ep, run in enumerate(runs) for _ in range(run.length)]
    keep = np.unique(np.linspace(0, len(obs_rows) - 1, min(MAX_GOLDEN_PAIRS, len(obs_rows))))
    keep = keep.astype(int)
    return {
        "obs": np.asarray(obs_rows)[keep],
        "action": np.asarray(act_rows)[keep],
        "episode": np.asarray(episode_ids)[keep],
        "seeds": np.asarray(seeds.GOLDEN.seeds(episodes)),
    }


def _bundle_meta(
    policy: Policy,
    task_id: str,
    spec: Any,
    golden: dict[str, np.ndarray],
    reward_source: str | None,
    train_config: dict[str, Any] | None,
    evaluation: EvaluationMeta | None,
    observe: dict[str, Any],
) -> BundleMeta:
    import agentic_rl
    import sims

    fields, offset = [], 0
    for f in spec.state_fields:
        fields.append(
            FieldMeta(
                name=f.name,
                shape=tuple(f.shape),
                size=f.size,
                offset=offset,
                unit=f.unit,
                frame=f.frame,
                description=f.description,
            )
        )
        offset += f.size
    return BundleMeta(
        created=datetime.now(UTC).isoformat(timespec="seconds"),
        task=TaskMeta(
            id=task_id,
            path=sims.recorded_path(task_id),
            robot=spec.robot,
            description=spec.description,
            control_hz=spec.control_hz,
            max_episode_steps=spec.max_episode_steps,
            constants=dict(spec.constants),
            **observe,
        ),
        observation=ObservationMeta(size=spec.obs_size, fields=tuple(fields)),
        action=ActionMeta(
            mode=spec.action.mode,
            shape=tuple(spec.action.shape),
            low=tuple(spec.action.low),
            high=tuple(spec.action.high),
            components=tuple(spec.action.components),
            description=spec.action.description,
        ),
        command={},  # export_bundle's, checked before anything is written
        policy=PolicyMeta(
            onnx="policy.onnx",
            weights="weights.npz",
            input=INPUT_NAME,
            output=OUTPUT_NAME,
            dtype="float64",
            opset=OPSET,
            activation=policy.activation,
            layers=tuple(tuple(w.shape) for w, _ in policy.actor),
            normalization={
                "mean": policy.obs_mean.tolist(),
                "std": policy.obs_std.tolist(),
                "clip": policy.clip_obs if np.isfinite(policy.clip_obs) else None,
            },
        ),
        golden=GoldenMeta(
            file="golden.npz",
            pairs=int(golden["obs"].shape[0]),
            seeds=tuple(int(s) for s in golden["seeds"]),
            atol=GOLDEN_ATOL,
        ),
        reward=RewardMeta(
            file="reward.py",
            sha256=hashlib.sha256(reward_source.encode()).hexdigest()
            if reward_source is not None
            else None,
        ),
        train_config=train_config,
        versions=_versions(agentic_rl.__version__),
        evaluation=evaluation,
    )


def _observation_function(task_id: str, spec: Any, out: Path) -> dict[str, Any]:
    """Vendor the task's pure functions into ``out/tasklib``: their names and a default layout.

    The functions a robot runs (``observe``, ``from_measurement``, ``track``: see
    ``sims.deployed_functions``) are copied with their modules (and the ``sims`` modules
    those import) as files, with empty package ``__init__`` files, so the robot imports exactly
    the simulator's functions without the rest of the task (PyBullet). The layout is that of
    the first golden episode: a course the policy flew in simulation; a robot flies the course
    measured into its own layout. A task that declares no ``from_measurement`` does not deploy
    (the runtime says so).
    """
    import sims

    functions = sims.deployed_functions(task_id)
    if "observe" not in functions or "from_measurement" not in functions:
        return {}
    tasklib = out / "tasklib"
    if tasklib.exists():
        shutil.rmtree(tasklib)
    modules = {m: Path(path) for m, _, path in functions.values()}
    for path in list(modules.values()):
        modules.update(dict(_sims_imports(path)))
    for name, file in modules.items():
        dest = tasklib.joinpath(*name.split("."))
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(file, dest.with_suffix(".py"))
        for parent in dest.relative_to(tasklib).parents:
            init = tasklib / parent / "__init__.py"
            if parent != Path(".") and not init.exists():
                init.write_text('"""Vendored for the robot: only the pure observe modules."""\n')
    env = sims.make(task_id, action_mode=spec.action.mode)
    try:
        env.reset(seed=seeds.GOLDEN.first())
        layout = json.loads(json.dumps(getattr(env.unwrapped, "layout", {}) or {}))
    finally:
        env.close()
    names = {attr: f"{m}:{fn}" for attr, (m, fn, _) in functions.items()}
    return {**names, "layout": layout}


def _sims_imports(path: Path) -> list[tuple[str, Path]]:
    """The ``sims`` modules a vendorable observe module imports (``sims.drone.observe``)."""
    import ast
    import importlib.util

    out = []
    for node in ast.parse(path.read_text()).body:
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        for n in names:
            found = importlib.util.find_spec(n) if n.startswith("sims.") else None
            if found is not None and found.origin and Path(found.origin) != path:
                out.append((n, Path(found.origin)))
    return out


def _command_model(task_id: str, spec: Any) -> dict[str, Any]:
    """How the runtime turns a normalized action into a physical command: the task's own
    declaration (``SimTask.command_model``), so export names no robot.

    Raises:
        ExportError: when the task's ``command_model`` is missing, fails or returns no
            mapping with ``robot`` and ``kind``.
    """
    import sims

    hook = getattr(sims.task_class(task_id), "command_model", None)
    fix = (
        "; declare `command_model(cls, action_mode=None)` returning a dict with 'robot' and "
        "'kind' (README, 'Deploying a custom task')"
    )
    if not callable(hook):
        raise ExportError(f"{task_id}: [command_model] is {hook!r}, not a classmethod{fix}")
    try:
        command = hook(spec.action.mode)
    except Exception as exc:  # the task's own code: report it with the hook's name
        raise ExportError(
            f"{task_id}: [command_model] raised {type(exc).__name__}: {exc}{fix}"
        ) from exc
    if not isinstance(command, dict) or not {"robot", "kind"} <= set(command):
        raise ExportError(f"{task_id}: [command_model] returned {command!r}{fix}")
    return command


def urdf_chain(urdf_path: str | Path, tip_link: str) -> list[dict[str, Any]]:
    """The joints from a URDF's root link to ``tip_link``, root first (see
    :func:`sims.urdf.urdf_chain`).

    Raises:
        ExportError: when ``tip_link`` is not in the URDF.
    """
    from sims.urdf import urdf_chain as chain

    try:
        return chain(urdf_path, tip_link)
    except ValueError as exc:
        raise ExportError(str(exc)) from None


def _versions(agentic_rl_version: str) -> dict[str, str]:
    import onnx
    import torch

    out = {
        "agentic_rl": agentic_rl_version,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "torch": torch.__version__,
        "onnx": onnx.__version__,
    }
    try:
        import onnxruntime

        out["onnxruntime"] = onnxruntime.__version__
    except ImportError:  # the numpy fallback still works; record that ORT was absent
        out["onnxruntime"] = "not installed"
    return out
