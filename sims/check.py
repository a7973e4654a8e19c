"""`check_task`: what a task author runs before training a new task.

``agentic-rl tasks check package.module:Class`` (or :func:`check_task` from Python) loads the
task, builds its spec for every action mode (every declaration checked), runs gymnasium's
``check_env``, then a short seeded rollout with random actions that checks what ``observe``
returns, the termination reasons and metrics the hooks report, the layout, and that the
declared success criteria agree with the episode's ground-truth success. Every problem names
the task, the hook and the field.
"""

from __future__ import annotations

import ast
import inspect
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sims.errors import TaskError
from sims.registry import DEPLOYED_FUNCTIONS
from sims.semantics import evaluate_criteria

#: Modules an observe module may import and still run on a robot (vendored as files).
VENDORABLE = {"__future__", "math", "numpy", "collections", "typing", "dataclasses"}
VENDORABLE_SIMS = {"sims.drone.observe", "sims.arm.observe"}


#: Why a PyBullet task is usually not deterministic across resets, and the fix.
NONDETERMINISTIC_HINT = (
    "PyBullet keeps contact points (and their solver warm start) across restoreState, so a "
    "body resting on another starts each episode differently: in _reset_task move such "
    "bodies clear (e.g. 10 m up), call p.performCollisionDetection(physicsClientId="
    "self.client), then place them"
)


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a task: where (hook, field) and what."""

    hook: str
    field: str | None
    message: str

    def __str__(self) -> str:
        where = f"{self.hook}" + (f", field {self.field!r}" if self.field else "")
        return f"[{where}] {self.message}"


@dataclass
class CheckReport:
    """What :func:`check_task` found. ``ok`` when there are no problems."""

    task: str
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def add(self, exc: BaseException, hook: str) -> None:
        if isinstance(exc, TaskError):
            self.problems.append(Problem(exc.hook, exc.field, exc.problem))
        else:
            self.problems.append(Problem(hook, None, f"{type(exc).__name__}: {exc}"))


def check_task(name: str, episodes: int = 2, seed: int = 0) -> CheckReport:
    """Check a task end to end (see module docstring).

    Args:
        name: a task id, short name or ``package.module:Class``.
        episodes: scripted episodes to run (random actions, seeded).
        seed: seed of the first episode and of the actions.

    Returns:
        The report; it never raises for a broken task.
    """
    from sims.registry import task_class

    report = CheckReport(task=name)
    try:
        cls = task_class(name)
    except Exception as exc:
        report.add(exc, "load")
        return report
    specs = []
    for mode in cls.ACTION_MODES or (None,):
        try:
            specs.append(cls.build_spec(mode))
        except Exception as exc:
            report.add(exc, "build_spec")
    if not specs:
        if not report.problems:
            report.problems.append(Problem("ACTION_MODES", None, "the task has no action mode"))
        return report
    spec = specs[0]
    report.task = spec.id
    report.notes.append(
        f"spec: {len(spec.state_fields)} fields ({spec.obs_size} values), "
        f"{_count(len(spec.success_criteria), 'success criterion', 'success criteria')}, "
        f"{_count(len(spec.hazards), 'hazard', 'hazards')}, "
        f"action modes {list(cls.ACTION_MODES)}"
    )
    _check_observe_module(cls, report)
    try:
        env = cls()
    except Exception as exc:
        report.add(exc, "__init__ / _build_world")
        return report
    try:
        _run_check_env(env, report)
        if report.ok:
            _rollout(env, episodes, seed, report)
    finally:
        env.close()
    return report


def _run_check_env(env: Any, report: CheckReport) -> None:
    from gymnasium.utils.env_checker import check_env

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # gymnasium warns about infinite Box bounds
        try:
            check_env(env, skip_render_check=True)
        except Exception as exc:
            report.add(exc, "check_env")
            if "Deterministic" in str(exc):
                report.problems.append(Problem("_reset_task", None, NONDETERMINISTIC_HINT))
            return
    report.notes.append("gymnasium check_env: passed")


def _rollout(env: Any, episodes: int, seed: int, report: CheckReport) -> None:
    spec = env.task_spec
    rng = np.random.default_rng(seed)
    reasons: dict[str, int] = {}
    for ep in range(episodes):
        try:
            obs, info = env.reset(seed=seed + ep)
            states = [info["state"]]
            while True:
                action = rng.uniform(-1.0, 1.0, env.action_space.shape)
                obs, _, terminated, truncated, info = env.step(action)
                if not np.all(np.isfinite(obs)):
                    bad = [k for k, v in info["state"].items() if not np.all(np.isfinite(v))]
                    report.problems.append(
                        Problem("observe", bad[0] if bad else None, "non-finite observation")
                    )
                    return
                states.append(info["state"])
                if terminated or truncated:
                    break
        except Exception as exc:
            report.add(exc, "step")
            return
        reason = str(info["termination_reason"])
        reasons[reason] = reasons.get(reason, 0) + 1
        results = evaluate_criteria(spec, states, info["task_metrics"])
        verdicts = [r.passed for r in results if r.passed is not None]
        met = bool(verdicts) and all(verdicts)
        # an episode a hazard ended may have met the criteria until then: only a success that
        # misses a criterion, or a time-limit ending that meets them all, is a contradiction
        if reason in spec.failure_reasons and not info["is_success"]:
            continue
        if bool(info["is_success"]) != met:
            detail = "; ".join(r.text for r in results)
            report.problems.append(
                Problem(
                    "SUCCESS_CRITERIA / success_criteria",
                    None,
                    f"episode {ep} (seed {seed + ep}) ended {reason!r} with is_success="
                    f"{bool(info['is_success'])}, but the declared criteria say "
                    f"{'met' if met else 'missed'}: {detail}",
                )
            )
    report.notes.append(
        f"scripted rollout: {episodes} episodes with random actions, endings {reasons}; "
        "observe, layout, termination reasons, metrics and success criteria consistent"
        if report.ok
        else f"scripted rollout: endings {reasons}"
    )


def _check_observe_module(cls: Any, report: CheckReport) -> None:
    """The functions a robot runs (observe, from_measurement, track) must live in modules that
    import only what a robot has (numpy, math, the shared observe modules), or the ROS side
    cannot vendor them."""
    if cls.observe is None:
        report.notes.append("observe: none (the task overrides _write_state; not deployable)")
        return
    if cls.from_measurement is None:
        report.notes.append(
            "from_measurement: none (the task does not deploy to ROS; set from_measurement "
            "and to_measurement, see README, Custom tasks)"
        )
    for attr in DEPLOYED_FUNCTIONS:
        fn = getattr(cls, attr, None)
        if fn is None:
            continue
        try:
            path = inspect.getsourcefile(fn)
            tree = ast.parse(Path(path).read_text())  # type: ignore[arg-type]
        except (TypeError, OSError, SyntaxError):
            continue
        bad = []
        for node in tree.body:
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for n in names:
                if n.split(".")[0] not in VENDORABLE and n not in VENDORABLE_SIMS:
                    bad.append(n)
        if bad:
            report.problems.append(
                Problem(
                    attr,
                    None,
                    f"{fn.__module__}.{fn.__name__} lives in a module that imports {bad}; put "
                    "it in a module importing only numpy, math and sims.drone.observe / "
                    "sims.arm.observe so the robot can run the same function",
                )
            )
        else:
            report.notes.append(f"{attr}: {fn.__module__}.{fn.__name__} (vendorable)")


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"
