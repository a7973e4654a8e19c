"""Building the policy's observation on the robot exactly as the simulator built it.

The bundle lists the observation's fields in order with shapes, units and frames; each field
name maps to a source here that computes it from the adapter's decoded robot state (already in
the task's conventions) and the runtime's memory (the last action sent, the goal). A task field
with no source is reported when the runtime is built, not at the first tick in the air.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from . import frames
from .bundle import PolicyBundle
from .robots import Adapter, DroneAdapter


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

    Args:
        bundle: the policy bundle (field layout and normalization statistics).
        adapter: the robot adapter holding the decoded state.
        default_goal: goal used until a goal message arrives (task world frame), or ``None``
            to wait for one.

    Raises:
        ObservationError: listing every field the robot cannot provide.
    """

    def __init__(
        self, bundle: PolicyBundle, adapter: Adapter, default_goal: np.ndarray | None = None
    ) -> None:
        self.adapter = adapter
        self.default_goal = default_goal
        self.last_action = np.zeros(bundle.action_size)
        sources = DRONE_SOURCES if isinstance(adapter, DroneAdapter) else ARM_SOURCES
        missing = [f.name for f in bundle.fields if f.name not in sources]
        if missing:
            raise ObservationError(
                f"{bundle.task_id} observes {missing}, which the {adapter.robot} runtime cannot "
                f"compute from robot messages (it provides {sorted(sources)}); such tasks need "
                "a task-specific source in ros_bridge.observation"
            )
        # Quaternion signs: q and -q are one rotation but different inputs to the network;
        # every quaternion field is signed as PyBullet signed it in training (frames.bullet_sign).
        #: Whether the observation needs a goal (a goal message or the default goal).
        self.needs_goal = any(f.name in GOAL_FIELDS for f in bundle.fields)
        self._plan = [(f.offset, f.offset + f.size, sources[f.name], f.name) for f in bundle.fields]
        self._size = bundle.obs_size
        self._ee_cache: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None

    def build(self) -> np.ndarray:
        """The observation vector (float64).

        Raises:
            NotReady: when a source has no data yet.
        """
        out = np.empty(self._size)
        self._ee_cache = None
        for start, stop, fn, _ in self._plan:
            out[start:stop] = fn(self)
        return out
