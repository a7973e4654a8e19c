"""The task's own observation function, run on the robot: ``observe(robot_state, layout)``.

A bundle exported since tasks declare their observation names it in ``task.observe``
(``module:function``, e.g. ``sims.drone.observe:observe_gates``) and carries a default episode
``layout`` (goal, gates, pillars, wall, pad, reference path, orbit centre). Export vendors
that module (and the shared ``sims`` observe module it imports) into the bundle's ``tasklib``
folder, so the robot computes exactly what training saw, with no PyBullet or torch: the same
function the simulator calls every step.

The robot state handed to it holds what the robot measures (``pos``, ``quat``, ``vel``,
``ang_vel`` as body rates, ``last_action``) and counts (``step``: control steps since the
policy was enabled). A task that also reads values its simulation tracks (gates passed, wall
crossed) cannot run on the robot yet: :func:`check_observe` names them when the runtime is built.
"""

from __future__ import annotations

import importlib
import json
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

ObserveFn = Callable[[Mapping[str, Any], Mapping[str, Any]], Mapping[str, Any]]


class TaskObservationError(ValueError):
    """A task observation function that cannot be loaded or run on the robot."""


def load_observe(spec: str, tasklib: Path | None = None) -> ObserveFn:
    """The function ``module:function`` names.

    Args:
        spec: ``module:function``.
        tasklib: the bundle's ``tasklib`` folder (the module as export vendored it), used
            when the module does not import as installed: on a development machine the
            task's own package is used, on a robot (no task package, or one whose simulator
            is missing) the vendored copy.

    Raises:
        TaskObservationError: naming the module or function that is missing.
    """
    module_name, _, fn_name = spec.partition(":")
    if not module_name or not fn_name:
        raise TaskObservationError(f"task.observe must be 'module:function', got {spec!r}")
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:
        # On a robot the task's package is absent, or present without the simulator it
        # imports: use the vendored copy (only the pure observe modules, stub packages).
        if tasklib is None or not tasklib.is_dir():
            raise TaskObservationError(
                f"cannot import the task's observation module {module_name!r} ({exc}); "
                "re-export the bundle (it vendors the module) or install the task's package"
            ) from None
        if str(tasklib) not in sys.path:
            sys.path.insert(0, str(tasklib))
        try:
            module = importlib.import_module(module_name)
        except Exception as exc2:
            raise TaskObservationError(
                f"the bundle's vendored {module_name!r} does not import ({exc2})"
            ) from None
    fn = getattr(module, fn_name, None)
    if not callable(fn):
        raise TaskObservationError(f"{module_name} has no function {fn_name!r}")
    return fn


def read_layout(text_or_path: str) -> dict[str, Any]:
    """A layout from a JSON file path or a JSON text (the node's ``layout`` parameter).

    Raises:
        TaskObservationError: for a missing file or invalid JSON, or not a JSON object.
    """
    text = text_or_path.strip()
    if not text.startswith("{"):
        path = Path(text).expanduser()
        if not path.is_file():
            raise TaskObservationError(f"layout file {path} does not exist")
        text = path.read_text()
    try:
        layout = json.loads(text)
    except json.JSONDecodeError as exc:
        raise TaskObservationError(f"layout is not valid JSON: {exc}") from None
    if not isinstance(layout, dict):
        raise TaskObservationError("a layout must be a JSON object (keys as in bundle.json)")
    return layout


def robot_state(
    pos: np.ndarray, quat: np.ndarray, vel: np.ndarray, ang_vel: np.ndarray,
    last_action: np.ndarray, step: int,
) -> dict[str, Any]:  # fmt: skip
    """The robot-state mapping a drone task's ``observe`` reads (plain floats, as in sims)."""
    return {
        "pos": tuple(float(v) for v in pos),
        "quat": tuple(float(v) for v in quat),
        "vel": tuple(float(v) for v in vel),
        "ang_vel": tuple(float(v) for v in ang_vel),
        "last_action": tuple(float(v) for v in last_action),
        "step": int(step),
    }


def flatten(fields: Mapping[str, Any], names: list[str], size: int) -> np.ndarray:
    """The observation vector: ``fields`` in the bundle's order.

    Raises:
        TaskObservationError: when the function's fields do not match the bundle's.
    """
    try:
        parts = [np.ravel(np.asarray(fields[n], np.float64)) for n in names]
    except KeyError as exc:
        raise TaskObservationError(
            f"the task's observe returned no field {exc.args[0]!r}"
        ) from None
    out = np.concatenate(parts) if parts else np.empty(0)
    if out.size != size:
        raise TaskObservationError(
            f"the task's observe gives {out.size} values; the bundle's policy takes {size}"
        )
    return out


class _Missing(KeyError):
    def __init__(self, where: str, key: str) -> None:
        super().__init__(key)
        self.where = where


class _Probe(dict):
    """A dict that says which mapping lacked a key (the robot state or the layout)."""

    where = ""

    def __missing__(self, key: str) -> Any:
        raise _Missing(self.where, key)


class _StateProbe(_Probe):
    where = "robot state"


class _LayoutProbe(_Probe):
    where = "layout"


def check_observe(
    fn: ObserveFn, layout: Mapping[str, Any], names: list[str], size: int, action_size: int
) -> None:
    """Run ``fn`` once on a level drone at rest: every value it reads must be one the robot has.

    Raises:
        TaskObservationError: naming the robot value or layout key it lacks.
    """
    state = _StateProbe(
        robot_state(
            np.array([0.0, 0.0, 1.0]), np.array([0.0, 0.0, 0.0, 1.0]), np.zeros(3), np.zeros(3),
            np.zeros(action_size), 0,
        )
    )  # fmt: skip
    try:
        fields = fn(state, _LayoutProbe(layout))
    except _Missing as exc:
        key = exc.args[0]
        if exc.where == "robot state":
            raise TaskObservationError(
                f"the task's observation reads {key!r}, a value its simulation tracks; the "
                f"robot runtime measures only {sorted(state)} (a task that needs {key!r} on "
                "the robot has to provide a pure tracker for it)"
            ) from None
        raise TaskObservationError(
            f"the layout lacks {key!r}: give the course as a layout file or the node's "
            "layout parameter (keys as in bundle.json's task.layout)"
        ) from None
    flatten(fields, names, size)
