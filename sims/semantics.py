"""Checking and evaluating what a :class:`~sims.spec.TaskSpec` declares a task means.

Pure Python and numpy (no PyBullet), so diagnostics, designers and the ROS side can use it:

* :func:`check_spec` runs whenever a spec is built (so when a task is registered, loaded from
  ``module:Class`` or made): every name a declaration uses must exist, with a did-you-mean
  hint and a :class:`~sims.errors.TaskError` naming the task, the declaration and the name.
* :func:`check_observation` and :func:`check_metrics` check what a task's ``observe`` and
  ``_episode_metrics`` return (the simulator runs them; so can the robot side);
* :func:`evaluate_criteria` checks each named success sub-criterion on a recorded episode, so
  a failed episode can say *which* part of success it missed.
"""

from __future__ import annotations

import difflib
import math
import operator
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from sims.errors import TaskError

if TYPE_CHECKING:
    from sims.spec import Criterion, StateField, TaskSpec

#: Which part of a spec each check is about -> the hook a DroneTask/SimTask author edits.
SECTIONS = (
    "state_fields",
    "body",
    "goal",
    "success_criteria",
    "hazards",
    "landmarks",
    "progress",
)

_REF = re.compile(r"^([A-Za-z_]\w*)(?:\[(\d+)\])?$")
_COMPARE = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}


class SpecError(TaskError):
    """A declaration in a spec that names something missing. ``section`` is the spec part."""

    def __init__(self, task: str, section: str, field: str | None, problem: str) -> None:
        super().__init__(task, "build_spec", field, f"{section}: {problem}")
        self.section = section


def did_you_mean(name: str, valid: Iterable[str]) -> str:
    """`` did you mean 'x'?`` for the closest valid name, or an empty string."""
    hit = difflib.get_close_matches(name, list(valid), n=1, cutoff=0.6)
    return f" Did you mean {hit[0]!r}?" if hit else ""


def parse_ref(ref: str) -> tuple[str, int | None]:
    """Split a field reference ``'name'`` or ``'name[i]'`` into (name, index or None)."""
    m = _REF.match(ref)
    if m is None:
        raise ValueError(f"{ref!r} is not a field reference ('name' or 'name[i]')")
    return m.group(1), None if m.group(2) is None else int(m.group(2))


def check_spec(spec: TaskSpec) -> None:
    """Check that every name the spec's declarations use exists.

    Raises:
        SpecError: naming the task, the spec section and the missing name, with a hint.
    """
    fields = {f.name: f for f in spec.state_fields}
    metrics = [m.name for m in spec.task_metrics]
    reasons = {r.name: r for r in spec.termination_reasons}

    def fail(section: str, name: str | None, problem: str) -> None:
        raise SpecError(spec.id, section, name, problem)

    def need_field(section: str, what: str, ref: str, vector: bool = False) -> StateField:
        try:
            name, index = parse_ref(ref)
        except ValueError as exc:
            fail(section, ref, f"{what}: {exc}")
        if name not in fields:
            fail(
                section,
                name,
                f"{what} names state field {name!r}, which the spec does not declare."
                + did_you_mean(name, fields)
                + f" State fields: {list(fields)}.",
            )
        f = fields[name]
        if index is not None and not (len(f.shape) == 1 and index < f.shape[0]):
            fail(section, name, f"{what}: {ref!r} indexes outside field shape {f.shape}.")
        if vector and f.shape != (3,):
            fail(section, name, f"{what} must be a 3-vector, but {name!r} has shape {f.shape}.")
        return f

    def need_constant(section: str, what: str, name: str) -> None:
        if name not in spec.constants:
            fail(
                section,
                name,
                f"{what} names constant {name!r}, which the spec does not declare."
                + did_you_mean(name, spec.constants)
                + f" Constants: {sorted(spec.constants)}.",
            )

    seen: set[str] = set()
    for f in spec.state_fields:
        if f.name in seen:
            fail("state_fields", f.name, "declared twice; field names must be unique.")
        seen.add(f.name)
        if f.role is None:
            fail(
                "state_fields",
                f.name,
                "has no role; set role= one of robot, action, object, goal, layout, event, time.",
            )
    body = spec.body
    for attr in ("position", "velocity", "orientation", "tilt", "angular_velocity"):
        ref = getattr(body, attr)
        if ref is not None:
            need_field("body", f"body.{attr}", ref, vector=attr in ("position", "velocity"))
    if spec.goal is not None:
        for e in spec.goal.errors:
            need_field("goal", f"goal error {e.field!r}", e.field)
            if e.tolerance is not None:
                need_constant("goal", f"goal error {e.field!r} tolerance", e.tolerance)
            if e.origin is not None:
                need_field("goal", f"goal error {e.field!r} origin", e.origin, vector=True)
    if not spec.success_criteria:
        fail("success_criteria", None, "declare at least one success criterion.")
    names: set[str] = set()
    for c in spec.success_criteria:
        what = f"criterion {c.name!r}"
        if c.name in names:
            fail("success_criteria", c.name, "criterion names must be unique.")
        names.add(c.name)
        if c.source == "field":
            f = need_field("success_criteria", what, c.key)
            if c.reduce == "norm" and (f.shape == () or "[" in c.key):
                fail("success_criteria", c.key, f"{what}: reduce='norm' needs a vector field.")
        else:
            if c.key not in metrics:
                fail(
                    "success_criteria",
                    c.key,
                    f"{what} reads metric {c.key!r}, which the spec does not declare."
                    + did_you_mean(c.key, metrics)
                    + f" Metrics: {metrics}.",
                )
            if c.hold is not None:
                fail("success_criteria", c.key, f"{what}: a metric criterion cannot have hold.")
        if isinstance(c.threshold, str):
            need_constant("success_criteria", f"{what} threshold", c.threshold)
        if c.hold is not None:
            need_constant("success_criteria", f"{what} hold", c.hold)
    for h in spec.hazards:
        if h.reason not in reasons:
            fail(
                "hazards",
                h.reason,
                f"hazard names termination reason {h.reason!r}, which the spec does not "
                f"declare.{did_you_mean(h.reason, reasons)} Reasons: {list(reasons)}.",
            )
        if h.reason not in spec.failure_reasons:
            fail("hazards", h.reason, "a hazard's reason must be a failure that terminates.")
        for ref in h.fields:
            need_field("hazards", f"hazard {h.reason!r}", ref)
    covered = {h.reason for h in spec.hazards}
    for reason in spec.failure_reasons:
        if reason not in covered:
            fail(
                "hazards",
                reason,
                f"failure reason {reason!r} has no hazard; declare Hazard(reason={reason!r}, "
                "fields=(...)) naming the fields that warn of it.",
            )
    for lm in spec.landmarks:
        need_field("landmarks", f"landmark {lm.label!r}", lm.field, vector=True)
    for ref in spec.progress:
        need_field("progress", "progress", ref)
    advances = spec.goal.advances_on if spec.goal is not None else None
    if advances is not None and advances not in spec.progress:
        fail(
            "goal",
            advances,
            f"goal.advances_on names {advances!r}, which is not a progress field; declare it "
            f"in progress (now {list(spec.progress)}) or leave advances_on unset."
            + did_you_mean(advances, list(spec.progress)),
        )


