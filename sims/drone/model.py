"""Crazyflie 2.x quadrotor model: published constants, motor dynamics and rotor forces.

Constants (Bitcraze datasheet; Forster 2015; gym-pybullet-drones' cf2x): mass 0.027 kg, arm
0.0397 m, thrust coefficient 3.16e-10 N/rpm^2, torque coefficient 7.94e-12 N m/rpm^2,
thrust-to-weight 2.25. X configuration, motors numbered as on the Crazyflie, body frame FLU:

    M4 (front-left, +x +y)   M1 (front-right, +x -y)
    M3 (back-left,  -x +y)   M2 (back-right,  -x -y)

M1 and M3 spin clockwise seen from above (their drag torque yaws the body +z), M2 and M4
counter-clockwise. Motors follow their commanded speed with a first-order lag and an action dead
time (both randomizable).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

GRAVITY = 9.81
MASS = 0.027
ARM = 0.0397
KF = 3.16e-10
KM = 7.94e-12
THRUST_TO_WEIGHT = 2.25
IXX = IYY = 1.4e-5
IZZ = 2.17e-5
#: Rotor position offset along body x and y: the arm at 45 degrees.
ARM_XY = ARM / math.sqrt(2.0)
#: Largest rotor speed: 4 rotors at full speed lift THRUST_TO_WEIGHT times the weight.
MAX_RPM = math.sqrt(THRUST_TO_WEIGHT * MASS * GRAVITY / (4.0 * KF))
HOVER_RPM = math.sqrt(MASS * GRAVITY / (4.0 * KF))
#: Largest thrust of one rotor, N.
MAX_ROTOR_THRUST = KF * MAX_RPM**2
#: Yaw torque per newton of rotor thrust.
TORQUE_PER_THRUST = KM / KF
#: Linear drag coefficient (N per m/s), body-averaged; Crazyflie identification gives ~1e-2.
DRAG = 0.01
#: Rotor radius used by the ground-effect model, m.
PROP_RADIUS = 0.0231
#: Height of the body centre above the ground when resting, m (half the collision cylinder).
REST_HEIGHT = 0.0125
#: Radius of the collision cylinder that covers the rotor disks, m.
BODY_RADIUS = 0.06
#: Drag-torque direction of M1..M4 (+1: yaws the body +z).
SPIN = (1.0, -1.0, 1.0, -1.0)
#: Rotor x, y offsets of M1..M4 in the body frame.
ROTOR_XY = ((ARM_XY, -ARM_XY), (-ARM_XY, -ARM_XY), (-ARM_XY, ARM_XY), (ARM_XY, ARM_XY))

URDF = str(Path(__file__).resolve().parent.parent / "assets" / "cf2x.urdf")


@dataclass
class Airframe:
    """Physical parameters of one episode (nominal values scaled by domain randomization)."""

    mass: float = MASS
    kf: float = KF
    km: float = KM
    motor_tau: float = 0.03
    drag: float = DRAG
    ground_effect: bool = False
    wind: tuple[float, float, float] = (0.0, 0.0, 0.0)

    @property
    def max_rpm(self) -> float:
        return MAX_RPM


def mix(thrust: float, tx: float, ty: float, tz: float) -> tuple[float, float, float, float]:
    """Rotor thrusts (N, clipped to the motors' range) for collective thrust and body torques.

    Inverse of :func:`rotor_wrench` for the nominal airframe; when a rotor saturates, the
    torques are kept at the cost of collective thrust only as far as clipping allows.
    """
    t4 = 0.25 * thrust
    rx = tx / (4.0 * ARM_XY)
    ry = ty / (4.0 * ARM_XY)
    rz = tz / (4.0 * TORQUE_PER_THRUST)
    fmax = MAX_ROTOR_THRUST
    f1 = t4 - rx - ry + rz
    f2 = t4 - rx + ry - rz
    f3 = t4 + rx + ry + rz
    f4 = t4 + rx - ry - rz
    return (
        0.0 if f1 < 0.0 else (fmax if f1 > fmax else f1),
        0.0 if f2 < 0.0 else (fmax if f2 > fmax else f2),
        0.0 if f3 < 0.0 else (fmax if f3 > fmax else f3),
        0.0 if f4 < 0.0 else (fmax if f4 > fmax else f4),
    )


def thrust_to_rpm(f: float) -> float:
    """Nominal rotor speed that produces thrust ``f`` (N)."""
    return math.sqrt(f / KF)


def ground_effect_gain(height: float) -> float:
    """Thrust multiplier near the ground (Cheeseman-Bennett), capped at 1.5 as in practice."""
    h = max(height, 1e-3)
    ratio = PROP_RADIUS / (4.0 * h)
    return min(1.0 / (1.0 - ratio * ratio), 1.5) if ratio < 0.8 else 1.5
