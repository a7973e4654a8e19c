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

        This runs at every physics tick of every env, so it is one flat routine (velocity
        loop, rate loop and mixer inlined, constants bound at import): a call costs about
        half of what the same arithmetic spread over three functions and class attributes
        did. The arithmetic and its order are unchanged, so trajectories stay bit-identical.

        Args:
            vel: world-frame linear velocity, m/s.
            rot: row-major rotation matrix body -> world (PyBullet's getMatrixFromQuaternion).
            ang_vel: world-frame angular velocity, rad/s.
        """
        mode = self.mode
        if mode == "motors":
            return self._rpm
        r00, r01, r02, r10, r11, r12, r20, r21, r22 = rot
        if mode == "velocity":
            # PI velocity control -> desired thrust vector -> desired body rates (tilt-limited)
            vx_sp, vy_sp, vz_sp, wdz = self._sp
            dt = self.dt
            ex, ey, ez = vx_sp - vel[0], vy_sp - vel[1], vz_sp - vel[2]
            ix = self._ix + _KI * ex * dt
            ix = -_ILIM if ix < -_ILIM else (_ILIM if ix > _ILIM else ix)
            iy = self._iy + _KI * ey * dt
            iy = -_ILIM if iy < -_ILIM else (_ILIM if iy > _ILIM else iy)
            iz = self._iz + _KIZ * ez * dt
            iz = -_ILIM if iz < -_ILIM else (_ILIM if iz > _ILIM else iz)
            self._ix, self._iy, self._iz = ix, iy, iz
            ax = _KV * ex + ix
            ay = _KV * ey + iy
            az = _KVZ * ez + iz + _G
            if az < _AZ_MIN:
                az = _AZ_MIN
            # Limit tilt: horizontal acceleration at most tan(MAX_TILT) times the vertical one.
            ah = _sqrt(ax * ax + ay * ay)
            amax = az * _TAN_TILT
            if ah > amax:
                ax, ay = ax * amax / ah, ay * amax / ah
            fx, fy, fz = _M * ax, _M * ay, _M * az
            thrust = fx * r02 + fy * r12 + fz * r22
            thrust = 0.0 if thrust < 0.0 else (_THRUST_MAX if thrust > _THRUST_MAX else thrust)
            norm = _sqrt(fx * fx + fy * fy + fz * fz)
            zx, zy, zz = fx / norm, fy / norm, fz / norm
            # attitude error: body z axis -> desired z axis, cross product in world, then body
            ewx = r12 * zz - r22 * zy
            ewy = r22 * zx - r02 * zz
            ewz = r02 * zy - r12 * zx
            wdx = _KATT * (r00 * ewx + r10 * ewy + r20 * ewz)
            wdy = _KATT * (r01 * ewx + r11 * ewy + r21 * ewz)
        else:
            thrust, wdx, wdy, wdz = self._sp
        wx, wy, wz = ang_vel
        # body rates = R^T w; rate loop -> torques -> per-rotor thrust (model.mix, inlined)
        tx = _IXX * _KRATE * (wdx - (r00 * wx + r10 * wy + r20 * wz))
        ty = _IYY * _KRATE * (wdy - (r01 * wx + r11 * wy + r21 * wz))
        tz = _IZZ * _KYAW * (wdz - (r02 * wx + r12 * wy + r22 * wz))
        t4 = 0.25 * thrust
        rx = tx / _MIX_XY
        ry = ty / _MIX_XY
        rz = tz / _MIX_Z
        f1 = t4 - rx - ry + rz
        f2 = t4 - rx + ry - rz
        f3 = t4 + rx + ry + rz
        f4 = t4 + rx - ry - rz
        f1 = 0.0 if f1 < 0.0 else (_FMAX if f1 > _FMAX else f1)
        f2 = 0.0 if f2 < 0.0 else (_FMAX if f2 > _FMAX else f2)
        f3 = 0.0 if f3 < 0.0 else (_FMAX if f3 > _FMAX else f3)
        f4 = 0.0 if f4 < 0.0 else (_FMAX if f4 > _FMAX else f4)
        return (_sqrt(f1 / _KF), _sqrt(f2 / _KF), _sqrt(f3 / _KF), _sqrt(f4 / _KF))

    def integrate(self, vel: tuple[float, float, float]) -> None:
        """Advance the velocity integrators by one tick without computing rotor speeds.

        The sim calls this once per control step before the tick loop: the controller has
        always integrated once there (its rotor speeds were then recomputed at the first
        tick), and keeping that step keeps every trajectory what it was.
        """
        if self.mode != "velocity":
            return
        vx_sp, vy_sp, vz_sp, _ = self._sp
        dt = self.dt
        ix = self._ix + _KI * (vx_sp - vel[0]) * dt
        iy = self._iy + _KI * (vy_sp - vel[1]) * dt
        iz = self._iz + _KIZ * (vz_sp - vel[2]) * dt
        self._ix = -_ILIM if ix < -_ILIM else (_ILIM if ix > _ILIM else ix)
        self._iy = -_ILIM if iy < -_ILIM else (_ILIM if iy > _ILIM else iy)
        self._iz = -_ILIM if iz < -_ILIM else (_ILIM if iz > _ILIM else iz)


# Constants of the hot routine, bound once (module globals are cheaper than class attributes).
_KV, _KI, _KVZ, _KIZ = (
    FlightController.KV,
    FlightController.KI,
    FlightController.KVZ,
    FlightController.KIZ,
)
_KATT, _KRATE, _KYAW = FlightController.KATT, FlightController.KRATE, FlightController.KYAW
_ILIM = FlightController.I_LIMIT
_G = model.GRAVITY
_AZ_MIN = 0.2 * model.GRAVITY
_TAN_TILT = math.tan(MAX_TILT)
_M = model.MASS
_THRUST_MAX = 4.0 * model.MAX_ROTOR_THRUST
_IXX, _IYY, _IZZ = model.IXX, model.IYY, model.IZZ
_MIX_XY = 4.0 * model.ARM_XY
_MIX_Z = 4.0 * model.TORQUE_PER_THRUST
_FMAX = model.MAX_ROTOR_THRUST
_KF = model.KF
_sqrt = math.sqrt