# ---------------------------------------------------------------------- what hooks return
def check_observation(spec: TaskSpec, fields: Any) -> None:
    """Check the fields an ``observe`` function returned against the spec.

    Raises:
        TaskError: (hook ``observe``) naming the field that is missing, undeclared, not
            numeric or of the wrong size, with a did-you-mean hint.
    """

    def fail(field: str | None, problem: str) -> None:
        raise TaskError(spec.id, "observe", field, problem)

    if not isinstance(fields, Mapping):
        fail(None, f"returned {type(fields).__name__}, expected a dict of field values")
    names = spec.field_names
    for f in spec.state_fields:
        if f.name not in fields:
            extra = [k for k in fields if k not in names]
            fail(f.name, f"did not return declared field {f.name!r}." + did_you_mean(f.name, extra))
        try:
            value = np.asarray(fields[f.name], dtype=np.float64)
        except (TypeError, ValueError) as exc:
            fail(f.name, f"value is not numeric: {exc}")
        if value.size != f.size:
            fail(
                f.name,
                f"returned shape {value.shape} ({value.size} values) but the spec declares "
                f"shape {f.shape} ({f.size} values)",
            )
    for k in fields:
        if k not in names:
            fail(
                str(k),
                f"returned field {k!r}, which the spec does not declare."
                + did_you_mean(str(k), names)
                + " Add it to the spec's state fields or drop it.",
            )


def check_metrics(spec: TaskSpec, metrics: Mapping[str, float]) -> None:
    """Check an episode's metrics (``_episode_metrics``) name exactly the declared ones.

    Raises:
        TaskError: (hook ``_episode_metrics``) naming the undeclared or missing metric.
    """
    names = [m.name for m in spec.task_metrics]
    for k in metrics:
        if k not in names:
            raise TaskError(
                spec.id,
                "_episode_metrics",
                str(k),
                f"returned metric {k!r}, which the spec does not declare."
                + did_you_mean(str(k), names)
                + f" Declared: {sorted(names)}.",
            )
    for k in names:
        if k not in metrics:
            raise TaskError(spec.id, "_episode_metrics", k, f"did not return declared metric {k!r}")


# ---------------------------------------------------------------------- recorded episodes
def field_slices(spec: TaskSpec) -> dict[str, tuple[int, int, tuple[int, ...]]]:
    """name -> (start, stop, shape) of each field in the flat state vector."""
    out, start = {}, 0
    for f in spec.state_fields:
        out[f.name] = (start, start + f.size, f.shape)
        start += f.size
    return out


def read_field(spec: TaskSpec, states: Any, ref: str) -> np.ndarray:
    """Field ``ref`` (``'name'`` or ``'name[i]'``) of every state: ``(T, *shape)``.

    Args:
        spec: the task's spec.
        states: recorded states, a ``(T, obs_size)`` array in spec field order or a sequence
            of state mappings (``info["state"]``).
        ref: field reference.
    """
    name, index = parse_ref(ref)
    if isinstance(states, np.ndarray):
        start, stop, shape = field_slices(spec)[name]
        block = states[:, start:stop].reshape(len(states), *shape)
    else:
        block = np.array([np.asarray(s[name], dtype=float) for s in states])
    return block if index is None else block[:, index]


