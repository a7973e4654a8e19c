"""Robot adapters: how each profile's messages become robot state and commands become messages.

An adapter keeps the latest robot state decoded from its inputs (always in the task's
conventions: ENU world, FLU body, (x, y, z, w) quaternions, joints in the policy's order), turns
a normalized policy action into the stack's command messages, says what to send while idle
(READY) and on a fault (FALLBACK), and, for the bag tools, encodes a simulated state as the
messages the real stack would publish (the exact inverse of decoding).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import numpy as np

from . import frames
from .bundle import PolicyBundle
from .kinematics import SerialChain
from .messages import Output, duration, header, quat, vec3, xyz, xyzw
from .profiles import Profile

NAN3 = [math.nan, math.nan, math.nan]


class AdapterError(ValueError):
    """A bundle and profile that do not fit together, or a message the adapter cannot use."""


class Adapter:
    """Base class: latest goal and input bookkeeping shared by every robot."""

    robot: ClassVar[str]
    #: Input roles always needed; profile inputs marked ``required: false`` are optional.
    state_inputs: ClassVar[tuple[str, ...]] = ()

    def __init__(self, profile: Profile, bundle: PolicyBundle) -> None:
        self.profile = profile
        self.bundle = bundle
        self.params = dict(profile.params)
        self.command_model = bundle.command
        mode = bundle.meta["action"]["mode"]
        if mode not in profile.action_modes:
            raise AdapterError(
                f"profile {profile.name!r} supports action modes {list(profile.action_modes)}, "
                f"but the bundle's policy ({bundle.task_id}) uses {mode!r}; retrain in a "
                "supported mode or pick another profile"
            )
        if self.command_model.get("robot") != profile.robot:
            raise AdapterError(
                f"profile {profile.name!r} drives a {profile.robot}, but the bundle's task "
                f"{bundle.task_id} is a {self.command_model.get('robot')} task"
            )
        self.goal: np.ndarray | None = None
        self.dt = 1.0 / bundle.control_hz

    def required_inputs(self) -> list[str]:
        """Input roles that must be fresh before the policy may run."""
        return [r for r, spec in self.profile.inputs.items() if spec.required]

    def decode(self, role: str, msg: Any, t: float) -> None:
        """Fold one message into the state. Raises AdapterError for an unusable message."""
        if role == "goal":
            self.goal = np.array(vec3(msg.point))
            return
        self._decode(role, msg, t)

    def _decode(self, role: str, msg: Any, t: float) -> None:
        raise NotImplementedError

    def has_state(self) -> bool:
        raise NotImplementedError

    def on_activate(self, t: float) -> None:
        """Called when the policy takes control (resets integrators of a command variant)."""

    def command(self, action: np.ndarray, t: float) -> list[Output]:
        raise NotImplementedError

    def idle(self, t: float) -> list[Output]:
        """What to send in READY (before the explicit enable)."""
        return []

    def fallback(self, t: float, entering: bool) -> list[Output]:
        """What to send in FALLBACK; ``entering`` is True on its first tick."""
        return []

    def encode_inputs(self, state: Mapping[str, Any], t: float) -> list[tuple[str, dict[str, Any]]]:
        """Messages (role, fields) the robot stack would publish for a simulated state."""
        raise NotImplementedError

    def _out(self, role: str, data: dict[str, Any]) -> Output:
        return Output("topic", role, self.profile.outputs[role].type, data)


# ---------------------------------------------------------------------------------- drones


class DroneAdapter(Adapter):
    """State: position (ENU), attitude (FLU->ENU, xyzw), world velocity, body rates (FLU)."""

    robot = "drone"

    def __init__(self, profile: Profile, bundle: PolicyBundle) -> None:
        super().__init__(profile, bundle)
        kind = self.command_model.get("kind")
        if kind != "velocity":
            raise AdapterError(
                f"profile {profile.name!r} sends velocity setpoints; the bundle's command kind "
                f"is {kind!r}"
            )
        self.scale = np.asarray(self.command_model["scale"], np.float64)
        self.pos: np.ndarray | None = None
        self.quat: np.ndarray | None = None
        self.vel: np.ndarray | None = None
        self.ang_vel: np.ndarray | None = None
        self.frame_id = str(self.params.get("frame_id", "map"))

    def has_state(self) -> bool:
        return (
            self.pos is not None
            and self.quat is not None
            and self.vel is not None
            and (self.ang_vel is not None)
        )

    def velocity_command(self, action: np.ndarray) -> tuple[np.ndarray, float]:
        """(world ENU velocity m/s, yaw rate rad/s) of a normalized velocity-mode action."""
        cmd = action[:4] * self.scale
        return cmd[:3], float(cmd[3])

    # Odometry (REP-105: pose in header.frame_id, twist in child_frame_id = body)
    def _read_odometry(self, msg: Any) -> None:
        self.pos = np.array(vec3(msg.pose.pose.position))
        self.quat = np.array(quat(msg.pose.pose.orientation))
        lin = np.array(vec3(msg.twist.twist.linear))
        ang = np.array(vec3(msg.twist.twist.angular))
        if self.params.get("twist_frame", "body") == "body":
            self.vel = frames.rotate(self.quat, lin)
            self.ang_vel = ang
        else:
            self.vel = lin
            self.ang_vel = frames.rotate_inverse(self.quat, ang)

    def _odometry_fields(self, state: Mapping[str, Any], t: float, child: str) -> dict[str, Any]:
        q = np.asarray(state["quat"], np.float64)
        vel = np.asarray(state["vel"], np.float64)
        ang = np.asarray(state["ang_vel"], np.float64)
        if self.params.get("twist_frame", "body") == "body":
            lin = frames.rotate_inverse(q, vel)
        else:
            lin, ang = vel, frames.rotate(q, ang)
        return {
            "header": header(t, self.frame_id),
            "child_frame_id": child,
            "pose": {"pose": {"position": xyz(state["pos"]), "orientation": xyzw(q)}},
            "twist": {"twist": {"linear": xyz(lin), "angular": xyz(ang)}},
        }

    def _goal_input(self, state: Mapping[str, Any], t: float) -> list[tuple[str, dict[str, Any]]]:
        if "goal_rel" not in state or "goal" not in self.profile.inputs:
            return []
        goal = np.asarray(state["pos"]) + np.asarray(state["goal_rel"])
        return [("goal", {"header": header(t, self.frame_id), "point": xyz(goal)})]


class Px4Adapter(DroneAdapter):
    """px4_msgs: VehicleOdometry in; OffboardControlMode + TrajectorySetpoint out (NED)."""

    POSE_FRAME_NED = 1
    VELOCITY_FRAME_NED = 1
    VELOCITY_FRAME_BODY_FRD = 3

    def _decode(self, role: str, msg: Any, t: float) -> None:
        if int(msg.pose_frame) != self.POSE_FRAME_NED:
            raise AdapterError(
                f"VehicleOdometry pose_frame {int(msg.pose_frame)} is not NED (1): the policy "
                "needs a gravity-aligned, north-referenced position (check EKF2 settings)"
            )
        q_ned = msg.q
        self.pos = frames.ned_to_enu(msg.position)
        self.quat = frames.quat_ned_frd_to_enu_flu([float(c) for c in q_ned])
        v = np.asarray(msg.velocity, np.float64)
        vf = int(msg.velocity_frame)
        if vf == self.VELOCITY_FRAME_NED:
            self.vel = frames.ned_to_enu(v)
        elif vf == self.VELOCITY_FRAME_BODY_FRD:
            self.vel = frames.rotate(self.quat, frames.frd_to_flu(v))
        else:
            raise AdapterError(f"VehicleOdometry velocity_frame {vf} is neither NED nor BODY_FRD")
        self.ang_vel = frames.frd_to_flu(msg.angular_velocity)

    def _setpoint(self, t: float, v_enu: np.ndarray, yaw_rate: float) -> list[Output]:
        us = int(t * 1e6)
        return [
            self._out(
                "offboard_mode",
                {
                    "timestamp": us,
                    "position": False,
                    "velocity": True,
                    "acceleration": False,
                    "attitude": False,
                    "body_rate": False,
                },
            ),
            self._out(
                "setpoint",
                {
                    "timestamp": us,
                    # PX4 ignores NaN setpoint components: only velocity and yawspeed are used.
                    "position": NAN3,
                    "velocity": frames.enu_to_ned(v_enu).tolist(),
                    "acceleration": NAN3,
                    "jerk": NAN3,
                    "yaw": math.nan,
                    # yaw rate about ENU +z (up) is minus the rate about NED +z (down)
                    "yawspeed": -yaw_rate,
                },
            ),
        ]

    def command(self, action: np.ndarray, t: float) -> list[Output]:
        v, r = self.velocity_command(action)
        return self._setpoint(t, v, r)

    def idle(self, t: float) -> list[Output]:
        # PX4 only accepts a switch to Offboard while setpoints stream: hold (zero velocity).
        return self._setpoint(t, np.zeros(3), 0.0)

    def fallback(self, t: float, entering: bool) -> list[Output]:
        return self._setpoint(t, np.zeros(3), 0.0)

    def encode_inputs(self, state: Mapping[str, Any], t: float) -> list[tuple[str, dict[str, Any]]]:
        us = int(t * 1e6)
        odom = {
            "timestamp": us,
            "timestamp_sample": us,
            "pose_frame": self.POSE_FRAME_NED,
            "position": frames.enu_to_ned(state["pos"]).tolist(),
            "q": frames.quat_enu_flu_to_ned_frd(state["quat"]).tolist(),
            "velocity_frame": self.VELOCITY_FRAME_NED,
            "velocity": frames.enu_to_ned(state["vel"]).tolist(),
            "angular_velocity": frames.flu_to_frd(state["ang_vel"]).tolist(),
            "position_variance": [0.0, 0.0, 0.0],
            "orientation_variance": [0.0, 0.0, 0.0],
            "velocity_variance": [0.0, 0.0, 0.0],
        }
        return [("odometry", odom), *self._goal_input(state, t)]


class MavrosAdapter(DroneAdapter):
    """MAVROS: local_position/odom in; setpoint_velocity/cmd_vel (TwistStamped, ENU) out."""

    def _decode(self, role: str, msg: Any, t: float) -> None:
        self._read_odometry(msg)

    def _twist(self, t: float, v: np.ndarray, r: float) -> list[Output]:
        return [
            self._out(
                "cmd_vel",
                {
                    "header": header(t, self.frame_id),
                    "twist": {"linear": xyz(v), "angular": {"x": 0.0, "y": 0.0, "z": r}},
                },
            )
        ]

    def command(self, action: np.ndarray, t: float) -> list[Output]:
        return self._twist(t, *self.velocity_command(action))

    def fallback(self, t: float, entering: bool) -> list[Output]:
        return self._twist(t, np.zeros(3), 0.0)

    def encode_inputs(self, state: Mapping[str, Any], t: float) -> list[tuple[str, dict[str, Any]]]:
        return [
            ("odometry", self._odometry_fields(state, t, "base_link")),
            *self._goal_input(state, t),
        ]


class GenericDroneAdapter(DroneAdapter):
    """Odometry (position, velocity) + Imu (attitude, body rates) in; Twist out."""

    def _decode(self, role: str, msg: Any, t: float) -> None:
        if role == "imu":
            self.quat = np.array(quat(msg.orientation))
            self.ang_vel = np.array(vec3(msg.angular_velocity))
            return
        pos_quat = self.quat
        self._read_odometry(msg)
        if pos_quat is not None:
            # the Imu's attitude is the fresher one; keep it
            self.quat = pos_quat

    def _twist(self, v: np.ndarray, r: float) -> list[Output]:
        if self.params.get("cmd_frame", "heading") == "heading":
            v = frames.world_to_heading(v, frames.yaw(self.quat))
        return [self._out("cmd_vel", {"linear": xyz(v), "angular": {"x": 0.0, "y": 0.0, "z": r}})]

    def command(self, action: np.ndarray, t: float) -> list[Output]:
        return self._twist(*self.velocity_command(action))

    def fallback(self, t: float, entering: bool) -> list[Output]:
        return self._twist(np.zeros(3), 0.0)

    def encode_inputs(self, state: Mapping[str, Any], t: float) -> list[tuple[str, dict[str, Any]]]:
        imu = {
            "header": header(t, "base_link"),
            "orientation": xyzw(state["quat"]),
            "angular_velocity": xyz(state["ang_vel"]),
            "linear_acceleration": xyz((0.0, 0.0, 9.81)),
        }
        return [
            ("odometry", self._odometry_fields(state, t, "base_link")),
            ("imu", imu),
            *self._goal_input(state, t),
        ]


class CrazyflieAdapter(DroneAdapter):
    """Crazyswarm2: odom or pose in; cmd_full_state or cmd_hover out; land service on faults."""

    def __init__(self, profile: Profile, bundle: PolicyBundle) -> None:
        super().__init__(profile, bundle)
        self.variant = str(self.params.get("command", "cmd_full_state"))
        if self.variant not in ("cmd_full_state", "cmd_hover"):
            raise AdapterError(
                f"crazyflie params.command must be cmd_full_state or cmd_hover, got {self.variant!r}"
            )
        self.state_input = str(self.params.get("state_input", "odometry"))
        if self.state_input not in ("odometry", "pose"):
            raise AdapterError(
                f"crazyflie params.state_input must be odometry or pose, got {self.state_input!r}"
            )
        timeout = float(self.params.get("setpoint_timeout_s", 2.0))
        staleness = profile.safety.get("staleness_s", 0.2)
        if staleness + 2 * self.dt >= timeout:
            raise AdapterError(
                f"safety.staleness_s = {staleness} s leaves no time to land before the "
                f"Crazyflie's {timeout} s setpoint timeout; use a smaller staleness limit"
            )
        self._prev_pose: tuple[float, np.ndarray, np.ndarray] | None = None
        self._z_ref = 0.0
        self._yaw_ref = 0.0

    def required_inputs(self) -> list[str]:
        return [self.state_input]

    def _decode(self, role: str, msg: Any, t: float) -> None:
        if role == "odometry":
            self._read_odometry(msg)
            return
        pos = np.array(vec3(msg.pose.position))
        q = np.array(quat(msg.pose.orientation))
        if self._prev_pose is not None and t > self._prev_pose[0]:
            t0, p0, q0 = self._prev_pose
            dt = t - t0
            self.vel = (pos - p0) / dt
            dq = frames.quat_multiply(frames.quat_conjugate(q0), q)
            if dq[3] < 0:
                dq = -dq
            self.ang_vel = 2.0 * dq[:3] / dt
        self._prev_pose = (t, pos, q)
        self.pos, self.quat = pos, q

    def on_activate(self, t: float) -> None:
        self._z_ref = float(self.pos[2])
        self._yaw_ref = frames.yaw(self.quat)

    def command(self, action: np.ndarray, t: float) -> list[Output]:
        v, r = self.velocity_command(action)
        if self.variant == "cmd_hover":
            # Hover holds an absolute height: integrate vz into it, kept near the real height
            # so a saturated climb cannot wind the reference up.
            z = float(self.pos[2])
            self._z_ref = min(max(self._z_ref + v[2] * self.dt, z - 0.2), z + 0.2)
            vh = frames.world_to_heading(v, frames.yaw(self.quat))
            return [
                self._out(
                    "cmd_hover",
                    {
                        "header": header(t, self.frame_id),
                        "vx": float(vh[0]),
                        "vy": float(vh[1]),
                        "yaw_rate": math.degrees(r),  # the firmware's hover setpoint is deg/s
                        "z_distance": self._z_ref,
                    },
                )
            ]
        self._yaw_ref = frames.yaw(self.quat) + r * self.dt
        return [
            self._out(
                "cmd_full_state",
                {
                    "header": header(t, self.frame_id),
                    "pose": {
                        # one control step ahead along the commanded velocity
                        "position": xyz(self.pos + v * self.dt),
                        "orientation": xyzw(frames.yaw_to_quat(self._yaw_ref)),
                    },
                    "twist": {"linear": xyz(v), "angular": {"x": 0.0, "y": 0.0, "z": r}},
                    "acc": xyz((0.0, 0.0, 0.0)),
                },
            )
        ]

    def fallback(self, t: float, entering: bool) -> list[Output]:
        if not entering:
            return []
        p = self.params
        svc = self.profile.services
        return [
            Output(
                "service",
                "notify_setpoints_stop",
                svc["notify_setpoints_stop"].type,
                {"group_mask": 0, "remain_valid_millisecs": 100},
            ),
            Output(
                "service",
                "land",
                svc["land"].type,
                {
                    "group_mask": 0,
                    "height": float(p.get("land_height", 0.0)),
                    "duration": duration(float(p.get("land_duration_s", 2.0))),
                },
            ),
        ]

    def encode_inputs(self, state: Mapping[str, Any], t: float) -> list[tuple[str, dict[str, Any]]]:
        if self.state_input == "pose":
            pose = {
                "header": header(t, self.frame_id),
                "pose": {"position": xyz(state["pos"]), "orientation": xyzw(state["quat"])},
            }
            return [("pose", pose), *self._goal_input(state, t)]
        return [
            ("odometry", self._odometry_fields(state, t, "cf231")),
            *self._goal_input(state, t),
        ]


# ---------------------------------------------------------------------------------- arms


class ArmAdapter(Adapter):
    """State: joint angles and velocities in the policy's joint order, plus an optional object."""

    robot = "arm"

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


ADAPTERS: dict[str, type[Adapter]] = {
    "px4": Px4Adapter,
    "mavros": MavrosAdapter,
    "crazyflie": CrazyflieAdapter,
    "generic_drone": GenericDroneAdapter,
    "arm_jtc": ArmJtcAdapter,
    "arm_forward": ArmForwardAdapter,
}


def make_adapter(profile: Profile, bundle: PolicyBundle) -> Adapter:
    """The adapter a profile names, checked against the bundle.

    Raises:
        AdapterError: for an unknown adapter name or a bundle the profile cannot drive.
    """
    try:
        cls = ADAPTERS[profile.adapter]
    except KeyError:
        raise AdapterError(
            f"profile {profile.name!r} names adapter {profile.adapter!r}; known adapters: "
            f"{sorted(ADAPTERS)}"
        ) from None
    return cls(profile, bundle)
