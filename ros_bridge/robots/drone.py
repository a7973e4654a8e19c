"""Drone adapters on nav_msgs/Odometry: the shared drone state, a generic driver and MAVROS."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import frames
from ..bundle import PolicyBundle
from ..measurement import Measurement
from ..messages import Output, header, quat, vec3, xyz, xyzw
from ..profiles import Profile
from .base import Adapter, AdapterError

NAN3 = [math.nan, math.nan, math.nan]


class PositionHold:
    """FALLBACK of the autopilot profiles (PX4, MAVROS): hold the position and heading the
    vehicle had when FALLBACK began, then ask it to land once, ``land_after_s`` later.

    Args:
        land_after_s: how long to hold before the land request.
    """

    def __init__(self, land_after_s: float) -> None:
        if not math.isfinite(land_after_s) or land_after_s < 0:
            raise AdapterError(f"params.land_after_s must be >= 0 s, got {land_after_s}")
        self.land_after = land_after_s
        self._hold: tuple[float, np.ndarray, float] | None = None
        self._land_sent = False

    def clear(self) -> None:
        """The policy or READY's stream took over: the next FALLBACK holds afresh."""
        self._hold = None

    def step(
        self, t: float, entering: bool, pos: np.ndarray, quat: np.ndarray
    ) -> tuple[np.ndarray, float, bool]:
        """(ENU hold position, ENU hold yaw, whether to send the land request now)."""
        if entering or self._hold is None:
            self._hold = (t, np.array(pos, np.float64), frames.yaw(quat))
            self._land_sent = False
        t0, p, yaw = self._hold
        land = not self._land_sent and t - t0 >= self.land_after
        self._land_sent = self._land_sent or land
        return p, yaw, land


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
        self._prev_att: tuple[float, np.ndarray] | None = None
        self.frame_id = str(self.params.get("frame_id", "map"))
        #: Latest vehicle status: (receive time, armed, in the policy's flight mode, mode text).
        self.status: tuple[float, bool, bool, str] | None = None
        self.status_timeout = float(self.params.get("status_timeout_s", 2.0))

    def has_state(self) -> bool:
        return (
            self.pos is not None
            and self.quat is not None
            and self.vel is not None
            and (self.ang_vel is not None)
        )

    def measurement(self) -> Measurement:
        return Measurement(
            position=self.pos, orientation=self.quat, velocity=self.vel, body_rates=self.ang_vel
        )

    def probe(self) -> Measurement:
        return Measurement(
            position=np.array([0.0, 0.0, 1.0]),
            orientation=np.array([0.0, 0.0, 0.0, 1.0]),
            velocity=np.zeros(3),
            body_rates=np.zeros(3),
        )

    def control_granted(self, t: float) -> tuple[bool | None, str]:
        """Gated on the vehicle's status when the profile reads one (armed and in the mode)."""
        if not self.status_role():
            return True, ""
        if self.status is None:
            return None, "no vehicle status received yet"
        t0, armed, mode_ok, mode = self.status
        if t - t0 > self.status_timeout:
            return None, f"vehicle status is {t - t0:.2f} s old (> {self.status_timeout:g} s)"
        if not armed:
            return False, "the vehicle is disarmed"
        if not mode_ok:
            return False, f"the vehicle is in mode {mode}, not the offboard mode"
        return True, ""

    def status_role(self) -> str:
        """The input role carrying the vehicle's arming state and mode ("" when none)."""
        return ""

    def state_roles(self) -> set[str]:
        return super().state_roles() - {self.status_role()}

    def velocity_command(self, action: np.ndarray) -> tuple[np.ndarray, float]:
        """(world ENU velocity m/s, yaw rate rad/s) of a normalized velocity-mode action."""
        cmd = action[:4] * self.scale
        return cmd[:3], float(cmd[3])

    def rates_from_attitude(self, q: np.ndarray, t: float) -> None:
        """Body rates by differencing successive attitudes (for sources without a gyro)."""
        if self._prev_att is not None and t > self._prev_att[0]:
            self.ang_vel = frames.body_rates(self._prev_att[1], q, t - self._prev_att[0])
        self._prev_att = (t, q)

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

    def _odometry_fields(self, m: Measurement, t: float, child: str) -> dict[str, Any]:
        q = np.asarray(m.orientation, np.float64)
        vel = np.asarray(m.velocity, np.float64)
        ang = np.asarray(m.body_rates, np.float64)
        if self.params.get("twist_frame", "body") == "body":
            lin = frames.rotate_inverse(q, vel)
        else:
            lin, ang = vel, frames.rotate(q, ang)
        return {
            "header": header(t, self.frame_id),
            "child_frame_id": child,
            "pose": {"pose": {"position": xyz(m.position), "orientation": xyzw(q)}},
            "twist": {"twist": {"linear": xyz(lin), "angular": xyz(ang)}},
        }


