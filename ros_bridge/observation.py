"""Building the policy's observation on the robot exactly as the simulator built it.

The bundle lists the observation's fields in order with shapes, units and frames; each field
name maps to a source here that computes it from the adapter's decoded robot state (already in
the task's conventions) and the runtime's memory (the last action sent, the goal). A task field
with no source is reported when the runtime is built, not at the first tick in the air.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from . import frames
from .bundle import PolicyBundle
from .robots import Adapter, DroneAdapter
from .taskobs import TaskObservationError, check_observe, flatten, load_observe, robot_state


class ObservationError(ValueError):
    """The bundle's observation has a field the robot cannot provide."""


class NotReady(RuntimeError):
    """A source has no data yet (e.g. no goal received); the runtime waits."""


Source = Callable[["ObservationBuilder"], np.ndarray]


def _need(value: np.ndarray | None, what: str) -> np.ndarray:
    if value is None:
        raise NotReady(what)
    return value


def _goal(b: ObservationBuilder) -> np.ndarray:
    return _need(b.adapter.goal if b.adapter.goal is not None else b.default_goal, "goal")


def _ee(b: ObservationBuilder) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if b._ee_cache is None:
        a = b.adapter
        b._ee_cache = a.chain.tip_state(a.q, a.qd)
    return b._ee_cache


def _object(b: ObservationBuilder, key: str) -> np.ndarray:
    obj = b.adapter.object
    if obj is None:
        raise NotReady("object odometry")
    return obj[key]


DRONE_SOURCES: dict[str, Source] = {
    "pos": lambda b: b.adapter.pos,
    # signed by the runtime as the simulator signs it (frames.bullet_sign)
    "quat": lambda b: b.adapter.quat,
    "vel": lambda b: b.adapter.vel,
    "ang_vel": lambda b: b.adapter.ang_vel,
    "tilt": lambda b: np.array([frames.tilt(b.adapter.quat)]),
    "last_action": lambda b: b.last_action,
    "goal_rel": lambda b: _goal(b) - b.adapter.pos,
}

ARM_SOURCES: dict[str, Source] = {
    "ee_pos": lambda b: _ee(b)[0],
    "ee_quat": lambda b: frames.bullet_sign(_ee(b)[1]),
    "ee_vel": lambda b: _ee(b)[2],
    "joint_pos": lambda b: b.adapter.q,
    "joint_vel": lambda b: b.adapter.qd,
    "goal_pos": _goal,
    "goal_rel": lambda b: _goal(b) - _ee(b)[0],
    "object_pos": lambda b: _object(b, "pos"),
    "object_quat": lambda b: frames.bullet_sign(_object(b, "quat")),
    "object_vel": lambda b: _object(b, "vel"),
    "object_angvel": lambda b: _object(b, "angvel"),
    "object_rel_ee": lambda b: _object(b, "pos") - _ee(b)[0],
    "object_rel_goal": lambda b: _object(b, "pos") - _goal(b),
}


#: Fields computed from the goal.
GOAL_FIELDS = frozenset({"goal_rel", "goal_pos", "object_rel_goal"})


class ObservationBuilder:
    """Fills the observation vector from an adapter's state.

    Drone bundles that name their task's observation function (``task.observe``) run it on
    the robot state and the episode layout (:mod:`ros_bridge.taskobs`); older bundles and arms
    use the per-field sources above.

    Args:
        bundle: the policy bundle (field layout and normalization statistics).
        adapter: the robot adapter holding the decoded state.
        default_goal: goal used until a goal message arrives (task world frame), or ``None``
            to wait for one.
        layout: the course (a task layout, as in ``bundle.json``'s ``task.layout``); ``None``
            uses the bundle's default layout, whose goal then has to come from a goal message
            or ``default_goal``.

    Raises:
        ObservationError: listing every field the robot cannot provide.
    """

    def __init__(
        self,
        bundle: PolicyBundle,
        adapter: Adapter,
        default_goal: np.ndarray | None = None,
        layout: dict[str, Any] | None = None,
    ) -> None:
        self.adapter = adapter
        self.default_goal = default_goal
        self.last_action = np.zeros(bundle.action_size)
        #: Control steps since the policy was enabled (the ``step`` a task observes).
        self.step = 0
        self._size = bundle.obs_size
        self._ee_cache: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        self._names = [f.name for f in bundle.fields]
        task = bundle.meta.task
        self.observe = None
        if task.observe and isinstance(adapter, DroneAdapter):
            try:
                self.observe = load_observe(task.observe, bundle.path / "tasklib")
                self.set_layout(
                    layout if layout is not None else task.layout or {}, layout is not None
                )
                probe = dict(self.layout)
                if "goal" in probe and not self.layout_given:
                    probe["goal"] = [0.0, 0.0, 1.0]
                check_observe(self.observe, probe, self._names, self._size, bundle.action_size)
            except TaskObservationError as exc:
                raise ObservationError(f"{bundle.task_id}: {exc}") from None
            return
        sources = DRONE_SOURCES if isinstance(adapter, DroneAdapter) else ARM_SOURCES
        missing = [f.name for f in bundle.fields if f.name not in sources]
        if missing:
            raise ObservationError(
                f"{bundle.task_id} observes {missing}, which the {adapter.robot} runtime cannot "
                f"compute from robot messages (it provides {sorted(sources)}); re-export the "
                "bundle so that it names the task's own observation function"
            )
        # Quaternion signs: q and -q are one rotation but different inputs to the network;
        # every quaternion field is signed as PyBullet signed it in training (frames.bullet_sign).
        #: Whether the observation needs a goal (a goal message or the default goal).
        self.needs_goal = any(f.name in GOAL_FIELDS for f in bundle.fields)
        self._plan = [(f.offset, f.offset + f.size, sources[f.name], f.name) for f in bundle.fields]

    def set_layout(self, layout: dict[str, Any], given: bool = True) -> None:
        """Use ``layout`` as the course (``given``: from the operator, goal included)."""
        self.layout = dict(layout)
        self.layout_given = given
        self.needs_goal = "goal" in self.layout and not given

    def build(self) -> np.ndarray:
        """The observation vector (float64).

        Raises:
            NotReady: when a source has no data yet.
        """
        if self.observe is not None:
            return self._observe()
        out = np.empty(self._size)
        self._ee_cache = None
        for start, stop, fn, _ in self._plan:
            out[start:stop] = fn(self)
        return out

    def _observe(self) -> np.ndarray:
        a = self.adapter
        layout = self.layout
        if "goal" in layout:
            goal = a.goal if a.goal is not None else self.default_goal
            if goal is None and not self.layout_given:
                raise NotReady("goal")
            if goal is not None:
                layout = {**layout, "goal": [float(v) for v in goal]}
        if a.pos is None or a.quat is None or a.vel is None or a.ang_vel is None:
            raise NotReady("robot state")
        state = robot_state(a.pos, a.quat, a.vel, a.ang_vel, self.last_action, self.step)
        return flatten(self.observe(state, layout), self._names, self._size)
