"""A robot driven joint by joint through ros2_control: JointState in, Float64MultiArray out.

For tasks whose command model names ``robot: joint_group`` (a cart-pole, ...): the measured
joints (``joints``, in the task's order) become the measurement's joint positions and
velocities; each commanded joint (``commanded``) gets the normalized action component times
the declared ``scale``, sent to a ``forward_command_controller`` (effort or velocity, as the
command model's ``kind`` says). Disabling, and any fault, sends zeros once: no effort (the
robot is let go) or zero velocity (it stops).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..bundle import PolicyBundle
from ..measurement import Measurement
from ..messages import Output, header
from ..profiles import Profile
from .base import Adapter, AdapterError, JointIndex


class JointGroupAdapter(Adapter):
    """JointState in; Float64MultiArray of efforts or velocities out."""

    robot = "joint_group"

    def __init__(self, profile: Profile, bundle: PolicyBundle) -> None:
        super().__init__(profile, bundle)
        cm = self.command_model
        self.joints = [str(j) for j in self.params.get("joints") or cm["joints"]]
        self.commanded = [str(j) for j in self.params.get("command_joints") or cm["commanded"]]
        self.scale = np.asarray(cm["scale"], np.float64)
        for what, names, task in (("joints", self.joints, cm["joints"]),
                                  ("command_joints", self.commanded, cm["commanded"])):  # fmt: skip
            if len(names) != len(task):
                raise AdapterError(
                    f"params.{what} names {len(names)} joints; the task has {len(task)} ({task})"
                )
        if len(self.scale) != len(self.commanded):
            raise AdapterError(
                f"the command model scales {len(self.scale)} values for "
                f"{len(self.commanded)} commanded joints"
            )
        self.q: np.ndarray | None = None
        self.qd: np.ndarray | None = None
        self._index = JointIndex(self.joints, "params.joints")

    def has_state(self) -> bool:
        return self.q is not None

    def measurement(self) -> Measurement:
        return Measurement(joint_positions=self.q, joint_velocities=self.qd)

    def probe(self) -> Measurement:
        zeros = np.zeros(len(self.joints))
        return Measurement(joint_positions=zeros, joint_velocities=zeros)

    def _decode(self, role: str, msg: Any, t: float) -> None:
        idx = self._index(msg.name)
        pos = np.asarray(msg.position, np.float64)
        vel = np.asarray(msg.velocity, np.float64)
        if vel.size != pos.size:
            raise AdapterError("JointState has no velocities; the task observes joint rates")
        self.q, self.qd = pos[idx], vel[idx]

    def _commands(self, values: np.ndarray) -> list[Output]:
        data = {"layout": {"dim": [], "data_offset": 0}, "data": values.tolist()}
        return [self._out("commands", data)]

    def command(self, action: np.ndarray, t: float) -> list[Output]:
        return self._commands(action[: len(self.scale)] * self.scale)

    def release(self, t: float) -> list[Output]:
        return self._commands(np.zeros(len(self.scale)))

    def fallback(self, t: float, entering: bool) -> list[Output]:
        return self._commands(np.zeros(len(self.scale))) if entering else []

    def encode_inputs(
        self, m: Measurement, t: float, goal: Any = None
    ) -> list[tuple[str, dict[str, Any]]]:
        js = {
            "header": header(t, ""),
            "name": list(self.joints),
            "position": np.asarray(m.joint_positions, np.float64).tolist(),
            "velocity": np.asarray(m.joint_velocities, np.float64).tolist(),
            "effort": [],
        }
        return [("joint_states", js), *self.goal_input(goal, t, "world")]


__all__ = ["JointGroupAdapter"]