class MavrosAdapter(DroneAdapter):
    """MAVROS: local_position/odom and state in; setpoint_velocity/cmd_vel (TwistStamped) out.

    Setpoints stream from READY on (zero velocity: PX4 and ArduPilot accept the switch to
    OFFBOARD / GUIDED only while they arrive); the policy flies only while /mavros/state says
    armed and in one of ``params.offboard_modes``. FALLBACK holds the position where the
    vehicle is (``setpoint_position/local``, ENU pose: MAVROS sends it as a position-only
    SET_POSITION_TARGET_LOCAL_NED), then after ``params.land_after_s`` calls ``cmd/land``
    (MAV_CMD_NAV_LAND: PX4 switches to AUTO.LAND, ArduPilot to LAND, both where the vehicle
    is); when FALLBACK ends the stream stops and the autopilot's offboard-loss failsafe takes
    over if it still is in OFFBOARD / GUIDED.
    """

    def __init__(self, profile: Profile, bundle: PolicyBundle) -> None:
        super().__init__(profile, bundle)
        self.hold = PositionHold(float(self.params.get("land_after_s", 2.0)))

    def status_role(self) -> str:
        return "state" if "state" in self.profile.inputs else ""

    def _decode(self, role: str, msg: Any, t: float) -> None:
        if role == "state":
            modes = [str(m) for m in self.params.get("offboard_modes", ["OFFBOARD", "GUIDED"])]
            mode = str(msg.mode)
            self.status = (t, bool(msg.armed) and bool(msg.connected), mode in modes, mode)
            return
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
        self.hold.clear()
        return self._twist(t, *self.velocity_command(action))

    def idle(self, t: float) -> list[Output]:
        self.hold.clear()
        return self._twist(t, np.zeros(3), 0.0)

    def fallback(self, t: float, entering: bool) -> list[Output]:
        if "position_setpoint" not in self.profile.outputs:  # a profile of its own without it
            return self._twist(t, np.zeros(3), 0.0)
        p, yaw, land = self.hold.step(t, entering, self.pos, self.quat)
        pose = {"position": xyz(p), "orientation": xyzw(frames.yaw_to_quat(yaw))}
        out = [self._out("position_setpoint", {"header": header(t, self.frame_id), "pose": pose})]
        if land and "land" in self.profile.services:
            # NaN: keep the heading, land where the vehicle is (ArduPilot ignores them)
            nan = math.nan
            request = {"min_pitch": 0.0, "yaw": nan, "latitude": nan, "longitude": nan}
            out.append(
                Output(
                    "service",
                    "land",
                    self.profile.services["land"].type,
                    {**request, "altitude": nan},
                )
            )
        return out

    def encode_inputs(
        self, m: Measurement, t: float, goal: Any = None
    ) -> list[tuple[str, dict[str, Any]]]:
        out = [("odometry", self._odometry_fields(m, t, "base_link"))]
        if self.status_role():
            mode = str(self.params.get("offboard_modes", ["OFFBOARD"])[0])
            status = {"header": header(t, ""), "connected": True, "armed": True, "mode": mode}
            out.append(("state", status))
        return [*out, *self.goal_input(goal, t, self.frame_id)]


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

    def encode_inputs(
        self, m: Measurement, t: float, goal: Any = None
    ) -> list[tuple[str, dict[str, Any]]]:
        imu = {
            "header": header(t, "base_link"),
            "orientation": xyzw(m.orientation),
            "angular_velocity": xyz(m.body_rates),
            "linear_acceleration": xyz((0.0, 0.0, 9.81)),
        }
        return [
            ("odometry", self._odometry_fields(m, t, "base_link")),
            ("imu", imu),
            *self.goal_input(goal, t, self.frame_id),
        ]