@dataclass(frozen=True)
class CriterionResult:
    """How one success sub-criterion fared in an episode.

    Attributes:
        name: the criterion's name.
        passed: True/False, or None when it could not be evaluated (metric not recorded).
        value: the deciding value: the worst over the hold window, or the final/metric value.
        threshold: the threshold it was compared with.
        text: one line for a report, e.g. ``"goal_rel norm 0.23 <= 0.1 failed"``.
    """

    name: str
    passed: bool | None
    value: float | None
    threshold: float
    text: str


def evaluate_criteria(
    spec: TaskSpec, states: Any, metrics: Mapping[str, float] | None = None
) -> tuple[CriterionResult, ...]:
    """Evaluate each declared success sub-criterion on a recorded episode.

    Args:
        spec: the task's spec.
        states: the episode's states after each step (``(T, obs_size)`` array or a sequence
            of state mappings), at least the last ones covering the longest hold window.
        metrics: the episode's task metrics (``info["task_metrics"]`` at its end).

    Returns:
        One result per criterion, in declaration order.
    """
    metrics = metrics or {}
    n = len(states)
    out = []
    for c in spec.success_criteria:
        thr = spec.threshold(c)
        cmp = _COMPARE[c.compare]
        label = f"{c.key}{'' if c.reduce == 'value' else ' ' + c.reduce}"
        if c.source == "metric":
            v = metrics.get(c.key)
            if v is None:
                out.append(CriterionResult(c.name, None, None, thr, f"{label}: not recorded"))
                continue
            v = float(v)
            ok = bool(math.isfinite(v) and cmp(v, thr))
            out.append(_result(c, ok, v, thr, label, ""))
            continue
        window = spec.hold_steps(c) or 1
        if n == 0:
            out.append(CriterionResult(c.name, None, None, thr, f"{label}: no states recorded"))
            continue
        tail = states[-window:] if isinstance(states, np.ndarray) else list(states)[-window:]
        vals = _reduce(read_field(spec, tail, c.key), c.reduce)
        # the deciding value is the one furthest on the wrong side of the threshold
        v = float(vals.max() if c.compare in ("<", "<=") else vals.min())
        ok = bool(np.all(cmp(vals, thr)) and np.all(np.isfinite(vals)))
        note = ""
        if c.hold is not None:
            note = f" over the last {spec.constant(c.hold):g} s"
            if n < window:
                ok, note = (
                    False,
                    f"{note} (episode ended {(window - n) / spec.control_hz:.2g} s early)",
                )
        out.append(_result(c, ok, v, thr, label, note))
    return tuple(out)


def _reduce(block: np.ndarray, how: str) -> np.ndarray:
    if how == "norm":
        return np.linalg.norm(block.reshape(len(block), -1), axis=-1)
    if how == "abs":
        return np.abs(block)
    return block


def _result(c: Criterion, ok: bool, v: float, thr: float, label: str, note: str) -> CriterionResult:
    t = c.threshold if isinstance(c.threshold, str) else f"{thr:g}"
    verdict = "met" if ok else "missed"
    text = f"{c.name}: {label} {v:.3g} {c.compare} {t} ({thr:.3g}){note}: {verdict}"
    return CriterionResult(c.name, ok, v, thr, text)


def failed_criteria(
    spec: TaskSpec, states: Any, metrics: Mapping[str, float] | None = None
) -> tuple[str, ...]:
    """Names of the sub-criteria an episode missed (not those that could not be evaluated)."""
    return tuple(r.name for r in evaluate_criteria(spec, states, metrics) if r.passed is False)


def hazard_fields(spec: TaskSpec) -> tuple[str, ...]:
    """Every field reference a hazard declares, without repeats, in declaration order."""
    seen: dict[str, None] = {}
    for h in spec.hazards:
        for ref in h.fields:
            seen.setdefault(ref, None)
    return tuple(seen)


def fields_named(spec: TaskSpec, refs: Sequence[str]) -> tuple[str, ...]:
    """The field names (without component index) of ``refs``, without repeats."""
    return tuple(dict.fromkeys(parse_ref(r)[0] for r in refs))


def goal_point(spec: TaskSpec, state: Mapping[str, Any]) -> np.ndarray | None:
    """World position of the primary goal in one state snapshot, or None.

    The primary goal error is a vector from its subject to the target: the subject is the robot
    (``body.position``) unless the error declares another subject, whose position field is its
    ``origin`` (push's cube). None when the task has no 3-vector goal error or no such position.
    """
    if spec.goal is None:
        return None
    err = spec.goal.primary
    origin = err.origin if err.subject is not None else spec.body.position
    if origin is None or np.shape(state[err.field]) != (3,):
        return None
    return np.asarray(state[origin], dtype=float) + err.sign * np.asarray(
        state[err.field], dtype=float
    )
