"""Arm adapters for ros2_control: JointState in; JointTrajectory or Float64MultiArray out.

A task whose policy drives the gripper (ArmPickPlace) needs the profile's ``gripper`` output:
a ros2_control ``forward_command_controller/ForwardCommandController`` (position interface) on
the finger joints, fed one target per finger (half the commanded width), as in simulation.
The measured width is the sum of the finger joints' positions in ``/joint_states``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .. import frames
from ..bundle import PolicyBundle
from ..kinematics import SerialChain
from ..measurement import Measurement
from ..messages import Output, duration, header, quat, vec3, xyz, xyzw
from ..profiles import Profile
from .base import Adapter, AdapterError, JointIndex


class ArmAdapter(Adapter):
    """State: joint angles and velocities in the policy's joint order, plus an optional object."""

    robot = "arm"

    def __init__(self, profile: Profile, bundle: PolicyBundle) -> None:
        super().__init__(profile, bundle)
        cm = self.command_model
        self.uses_gripper = bool(cm.get("uses_gripper"))
        #: The finger joints (their positions add up to the gripper's width).
        self.fingers = [str(j) for j in self.params.get("gripper_joints") or []]
        if self.uses_gripper and ("gripper" not in profile.outputs or not self.fingers):
            raise AdapterError(
                f"{bundle.task_id} commands the gripper; profile {profile.name!r} needs a "
                "'gripper' output (a forward_command_controller on the finger joints) and "
                "params.gripper_joints; add them or pick a profile with a gripper"
            )
        self.kind = cm["kind"]
        self.chain = SerialChain(cm["chain"], cm["base_position"])
        self.joints = [str(j) for j in self.params.get("joints") or cm["joints"]]
        if len(self.joints) != len(cm["joints"]):
            raise AdapterError(
                f"params.joints names {len(self.joints)} joints; the policy drives "
                f"{len(cm['joints'])} ({cm['joints']})"
            )
        self.lower = np.asarray(cm["lower"], np.float64)
        self.upper = np.asarray(cm["upper"], np.float64)
        self.vel_limit = np.asarray(cm["velocity"], np.float64)
        self.q: np.ndarray | None = None
        self.qd: np.ndarray | None = None
        self.width: float | None = None
        #: The tracked object: (position, orientation, velocity, angular velocity), world frame.
        self.object: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None = None
        self._index = JointIndex(
            self.joints + (self.fingers if self.uses_gripper else []),
            "params.joints (and params.gripper_joints)",
        )
        #: Set by the runtime: its joint position/velocity limits, applied to every target.
        self.target_filter: Callable[[np.ndarray], np.ndarray] | None = None

    def has_state(self) -> bool:
        return self.q is not None

    def measurement(self) -> Measurement:
        m = Measurement(joint_positions=self.q, joint_velocities=self.qd)
        if self.q is not None:
            pos, quat, vel = self.chain.tip_state(self.q, self.qd)
            # q and -q are one rotation but different inputs: signed as PyBullet signs them
            m.tool_position, m.tool_orientation = pos, frames.bullet_sign(quat)
            m.tool_velocity = vel
        if self.uses_gripper:
            m.gripper_width = self.width
        if "object" in self.profile.inputs and self.object is not None:
            pos, quat, vel, ang = self.object
            m.object_position, m.object_orientation = pos, frames.bullet_sign(quat)
            m.object_velocity, m.object_angular_velocity = vel, ang
        return m

    def probe(self) -> Measurement:
        q = np.clip(np.zeros(len(self.joints)), self.lower, self.upper)
        pos, quat, vel = self.chain.tip_state(q, np.zeros_like(q))
        m = Measurement(joint_positions=q, joint_velocities=np.zeros_like(q), tool_position=pos,
                        tool_orientation=quat, tool_velocity=vel)  # fmt: skip
        if self.uses_gripper:
            m.gripper_width = 0.0
        if "object" in self.profile.inputs:
            m.object_position, m.object_orientation = np.zeros(3), np.array([0.0, 0, 0, 1])
            m.object_velocity, m.object_angular_velocity = np.zeros(3), np.zeros(3)
        return m

    def _decode(self, role: str, msg: Any, t: float) -> None:
        if role == "object":
            self.object = (
                np.array(vec3(msg.pose.pose.position)),
                np.array(quat(msg.pose.pose.orientation)),
                # the object's odometry twist is taken in the world frame
                np.array(vec3(msg.twist.twist.linear)),
                np.array(vec3(msg.twist.twist.angular)),
            )
            return
        idx = self._index(msg.name)
        n = len(self.joints)
        pos = np.asarray(msg.position, np.float64)
        vel = np.asarray(msg.velocity, np.float64)
        self.q = pos[idx[:n]]
        self.qd = vel[idx[:n]] if vel.size == pos.size else np.zeros(n)
        if self.uses_gripper:
            self.width = float(sum(pos[i] for i in idx[n:]))

    def targets(self, action: np.ndarray) -> np.ndarray:
        """Joint position targets of a normalized action, within the URDF limits."""
        cm = self.command_model
        if self.kind == "joint_delta":
            target = self.q + action[: self.chain.dof] * cm["joint_step"]
        else:
            pos, _, _, _ = self.chain.forward(self.q)
            goal = pos + action[:3] * cm["ee_step"]
            goal[2] = max(goal[2], 0.0)  # as in simulation: never below the table top
            down = frames.quat_to_matrix((1.0, 0.0, 0.0, 0.0))  # gripper pointing down
            target = self.chain.ik_step(self.q, goal, down)
        target = np.clip(target, self.lower, self.upper)
        return self.target_filter(target) if self.target_filter is not None else target

    def gripper(self, action: np.ndarray) -> list[Output]:
        """The finger targets of a normalized action: the width changes by its last
        component times ``gripper_step``, within [0, max width]; half the width per finger."""
        if not self.uses_gripper:
            return []
        cm = self.command_model
        width = self.width + float(action[-1]) * cm["gripper_step"]
        half = min(max(width, 0.0), cm["max_gripper_width"]) / 2.0
        return [self._array("gripper", [half] * len(self.fingers))]

    def hold_gripper(self) -> list[Output]:
        """Keep the fingers where they are (on a fault)."""
        if not self.uses_gripper or self.width is None:
            return []
        return [self._array("gripper", [self.width / 2.0] * len(self.fingers))]

    def _array(self, role: str, values: list[float]) -> Output:
        return self._out(role, {"layout": {"dim": [], "data_offset": 0}, "data": list(values)})

    def encode_inputs(
        self, m: Measurement, t: float, goal: Any = None
    ) -> list[tuple[str, dict[str, Any]]]:
        names, position = list(self.joints), np.asarray(m.joint_positions, np.float64).tolist()
        velocity = np.asarray(m.joint_velocities, np.float64).tolist()
        if self.uses_gripper:
            names += self.fingers
            position += [float(m.gripper_width) / 2.0] * len(self.fingers)
            velocity += [0.0] * len(self.fingers)
        js = {"header": header(t, ""), "name": names, "position": position,
              "velocity": velocity, "effort": []}  # fmt: skip
        out: list[tuple[str, dict[str, Any]]] = [("joint_states", js)]
        out += self.goal_input(goal, t, "world")
        if m.object_position is not None and "object" in self.profile.inputs:
            pose = {"position": xyz(m.object_position), "orientation": xyzw(m.object_orientation)}
            twist = {"linear": xyz(m.object_velocity), "angular": xyz(m.object_angular_velocity)}
            odom = {"header": header(t, "world"), "child_frame_id": "object",
                    "pose": {"pose": pose}, "twist": {"twist": twist}}  # fmt: skip
            out.append(("object", odom))
        return out


