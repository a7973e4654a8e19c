"""Crazyflie through Crazyswarm2: low-level setpoints, landing through its services.

What Crazyswarm2's developers expect, and what this adapter does:

* The firmware stops the motors 2 s after the last low-level setpoint (``cmd_full_state``,
  ``cmd_hover``). So whenever the policy lets go -- the operator disables it, or any FALLBACK --
  the node calls ``notify_setpoints_stop`` (hand control back to the high-level commander)
  and then ``land``, at once, well inside those 2 s.
* ``Hover.yaw_rate`` is in rad/s (both servers convert it to the firmware's deg/s themselves).
* The odometry's meaning depends on the server (``params.backend``):
  ``cpp`` (crazyflie_server, C++): world-frame velocity from ``stateEstimateZ`` and *no*
  angular velocity (the server leaves ``twist.angular`` zero: its rate fields are commented
  out upstream); ``python`` (crazyflie_server_py): body-frame velocity (``kalman.statePX..Z``),
  body rates from the gyro in deg/s, and an attitude built with the firmware's legacy pitch
  sign (its ``pose`` topic negates ``stabilizer.pitch``, its ``odom`` topic does not); all
  three are converted here.
* Body rates where the state source has none (the C++ server's ``odom``, either server's
  ``pose``), by ``params.rates``: ``attitude`` (default) *estimates* them from two successive
  attitudes: the mean rate over the interval between them, exact for a constant rate and
  otherwise half an interval late (50 ms at the servers' default 10 Hz: raise the topic's
  frequency to the control rate), noisy by the firmware's compressed quaternion; ``gyro``
  reads the real gyro from a Crazyswarm2 custom log topic (``firmware_logging.custom_topics``,
  ``vars: [gyro.x, gyro.y, gyro.z]``, deg/s in the body frame, as the Python server's odometry
  carries them), exact and on time, and then required like the state itself.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import frames
from ..bundle import PolicyBundle
from ..measurement import Measurement
from ..messages import Output, duration, header, quat, vec3, xyz, xyzw
from ..profiles import Profile
from .base import AdapterError
from .drone import DroneAdapter

BACKENDS = ("cpp", "python")
RATES = ("attitude", "gyro")


def _legacy_pitch(q: np.ndarray) -> np.ndarray:
    """The attitude with its pitch negated (its own inverse)."""
    roll, pitch, yaw = frames.quat_to_euler(q)
    return frames.euler_to_quat(roll, -pitch, yaw)


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
        self.backend = str(self.params.get("backend", "cpp"))
        if self.backend not in BACKENDS:
            raise AdapterError(
                f"crazyflie params.backend must be one of {BACKENDS} (the Crazyswarm2 server "
                f"that publishes the odometry), got {self.backend!r}"
            )
        self.rates = str(self.params.get("rates", "attitude"))
        if self.rates not in RATES:
            raise AdapterError(
                f"crazyflie params.rates must be one of {RATES} (body rates estimated from "
                f"successive attitudes, or a gyro log topic), got {self.rates!r}"
            )
        if self.rates == "gyro" and self.gyro_in_odometry:
            raise AdapterError(
                "crazyflie params.rates: gyro is for sources without rates; the Python "
                "server's odometry already carries the gyro (set params.rates: attitude)"
            )
        timeout = float(self.params.get("setpoint_timeout_s", 2.0))
        staleness = profile.safety.get("staleness_s", 0.2)
        if staleness + 2 * self.dt >= timeout:
            raise AdapterError(
                f"safety.staleness_s = {staleness} s leaves no time to land before the "
                f"Crazyflie's {timeout} s setpoint timeout; use a smaller staleness limit"
            )
        self._prev_pose: tuple[float, np.ndarray] | None = None
        self._z_ref = 0.0
        self._yaw_ref = 0.0

    @property
    def gyro_in_odometry(self) -> bool:
        """Whether the state source carries the gyro (the Python server's odometry)."""
        return self.state_input == "odometry" and self.backend == "python"

    def required_inputs(self) -> list[str]:
        return [self.state_input, *(["gyro"] if self.rates == "gyro" else [])]

    def _rates(self, q: np.ndarray, t: float) -> None:
        if self.rates == "attitude":  # an estimate: see the module docstring
            self.rates_from_attitude(q, t)

    def _decode(self, role: str, msg: Any, t: float) -> None:
        if role == "gyro":
            values = [float(v) for v in msg.values]
            if len(values) < 3:
                raise AdapterError(
                    f"the gyro log carries {len(values)} values; log vars "
                    "[gyro.x, gyro.y, gyro.z] (deg/s) in that order"
                )
            self.ang_vel = np.radians(values[:3])
            return
        if role == "odometry":
            self.pos = np.array(vec3(msg.pose.pose.position))
            q = np.array(quat(msg.pose.pose.orientation))
            lin = np.array(vec3(msg.twist.twist.linear))
            if self.backend == "python":
                q = _legacy_pitch(q)
                self.vel = frames.rotate(q, lin)
                self.ang_vel = np.radians(vec3(msg.twist.twist.angular))
            else:
                self.vel = lin
                self._rates(q, t)
            self.quat = q
            return
        pos = np.array(vec3(msg.pose.position))
        q = np.array(quat(msg.pose.orientation))
        if self._prev_pose is not None and t > self._prev_pose[0]:
            self.vel = (pos - self._prev_pose[1]) / (t - self._prev_pose[0])
        self._prev_pose = (t, pos)
        self._rates(q, t)
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
                        # rad/s, counter-clockwise: both Crazyswarm2 servers convert to the
                        # firmware's deg/s (and its clockwise sign) themselves
                        "yaw_rate": float(r),
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

    def _land(self) -> list[Output]:
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

    def release(self, t: float) -> list[Output]:
        return self._land()

    def fallback(self, t: float, entering: bool) -> list[Output]:
        return self._land() if entering else []

    def encode_inputs(
        self, m: Measurement, t: float, goal: Any = None
    ) -> list[tuple[str, dict[str, Any]]]:
        q = np.asarray(m.orientation, np.float64)
        gyro = []
        if self.rates == "gyro":
            deg = np.degrees(np.asarray(m.body_rates, np.float64)).tolist()
            log = {"header": header(t, ""), "timestamp": int(t * 1e3) % 2**32, "values": deg}
            gyro = [("gyro", log)]
        if self.state_input == "pose":
            pose = {
                "header": header(t, self.frame_id),
                "pose": {"position": xyz(m.position), "orientation": xyzw(q)},
            }
            return [("pose", pose), *gyro, *self.goal_input(goal, t, self.frame_id)]
        if self.backend == "python":
            lin = frames.rotate_inverse(q, m.velocity)
            ang = np.degrees(np.asarray(m.body_rates, np.float64))
            q = _legacy_pitch(q)
        else:
            lin, ang = np.asarray(m.velocity, np.float64), np.zeros(3)
        odom = {
            "header": header(t, self.frame_id),
            "child_frame_id": "cf231",
            "pose": {"pose": {"position": xyz(m.position), "orientation": xyzw(q)}},
            "twist": {"twist": {"linear": xyz(lin), "angular": xyz(ang)}},
        }
        return [("odometry", odom), *gyro, *self.goal_input(goal, t, self.frame_id)]


__all__ = ["CrazyflieAdapter"]
