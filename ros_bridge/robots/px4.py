"""PX4 over uXRCE-DDS (px4_msgs): offboard velocity control, gated on VehicleStatus.

What PX4's developers expect of an offboard node, and what this adapter does:

* The OffboardControlMode heartbeat and a setpoint stream from READY on (PX4 accepts the
  switch to Offboard only while they arrive at > 2 Hz); in READY the setpoint is zero velocity.
* The policy flies only while VehicleStatus says armed and ``nav_state`` Offboard; disarming or
  leaving Offboard (the pilot took over, or a PX4 failsafe) ends ACTIVE at once.
* FALLBACK holds position where the vehicle is (a position setpoint), then after
  ``params.land_after_s`` sends VEHICLE_CMD_NAV_LAND; when FALLBACK ends the stream stops, and
  PX4's own offboard-loss failsafe (COM_OF_LOSS_T, COM_OBL_RC_ACT) takes over if it still is in
  Offboard.
* OffboardControlMode's layout follows ``params.px4_version`` (v1.14: ``actuator``; v1.15 on:
  ``thrust_and_torque`` and ``direct_actuator``).
* State from VehicleOdometry (``params.state_input: odometry``), or from VehicleLocalPosition
  + VehicleAttitude (``local_position``; body rates from VehicleAngularVelocity when it is
  recorded, else from successive attitudes). Samples PX4 marks invalid are rejected.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import frames
from ..bundle import PolicyBundle
from ..measurement import Measurement
from ..messages import Output
from ..profiles import Profile
from .base import AdapterError
from .drone import NAN3, DroneAdapter, PositionHold

ARMING_STATE_ARMED = 2
NAVIGATION_STATE_OFFBOARD = 14
VEHICLE_CMD_NAV_LAND = 21


def _version(text: str) -> tuple[int, int]:
    try:
        major, minor = (int(p) for p in str(text).split(".")[:2])
    except ValueError:
        raise AdapterError(f"params.px4_version must look like 1.15, got {text!r}") from None
    return major, minor


class Px4Adapter(DroneAdapter):
    """px4_msgs in (odometry or local position + attitude, status); offboard setpoints out."""

    POSE_FRAME_NED = 1
    VELOCITY_FRAME_NED = 1
    VELOCITY_FRAME_BODY_FRD = 3

    def __init__(self, profile: Profile, bundle: PolicyBundle) -> None:
        super().__init__(profile, bundle)
        self.version = _version(str(self.params.get("px4_version", "1.15")))
        if self.version < (1, 14):
            raise AdapterError("PX4 before v1.14 is not supported (px4_msgs layout, bridge)")
        self.state_input = str(self.params.get("state_input", "odometry"))
        if self.state_input not in ("odometry", "local_position"):
            raise AdapterError(
                "px4 params.state_input must be odometry or local_position, got "
                f"{self.state_input!r}"
            )
        self.hold = PositionHold(float(self.params.get("land_after_s", 2.0)))
        self._rates_seen = False

    def required_inputs(self) -> list[str]:
        if self.state_input == "odometry":
            return ["odometry"]
        return ["local_position", "attitude"]

    def status_role(self) -> str:
        return "vehicle_status"

    def _decode(self, role: str, msg: Any, t: float) -> None:
        if role == "vehicle_status":
            nav = int(msg.nav_state)
            armed = int(msg.arming_state) == ARMING_STATE_ARMED
            self.status = (t, armed, nav == NAVIGATION_STATE_OFFBOARD, f"nav_state {nav}")
        elif role == "odometry":
            self._read_vehicle_odometry(msg)
        elif role == "local_position":
            if not (msg.xy_valid and msg.z_valid and msg.v_xy_valid and msg.v_z_valid):
                raise AdapterError("VehicleLocalPosition marks position or velocity invalid")
            self.pos = frames.ned_to_enu([msg.x, msg.y, msg.z])
            self.vel = frames.ned_to_enu([msg.vx, msg.vy, msg.vz])
        elif role == "attitude":
            q = frames.quat_ned_frd_to_enu_flu([float(c) for c in msg.q])
            self.quat = q
            if not self._rates_seen:
                self.rates_from_attitude(q, t)
        elif role == "angular_velocity":
            self._rates_seen = True
            self.ang_vel = frames.frd_to_flu(msg.xyz)

    def _read_vehicle_odometry(self, msg: Any) -> None:
        if int(msg.pose_frame) != self.POSE_FRAME_NED:
            raise AdapterError(
                f"VehicleOdometry pose_frame {int(msg.pose_frame)} is not NED (1): the policy "
                "needs a gravity-aligned, north-referenced position (check EKF2 settings)"
            )
        self.pos = frames.ned_to_enu(msg.position)
        self.quat = frames.quat_ned_frd_to_enu_flu([float(c) for c in msg.q])
        v = np.asarray(msg.velocity, np.float64)
        vf = int(msg.velocity_frame)
        if vf == self.VELOCITY_FRAME_NED:
            self.vel = frames.ned_to_enu(v)
        elif vf == self.VELOCITY_FRAME_BODY_FRD:
            self.vel = frames.rotate(self.quat, frames.frd_to_flu(v))
        else:
            raise AdapterError(f"VehicleOdometry velocity_frame {vf} is neither NED nor BODY_FRD")
        self.ang_vel = frames.frd_to_flu(msg.angular_velocity)

    # ------------------------------------------------------------------ commands
    def _mode(self, us: int, *, position: bool) -> Output:
        data: dict[str, Any] = {
            "timestamp": us,
            "position": position,
            "velocity": not position,
            "acceleration": False,
            "attitude": False,
            "body_rate": False,
        }
        if self.version >= (1, 15):
            data.update(thrust_and_torque=False, direct_actuator=False)
        else:
            data["actuator"] = False
        return self._out("offboard_mode", data)

    def _setpoint(self, t: float, v_enu: np.ndarray, yaw_rate: float) -> list[Output]:
        us = int(t * 1e6)
        return [
            self._mode(us, position=False),
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
        self.hold.clear()
        v, r = self.velocity_command(action)
        return self._setpoint(t, v, r)

    def idle(self, t: float) -> list[Output]:
        # PX4 only accepts a switch to Offboard while setpoints stream: hold (zero velocity).
        self.hold.clear()
        return self._setpoint(t, np.zeros(3), 0.0)

    def fallback(self, t: float, entering: bool) -> list[Output]:
        p, yaw, land = self.hold.step(t, entering, self.pos, self.quat)
        p_ned = frames.enu_to_ned(p)
        yaw_ned = math.pi / 2 - yaw  # PX4's yaw is about NED down from north
        us = int(t * 1e6)
        out = [
            self._mode(us, position=True),
            self._out(
                "setpoint",
                {
                    "timestamp": us,
                    "position": p_ned.tolist(),
                    "velocity": NAN3,
                    "acceleration": NAN3,
                    "jerk": NAN3,
                    "yaw": math.atan2(math.sin(yaw_ned), math.cos(yaw_ned)),
                    "yawspeed": math.nan,
                },
            ),
        ]
        if land and "command" in self.profile.outputs:
            out.append(self._land(us))
        return out

    def _land(self, us: int) -> Output:
        sysid = int(self.params.get("target_system", 1))
        return self._out(
            "command",
            {
                "timestamp": us,
                "param1": 0.0,
                "param2": 0.0,
                "param3": 0.0,
                "param4": math.nan,  # keep the current yaw
                "param5": math.nan,  # land where the vehicle is
                "param6": math.nan,
                "param7": math.nan,
                "command": VEHICLE_CMD_NAV_LAND,
                "target_system": sysid,
                "target_component": 1,
                "source_system": sysid,
                "source_component": 1,
                "from_external": True,
            },
        )

    def encode_inputs(
        self, m: Measurement, t: float, goal: Any = None
    ) -> list[tuple[str, dict[str, Any]]]:
        us = int(t * 1e6)
        q_ned = frames.quat_enu_flu_to_ned_frd(m.orientation).tolist()
        status = {
            "timestamp": us,
            "arming_state": ARMING_STATE_ARMED,
            "nav_state": NAVIGATION_STATE_OFFBOARD,
        }
        out: list[tuple[str, dict[str, Any]]] = [("vehicle_status", status)]
        if self.state_input == "local_position":
            p, v = frames.enu_to_ned(m.position), frames.enu_to_ned(m.velocity)
            local = {
                "timestamp": us,
                "timestamp_sample": us,
                "xy_valid": True,
                "z_valid": True,
                "v_xy_valid": True,
                "v_z_valid": True,
                **dict(zip(("x", "y", "z"), p.tolist(), strict=True)),
                **dict(zip(("vx", "vy", "vz"), v.tolist(), strict=True)),
            }
            rates = {"timestamp": us, "timestamp_sample": us}
            rates["xyz"] = frames.flu_to_frd(m.body_rates).tolist()
            out += [
                ("local_position", local),
                ("attitude", {"timestamp": us, "timestamp_sample": us, "q": q_ned}),
                ("angular_velocity", rates),
            ]
        else:
            odom = {
                "timestamp": us,
                "timestamp_sample": us,
                "pose_frame": self.POSE_FRAME_NED,
                "position": frames.enu_to_ned(m.position).tolist(),
                "q": q_ned,
                "velocity_frame": self.VELOCITY_FRAME_NED,
                "velocity": frames.enu_to_ned(m.velocity).tolist(),
                "angular_velocity": frames.flu_to_frd(m.body_rates).tolist(),
                "position_variance": [0.0, 0.0, 0.0],
                "orientation_variance": [0.0, 0.0, 0.0],
                "velocity_variance": [0.0, 0.0, 0.0],
            }
            out.append(("odometry", odom))
        return [*out, *self.goal_input(goal, t, self.frame_id)]
