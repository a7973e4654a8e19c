"""The task's own observation, run on the robot: ``observe(robot_state, layout)``.

A bundle names the task's pure functions in ``task`` (``module:function`` each), and export
vendors their modules (and the ``sims`` modules they import) into the bundle's ``tasklib``
folder, so the robot computes exactly what training saw, with no PyBullet or torch:

* ``observe(robot_state, layout) -> fields``, the function the simulator calls every step;
* ``from_measurement(measurement) -> robot_state``: the robot state ``observe`` reads, from
  the profile's typed :class:`~ros_bridge.measurement.Measurement` (this module names no field);
* ``track(events | None, robot_state, layout) -> events`` (optional): the task's event
  tracker (gates passed, wall crossed, rest time), started when the policy is enabled.

The episode ``layout`` (goal, gates, pillars, wall, pad, reference path, orbit centre) comes
with the bundle (a default course), from a layout file or the node's ``layout`` parameter.
:func:`check_observe` runs the functions once when the runtime is built, on what the profile
measures, so a value the robot cannot provide is named then, not at the first tick in the air.
"""

from __future__ import annotations

import importlib
import json
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

ObserveFn = Callable[[Mapping[str, Any], Mapping[str, Any]], Mapping[str, Any]]
TrackFn = Callable[[Mapping[str, Any] | None, Mapping[str, Any], Mapping[str, Any]], dict]


class TaskObservationError(ValueError):
    """A task observation function that cannot be loaded or run on the robot."""


def load_observe(spec: str, tasklib: Path | None = None) -> Callable[..., Any]:
    """The function ``module:function`` names.

    Args:
        spec: ``module:function``.
        tasklib: the bundle's ``tasklib`` folder (the module as export vendored it), used
            when the module does not import as installed: on a development machine the
            task's own package is used (it must be the very file vendored), on a robot (no
            task package, or one whose simulator is missing) the vendored copy.

    Raises:
        TaskObservationError: naming the module or function that is missing, or an
            installed module that differs from the vendored one.
    """
    module_name, _, fn_name = spec.partition(":")
    if not module_name or not fn_name:
        raise TaskObservationError(f"a task function must be 'module:function', got {spec!r}")
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
    _same_as_vendored(module, module_name, tasklib)
    fn = getattr(module, fn_name, None)
    if not callable(fn):
        raise TaskObservationError(f"{module_name} has no function {fn_name!r}")
    return fn


def _same_as_vendored(module: Any, name: str, tasklib: Path | None) -> None:
    """An installed task module must be the one the bundle vendored (the code training ran):
    another version on the robot would compute another observation without a word.

    Raises:
        TaskObservationError: when the two files differ.
    """
    vendored = tasklib.joinpath(*name.split(".")).with_suffix(".py") if tasklib else None
    here = Path(getattr(module, "__file__", "") or "")
    if vendored is None or not vendored.is_file() or not here.is_file() or here == vendored:
        return
    if here.read_bytes() != vendored.read_bytes():
        raise TaskObservationError(
            f"the installed {name} ({here}) differs from the copy the bundle vendored (the "
            "code the policy was trained with): re-export the bundle with this version, or "
            "remove the installed package so the vendored copy runs"
        )


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


@dataclass(frozen=True)
class TaskFunctions:
    """The task's vendored functions (see the module docstring)."""

    observe: ObserveFn
    from_measurement: Callable[[Any], Mapping[str, Any]]
    track: TrackFn | None = None

    def fields(
        self, m: Any, layout: Mapping[str, Any], events: Mapping[str, Any] | None
    ) -> tuple[Mapping[str, Any], Mapping[str, Any], Mapping[str, Any] | None]:
        """(fields, robot state, events observed with) of a measurement: as the simulator
        does it, a fresh episode (``events`` None) starts the tracker on this state."""
        state = self.from_measurement(m)
        if self.track is None:
            return self.observe(state, layout), state, None
        if events is None:
            events = self.track(None, state, layout)
        return self.observe({**state, **events}, layout), state, events


def load_task_functions(
    observe: str | None, from_measurement: str | None, track: str | None, tasklib: Path
) -> TaskFunctions:
    """Load the functions a bundle's ``task`` names.

    Raises:
        TaskObservationError: when the bundle names none (exported before tasks declared
            them) or one cannot be loaded.
    """
    if not observe or not from_measurement:
        raise TaskObservationError(
            "the bundle names no task observation functions (task.observe, "
            "task.from_measurement): re-export it; a task deploys when its class declares "
            "observe and from_measurement (see README, Custom tasks)"
        )
    return TaskFunctions(
        load_observe(observe, tasklib),
        load_observe(from_measurement, tasklib),
        load_observe(track, tasklib) if track else None,
    )


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
    fns: TaskFunctions, probe: Any, layout: Mapping[str, Any], names: list[str], size: int
) -> None:
    """Run the task's functions once on a neutral sample of what the profile measures
    (``probe``, a Measurement whose unmeasured attributes are ``None``).

    Raises:
        TaskObservationError: naming the measurement, robot-state value or layout key the
            task needs and the robot side lacks.
    """
    measured = sorted(f.name for f in fields(probe) if getattr(probe, f.name) is not None)
    try:
        state = fns.from_measurement(probe)
    except (TypeError, AttributeError, KeyError, IndexError) as exc:
        raise TaskObservationError(
            f"the task's from_measurement needs a measurement this profile does not provide "
            f"({type(exc).__name__}: {exc}); the profile measures {measured}"
        ) from None
    state = _StateProbe(state)
    try:
        events = fns.track(None, state, _LayoutProbe(layout)) if fns.track else {}
        out = fns.observe(_StateProbe({**state, **events}), _LayoutProbe(layout))
    except _Missing as exc:
        key = exc.args[0]
        if exc.where == "robot state":
            raise TaskObservationError(
                f"the task's observation reads {key!r}, which its from_measurement does not "
                f"give on this profile (it measures {measured}); a value the simulation "
                "tracks needs a pure tracker (the task class's track)"
            ) from None
        raise TaskObservationError(
            f"the layout lacks {key!r}: give the course as a layout file or the node's "
            "layout parameter (keys as in bundle.json's task.layout)"
        ) from None
    except (TypeError, ValueError, IndexError, KeyError) as exc:  # e.g. a number for a point
        raise TaskObservationError(
            f"the task's observation fails on this layout ({type(exc).__name__}: {exc}): "
            "check its values against bundle.json's task.layout (points are [x, y, z])"
        ) from None
    flatten(out, names, size)
