"""Frame and quaternion conventions of ROS, PX4 and PyBullet, and conversions between them.

* **ROS** (REP-103): world frames ENU (x east, y north, z up), body frames FLU (x forward,
  y left, z up); ``geometry_msgs/Quaternion`` has fields x, y, z, w.
* **PX4** (``px4_msgs``): world NED (x north, y east, z down), body FRD (x forward, y right,
  z down); quaternions are arrays ``q = [w, x, y, z]`` rotating FRD body vectors into NED.
* **PyBullet / our tasks**: world ENU with z up, body FLU; quaternions are tuples
  ``(x, y, z, w)`` rotating body vectors into the world (the order of the observation).

Every function works on plain sequences and returns float64 numpy arrays; vectors are 3-long,
quaternions 4-long, Hamilton convention, in the order named by the function.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

_H = math.sqrt(0.5)
#: Rotation NED <- ENU (and ENU <- NED: it is its own inverse), as (x, y, z, w).
Q_NED_ENU = np.array([_H, _H, 0.0, 0.0])
#: Rotation FLU <- FRD (and back): 180 degrees about x, as (x, y, z, w).
Q_FLU_FRD = np.array([1.0, 0.0, 0.0, 0.0])


def xyzw_to_wxyz(q: Sequence[float]) -> np.ndarray:
    """ROS/PyBullet order (x, y, z, w) -> PX4 order (w, x, y, z)."""
    return np.array([q[3], q[0], q[1], q[2]], np.float64)


def wxyz_to_xyzw(q: Sequence[float]) -> np.ndarray:
    """PX4 order (w, x, y, z) -> ROS/PyBullet order (x, y, z, w)."""
    return np.array([q[1], q[2], q[3], q[0]], np.float64)


def quat_multiply(a: Sequence[float], b: Sequence[float]) -> np.ndarray:
    """Hamilton product ``a * b`` of (x, y, z, w) quaternions (apply ``b`` first)."""
    ax, ay, az, aw = a
    bx, by, bz, bw = b
    return np.array(
        [
            aw * bx + ax * bw + ay * bz - az * by,
            aw * by - ax * bz + ay * bw + az * bx,
            aw * bz + ax * by - ay * bx + az * bw,
            aw * bw - ax * bx - ay * by - az * bz,
        ],
        np.float64,
    )


def quat_conjugate(q: Sequence[float]) -> np.ndarray:
    """Inverse of a unit (x, y, z, w) quaternion."""
    return np.array([-q[0], -q[1], -q[2], q[3]], np.float64)


def quat_to_matrix(q: Sequence[float]) -> np.ndarray:
    """3x3 rotation matrix of an (x, y, z, w) quaternion (normalized first)."""
    x, y, z, w = np.asarray(q, np.float64) / math.sqrt(sum(c * c for c in q))
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
        ]
    )


def matrix_to_quat(m: np.ndarray) -> np.ndarray:
    """(x, y, z, w) quaternion of a rotation matrix, with w >= 0 (Shepperd's method)."""
    tr = m[0, 0] + m[1, 1] + m[2, 2]
    if tr > 0:
        s = 2.0 * math.sqrt(tr + 1.0)
        q = [(m[2, 1] - m[1, 2]) / s, (m[0, 2] - m[2, 0]) / s, (m[1, 0] - m[0, 1]) / s, 0.25 * s]
    elif m[0, 0] > m[1, 1] and m[0, 0] > m[2, 2]:
        s = 2.0 * math.sqrt(1.0 + m[0, 0] - m[1, 1] - m[2, 2])
        q = [0.25 * s, (m[0, 1] + m[1, 0]) / s, (m[0, 2] + m[2, 0]) / s, (m[2, 1] - m[1, 2]) / s]
    elif m[1, 1] > m[2, 2]:
        s = 2.0 * math.sqrt(1.0 + m[1, 1] - m[0, 0] - m[2, 2])
        q = [(m[0, 1] + m[1, 0]) / s, 0.25 * s, (m[1, 2] + m[2, 1]) / s, (m[0, 2] - m[2, 0]) / s]
    else:
        s = 2.0 * math.sqrt(1.0 + m[2, 2] - m[0, 0] - m[1, 1])
        q = [(m[0, 2] + m[2, 0]) / s, (m[1, 2] + m[2, 1]) / s, 0.25 * s, (m[1, 0] - m[0, 1]) / s]
    out = np.array(q)
    return -out if out[3] < 0 else out


def rotate(q: Sequence[float], v: Sequence[float]) -> np.ndarray:
    """Rotate vector ``v`` by the (x, y, z, w) quaternion ``q`` (body -> world)."""
    return quat_to_matrix(q) @ np.asarray(v, np.float64)


def rotate_inverse(q: Sequence[float], v: Sequence[float]) -> np.ndarray:
    """Rotate ``v`` by the inverse of ``q`` (world -> body)."""
    return quat_to_matrix(q).T @ np.asarray(v, np.float64)


def enu_to_ned(v: Sequence[float]) -> np.ndarray:
    """A world vector from ENU to NED (the same swap converts NED to ENU)."""
    return np.array([v[1], v[0], -v[2]], np.float64)


ned_to_enu = enu_to_ned


def flu_to_frd(v: Sequence[float]) -> np.ndarray:
    """A body vector from FLU to FRD (the same flip converts FRD to FLU)."""
    return np.array([v[0], -v[1], -v[2]], np.float64)


frd_to_flu = flu_to_frd


def quat_enu_flu_to_ned_frd(q_xyzw: Sequence[float]) -> np.ndarray:
    """Attitude FLU->ENU (x, y, z, w) to PX4's FRD->NED attitude in PX4 order (w, x, y, z)."""
    return xyzw_to_wxyz(quat_multiply(quat_multiply(Q_NED_ENU, q_xyzw), Q_FLU_FRD))


def quat_ned_frd_to_enu_flu(q_wxyz: Sequence[float]) -> np.ndarray:
    """PX4's FRD->NED attitude (w, x, y, z) to the ROS/PyBullet FLU->ENU attitude (x, y, z, w).

    Both constant rotations are their own inverses (180-degree turns), so the same products
    undo :func:`quat_enu_flu_to_ned_frd` exactly.
    """
    return quat_multiply(quat_multiply(Q_NED_ENU, wxyz_to_xyzw(q_wxyz)), Q_FLU_FRD)


def tilt(q_xyzw: Sequence[float]) -> float:
    """Angle (rad) between the body z axis and world up: 0 level, pi upside down."""
    x, y, _, _ = q_xyzw
    n = sum(c * c for c in q_xyzw)
    return math.acos(max(-1.0, min(1.0, 1.0 - 2.0 * (x * x + y * y) / n)))


def yaw(q_xyzw: Sequence[float]) -> float:
    """Heading (rad) about world +z of an (x, y, z, w) attitude (ENU: 0 = east, CCW)."""
    x, y, z, w = q_xyzw
    return math.atan2(2.0 * (w * z + x * y), 1.0 - 2.0 * (y * y + z * z))


def yaw_to_quat(psi: float) -> np.ndarray:
    """(x, y, z, w) quaternion of a pure rotation ``psi`` about +z."""
    return np.array([0.0, 0.0, math.sin(psi / 2.0), math.cos(psi / 2.0)])


def world_to_heading(v: Sequence[float], psi: float) -> np.ndarray:
    """World vector -> the gravity-aligned heading frame (x forward, y left, z up) at yaw psi."""
    c, s = math.cos(psi), math.sin(psi)
    return np.array([c * v[0] + s * v[1], -s * v[0] + c * v[1], v[2]], np.float64)


def same_hemisphere(q: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """``q`` or ``-q`` (the same rotation), whichever is closer to ``reference``.

    A policy sees quaternion components as numbers: q and -q are different inputs to it, so
    the runtime must hand it the sign it saw in training.
    """
    return -q if float(np.dot(q, reference)) < 0.0 else q


def euler_to_quat(roll: float, pitch: float, yaw_: float) -> np.ndarray:
    """(x, y, z, w) of roll about x, then pitch about y, then yaw about z (fixed axes, ZYX)."""
    cr, sr = math.cos(roll / 2), math.sin(roll / 2)
    cp, sp = math.cos(pitch / 2), math.sin(pitch / 2)
    cy, sy = math.cos(yaw_ / 2), math.sin(yaw_ / 2)
    return np.array(
        [
            sr * cp * cy - cr * sp * sy,
            cr * sp * cy + sr * cp * sy,
            cr * cp * sy - sr * sp * cy,
            cr * cp * cy + sr * sp * sy,
        ]
    )


def quat_to_euler(q_xyzw: Sequence[float]) -> tuple[float, float, float]:
    """(roll, pitch, yaw) of an (x, y, z, w) attitude, the inverse of :func:`euler_to_quat`."""
    x, y, z, w = q_xyzw
    roll = math.atan2(2.0 * (w * x + y * z), 1.0 - 2.0 * (x * x + y * y))
    pitch = math.asin(max(-1.0, min(1.0, 2.0 * (w * y - z * x))))
    return roll, pitch, yaw(q_xyzw)


def body_rates(q0: Sequence[float], q1: Sequence[float], dt: float) -> np.ndarray:
    """Body-frame angular velocity (rad/s) that turns attitude ``q0`` into ``q1`` in ``dt``:
    the constant rate that does it (the rotation vector of ``q0^-1 q1`` over ``dt``, exact at
    any angle, not the small-angle ``2 dq_xyz / dt``)."""
    dq = quat_multiply(quat_conjugate(q0), q1)
    if dq[3] < 0:
        dq = -dq
    s = float(np.linalg.norm(dq[:3]))
    if s < 1e-12:
        return 2.0 * dq[:3] / dt
    return (2.0 * math.atan2(s, float(dq[3])) / s) * dq[:3] / dt


def bullet_sign(q_xyzw: Sequence[float]) -> np.ndarray:
    """``q`` or ``-q`` (one attitude), signed as Bullet signs the quaternions it reports.

    PyBullet keeps orientations as matrices and converts them with Shepperd's method
    (``btMatrix3x3::getRotation``): with a positive trace, ``w > 0``; otherwise the component
    of the largest diagonal entry is positive. So its quaternion jumps sign where that choice
    changes (e.g. half a turn of yaw), and the policy was trained on exactly those signs. The
    runtime signs every measured quaternion the same way, whatever sign the robot stack chose.
    """
    q = np.asarray(q_xyzw, np.float64)
    x, y, z, _ = q
    m00, m11, m22 = (
        1.0 - 2.0 * (y * y + z * z),
        1.0 - 2.0 * (x * x + z * z),
        1.0 - 2.0 * (x * x + y * y),
    )
    if m00 + m11 + m22 > 0.0:
        k = 3
    elif m00 < m11:
        k = 2 if m11 < m22 else 1
    else:
        k = 2 if m00 < m22 else 0
    return -q if q[k] < 0.0 else q
