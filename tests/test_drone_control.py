"""The onboard flight controller: the flat hot routine computes exactly what the cascaded
controller is defined to compute (velocity PI -> attitude P -> rate P -> mixer)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sims.drone import model
from sims.drone.control import MAX_TILT, FlightController


class ReferenceController:
    """The controller written as its three stages (the form it had before it was inlined)."""

    def __init__(self, c: FlightController) -> None:
        self.c = c
        self.ix = self.iy = self.iz = 0.0

    def velocity_loop(self, sp, vel, rot):
        c = self.c
        r00, r01, r02, r10, r11, r12, r20, r21, r22 = rot
        vx_sp, vy_sp, vz_sp, yaw_rate = sp
        ex, ey, ez = vx_sp - vel[0], vy_sp - vel[1], vz_sp - vel[2]
        lim = c.I_LIMIT
        self.ix = max(-lim, min(lim, self.ix + c.KI * ex * c.dt))
        self.iy = max(-lim, min(lim, self.iy + c.KI * ey * c.dt))
        self.iz = max(-lim, min(lim, self.iz + c.KIZ * ez * c.dt))
        g = model.GRAVITY
        ax, ay = c.KV * ex + self.ix, c.KV * ey + self.iy
        az = max(c.KVZ * ez + self.iz + g, 0.2 * g)
        ah, amax = math.sqrt(ax * ax + ay * ay), az * math.tan(MAX_TILT)
        if ah > amax:
            ax, ay = ax * amax / ah, ay * amax / ah
        m = model.MASS
        fx, fy, fz = m * ax, m * ay, m * az
        thrust = min(max(fx * r02 + fy * r12 + fz * r22, 0.0), 4.0 * model.MAX_ROTOR_THRUST)
        norm = math.sqrt(fx * fx + fy * fy + fz * fz)
        zx, zy, zz = fx / norm, fy / norm, fz / norm
        ewx, ewy, ewz = r12 * zz - r22 * zy, r22 * zx - r02 * zz, r02 * zy - r12 * zx
        wdx = c.KATT * (r00 * ewx + r10 * ewy + r20 * ewz)
        wdy = c.KATT * (r01 * ewx + r11 * ewy + r21 * ewz)
        return thrust, wdx, wdy, yaw_rate

    def rotor_speeds(self, sp, vel, rot, ang):
        c = self.c
        r00, r01, r02, r10, r11, r12, r20, r21, r22 = rot
        if c.mode == "velocity":
            thrust, wdx, wdy, wdz = self.velocity_loop(sp, vel, rot)
        else:
            thrust, wdx, wdy, wdz = sp
        wx, wy, wz = ang
        bx = r00 * wx + r10 * wy + r20 * wz
        by = r01 * wx + r11 * wy + r21 * wz
        bz = r02 * wx + r12 * wy + r22 * wz
        f = model.mix(
            thrust,
            model.IXX * c.KRATE * (wdx - bx),
            model.IYY * c.KRATE * (wdy - by),
            model.IZZ * c.KYAW * (wdz - bz),
        )
        return tuple(math.sqrt(x / model.KF) for x in f)


def _rotation(rng: np.random.Generator) -> tuple[float, ...]:
    q = rng.normal(size=4)
    x, y, z, w = q / np.linalg.norm(q)
    return tuple(
        float(v)
        for v in (
            1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w),
            2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w),
            2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y),
        )
    )  # fmt: skip


@pytest.mark.parametrize("mode", ["velocity", "ctbr"])
def test_flat_rotor_speed_routine_is_bit_identical_to_the_cascade(mode):
    ctrl = FlightController(mode, 1 / 240)
    ref = ReferenceController(ctrl)
    rng = np.random.default_rng(0)
    for step in range(400):
        if step % 5 == 0:  # a new action every control step, saturating ones included
            ctrl.set_action(tuple(rng.uniform(-1.3, 1.3, 4).tolist()))
            if mode == "velocity":
                # the sim's integrators-only step before the tick loop
                vel0 = tuple(rng.normal(0, 1, 3).tolist())
                ctrl.integrate(vel0)
                ref.velocity_loop(ctrl._sp, vel0, _rotation(rng))
        vel = tuple(rng.normal(0, 1, 3).tolist())
        ang = tuple(rng.normal(0, 3, 3).tolist())
        rot = _rotation(rng)
        assert ctrl.rotor_speeds(vel, rot, ang) == ref.rotor_speeds(ctrl._sp, vel, rot, ang)
        assert (ctrl._ix, ctrl._iy, ctrl._iz) == (ref.ix, ref.iy, ref.iz)