class ArmJtcAdapter(ArmAdapter):
    """JointTrajectory with one point, one control step ahead."""

    def _trajectory(self, t: float, positions: np.ndarray) -> list[Output]:
        return [
            self._out(
                "trajectory",
                {
                    # a zero stamp means "start now" to the JointTrajectoryController
                    "header": header(0.0, ""),
                    "joint_names": list(self.joints),
                    "points": [
                        {
                            "positions": positions.tolist(),
                            "time_from_start": duration(self.dt),
                        }
                    ],
                },
            )
        ]

    def command(self, action: np.ndarray, t: float) -> list[Output]:
        return self._trajectory(t, self.targets(action)) + self.gripper(action)

    def fallback(self, t: float, entering: bool) -> list[Output]:
        # hold where the arm is now (once: the controller keeps holding the last target)
        if not entering or self.q is None:
            return []
        return self._trajectory(t, self.q) + self.hold_gripper()


class ArmForwardAdapter(ArmAdapter):
    """Float64MultiArray of joint positions in the controller's joint order."""

    def command(self, action: np.ndarray, t: float) -> list[Output]:
        return [self._array("commands", self.targets(action).tolist()), *self.gripper(action)]

    def fallback(self, t: float, entering: bool) -> list[Output]:
        if not entering or self.q is None:
            return []
        return [self._array("commands", self.q.tolist()), *self.hold_gripper()]
