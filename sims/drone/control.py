"""Onboard-style flight controllers that turn a policy action into rotor speed commands.

The three action modes are the interfaces real flight stacks accept, so a policy trained here
can be flown through PX4, MAVROS or the Crazyflie firmware:

* ``velocity`` (default): world-frame velocity setpoint + yaw rate, tracked by a cascaded
  PI-velocity -> attitude -> body-rate controller, like PX4's offboard velocity control and the
  Crazyflie's ``cmd_hover``/``cmd_vel``;
* ``ctbr``: collective thrust and body rates, tracked by the rate loop alone;
* ``motors``: normalized full-range rotor speed commands, no controller.

The controllers run at the physics rate and use the *nominal* airframe, so randomized mass or
motor constants show up as model mismatch, as they would on a real vehicle. Everything here is
plain float arithmetic: at 240 Hz inside Python, numpy calls on 3-vectors would cost more than
the physics step.
"""

from __future__ import annotations

import math

from sims.drone import model

ACTION_MODES = ("velocity", "ctbr", "motors")

#: Largest commanded body rate (roll, pitch) and yaw rate in ``ctbr`` mode, rad/s.
MAX_BODY_RATE = 6.0
MAX_YAW_RATE = 3.0
#: Largest tilt the velocity controller commands, rad.
MAX_TILT = math.radians(35.0)


class FlightController:
    """Maps a normalized action to rotor speeds (rpm) at every physics tick.

    Args:
        mode: ``velocity``, ``ctbr`` or ``motors``.
        dt: physics time step, s.
        max_speed: horizontal speed limit of the ``velocity`` mode, m/s.
        max_vz: vertical speed limit of the ``velocity`` mode, m/s.
        max_yaw_rate: yaw-rate limit of the ``velocity`` mode, rad/s.
    """

    # Gains tuned on the nominal Crazyflie with a 30 ms motor lag (see tests/test_drone_control.py).
    KV = 3.0  # horizontal velocity P, 1/s
    KI = 1.5  # horizontal velocity I, 1/s^2
    KVZ = 4.0  # vertical velocity P, 1/s
    KIZ = 3.0  # vertical velocity I, 1/s^2
    KATT = 8.0  # attitude P, 1/s
    KRATE = 22.0  # roll/pitch rate P, 1/s
    KYAW = 10.0  # yaw rate P, 1/s
    I_LIMIT = 2.0  # integrator clamp, m/s^2

    def __init__(
        self,
        mode: str,
        dt: float,
        max_speed: float = 1.0,
        max_vz: float = 1.0,
        max_yaw_rate: float = math.pi / 2,
    ) -> None:
        if mode not in ACTION_MODES:
            raise ValueError(f"unknown drone action mode {mode!r}; choose one of {ACTION_MODES}")
        self.mode = mode
        self.dt = dt
        self.max_speed = max_speed
        self.max_vz = max_vz
        self.max_yaw_rate = max_yaw_rate
        self.reset()

    def reset(self) -> None:
        """Clear integrators and hold the motors off until the first action arrives."""
        self._ix = self._iy = self._iz = 0.0
        self._sp = (0.0, 0.0, 0.0, 0.0)
        self._rpm = (0.0, 0.0, 0.0, 0.0)

    def set_action(self, a: tuple[float, ...]) -> None:
        """Latch a new normalized action (already clipped to [-1, 1])."""
        if self.mode == "velocity":
            s, z, y = self.max_speed, self.max_vz, self.max_yaw_rate
            self._sp = (a[0] * s, a[1] * s, a[2] * z, a[3] * y)
        elif self.mode == "ctbr":
            self._sp = (
                (a[0] + 1.0) * 2.0 * model.MAX_ROTOR_THRUST,
                a[1] * MAX_BODY_RATE,
                a[2] * MAX_BODY_RATE,
                a[3] * MAX_YAW_RATE,
            )
        else:
            m = model.MAX_RPM
            self._rpm = tuple(0.5 * (x + 1.0) * m for x in a[:4])  # type: ignore[assignment]

    def rotor_speeds(
        self,
        vel: tuple[float, float, float],
        rot: tuple[float, ...],
        ang_vel: tuple[float, float, float],
    ) -> tuple[float, float, float, float]:
        """Rotor speed commands for the current state.

        Args:
            vel: world-frame linear velocity, m/s.
            rot: row-major rotation matrix body -> world (PyBullet's getMatrixFromQuaternion).
            ang_vel: world-frame angular velocity, rad/s.
        """
        if self.mode == "motors":
            return self._rpm
        r00, r01, r02, r10, r11, r12, r20, r21, r22 = rot
        if self.mode == "velocity":
            thrust, wdx, wdy, wdz = self._velocity_loop(vel, rot)
        else:
            thrust, wdx, wdy, wdz = self._sp
        wx, wy, wz = ang_vel
        # body rates = R^T w
        bx = r00 * wx + r10 * wy + r20 * wz
        by = r01 * wx + r11 * wy + r21 * wz
        bz = r02 * wx + r12 * wy + r22 * wz
        kr = self.KRATE
        f1, f2, f3, f4 = model.mix(
            thrust,
            model.IXX * kr * (wdx - bx),
            model.IYY * kr * (wdy - by),
            model.IZZ * self.KYAW * (wdz - bz),
        )
        kf = model.KF
        sqrt = math.sqrt
        return (sqrt(f1 / kf), sqrt(f2 / kf), sqrt(f3 / kf), sqrt(f4 / kf))

    def _velocity_loop(
        self, vel: tuple[float, float, float], rot: tuple[float, ...]
    ) -> tuple[float, float, float, float]:
        """PI velocity control -> desired thrust vector -> desired body rates (tilt-limited)."""
        r00, r01, r02, r10, r11, r12, r20, r21, r22 = rot
        vx_sp, vy_sp, vz_sp, yaw_rate = self._sp
        dt, lim = self.dt, self.I_LIMIT
        ex, ey, ez = vx_sp - vel[0], vy_sp - vel[1], vz_sp - vel[2]
        self._ix = max(-lim, min(lim, self._ix + self.KI * ex * dt))
        self._iy = max(-lim, min(lim, self._iy + self.KI * ey * dt))
        self._iz = max(-lim, min(lim, self._iz + self.KIZ * ez * dt))
        g = model.GRAVITY
        ax = self.KV * ex + self._ix
        ay = self.KV * ey + self._iy
        az = max(self.KVZ * ez + self._iz + g, 0.2 * g)
        # Limit tilt: horizontal acceleration at most tan(MAX_TILT) times the vertical one.
        ah = math.sqrt(ax * ax + ay * ay)
        amax = az * math.tan(MAX_TILT)
        if ah > amax:
            ax, ay = ax * amax / ah, ay * amax / ah
        m = model.MASS
        fx, fy, fz = m * ax, m * ay, m * az
        thrust = fx * r02 + fy * r12 + fz * r22
        thrust = 0.0 if thrust < 0.0 else min(thrust, 4.0 * model.MAX_ROTOR_THRUST)
        norm = math.sqrt(fx * fx + fy * fy + fz * fz)
        zx, zy, zz = fx / norm, fy / norm, fz / norm
        # attitude error: body z axis -> desired z axis, cross product in world, then in body
        ewx = r12 * zz - r22 * zy
        ewy = r22 * zx - r02 * zz
        ewz = r02 * zy - r12 * zx
        k = self.KATT
        wdx = k * (r00 * ewx + r10 * ewy + r20 * ewz)
        wdy = k * (r01 * ewx + r11 * ewy + r21 * ewz)
        return thrust, wdx, wdy, yaw_rate
