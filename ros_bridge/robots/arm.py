"""Arm adapters for ros2_control: JointState in; JointTrajectory or Float64MultiArray out."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from .. import frames
from ..bundle import PolicyBundle
from ..kinematics import SerialChain
from ..messages import Output, duration, header, quat, vec3, xyz, xyzw
from ..profiles import Profile
from .base import Adapter, AdapterError


class ArmAdapter(Adapter):
    """State: joint angles and velocities in the policy's joint order, plus an optional object."""

    robot = "arm"
    state_attrs = ("q", "qd", "object")

    def __init__(self, profile: Profile, bundle: PolicyBundle) -> None:
        super().__init__(profile, bundle)
        cm = self.command_model
        if cm.get("uses_gripper"):
            raise AdapterError(
                f"{bundle.task_id} commands the gripper; profile {profile.name!r} drives the arm "
                "joints only (a gripper action interface is not supported yet)"
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
        self.object: dict[str, np.ndarray] | None = None
        self._index_cache: tuple[tuple[str, ...], list[int]] | None = None
        #: Set by the runtime: its joint position/velocity limits, applied to every target.
        self.target_filter: Callable[[np.ndarray], np.ndarray] | None = None

    def has_state(self) -> bool:
        return self.q is not None

    def _decode(self, role: str, msg: Any, t: float) -> None:
        if role == "object":
            q = np.array(quat(msg.pose.pose.orientation))
            self.object = {
                "pos": np.array(vec3(msg.pose.pose.position)),
                "quat": q,
                # the object's odometry twist is taken in the world frame
                "vel": np.array(vec3(msg.twist.twist.linear)),
                "angvel": np.array(vec3(msg.twist.twist.angular)),
            }
            return
        names = tuple(msg.name)
        if self._index_cache is None or self._index_cache[0] != names:
            lookup = {n: i for i, n in enumerate(names)}
            missing = [j for j in self.joints if j not in lookup]
            if missing:
                raise AdapterError(
                    f"JointState lacks joints {missing} (has {list(names)}); set params.joints "
                    "to your robot's joint names"
                )
            self._index_cache = (names, [lookup[j] for j in self.joints])
        idx = self._index_cache[1]
        pos = np.asarray(msg.position, np.float64)
        vel = np.asarray(msg.velocity, np.float64)
        self.q = pos[idx]
        self.qd = vel[idx] if vel.size == pos.size else np.zeros(len(idx))

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

    def encode_inputs(self, state: Mapping[str, Any], t: float) -> list[tuple[str, dict[str, Any]]]:
        js = {
            "header": header(t, ""),
            "name": list(self.joints),
            "position": np.asarray(state["joint_pos"], np.float64).tolist(),
            "velocity": np.asarray(state["joint_vel"], np.float64).tolist(),
            "effort": [],
        }
        out: list[tuple[str, dict[str, Any]]] = [("joint_states", js)]
        if "goal_pos" in state and "goal" in self.profile.inputs:
            out.append(("goal", {"header": header(t, "world"), "point": xyz(state["goal_pos"])}))
        if "object_pos" in state and "object" in self.profile.inputs:
            out.append(
                (
                    "object",
                    {
                        "header": header(t, "world"),
                        "child_frame_id": "object",
                        "pose": {
                            "pose": {
                                "position": xyz(state["object_pos"]),
                                "orientation": xyzw(state["object_quat"]),
                            }
                        },
                        "twist": {
                            "twist": {
                                "linear": xyz(state["object_vel"]),
                                "angular": xyz(state["object_angvel"]),
                            }
                        },
                    },
                )
            )
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
        return self._trajectory(t, self.targets(action))

    def fallback(self, t: float, entering: bool) -> list[Output]:
        # hold where the arm is now (once: the controller keeps holding the last target)
        return self._trajectory(t, self.q) if entering and self.q is not None else []


class ArmForwardAdapter(ArmAdapter):
    """Float64MultiArray of joint positions in the controller's joint order."""

    def _array(self, positions: np.ndarray) -> list[Output]:
        return [
            self._out(
                "commands", {"layout": {"dim": [], "data_offset": 0}, "data": positions.tolist()}
            )
        ]

    def command(self, action: np.ndarray, t: float) -> list[Output]:
        return self._array(self.targets(action))

    def fallback(self, t: float, entering: bool) -> list[Output]:
        return self._array(self.q) if entering and self.q is not None else []
