"""Forward kinematics, Jacobian and a damped-least-squares IK step for serial arms (numpy).

The chain comes from the bundle (``command.chain``, written from the task's URDF at export
time): joints root first, each with its origin (xyz, rpy) in the parent link, axis and type.
On the robot this turns ``sensor_msgs/JointState`` into the end-effector fields the policy
observed in simulation (position, orientation, linear velocity).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from .frames import matrix_to_quat


def _rpy_matrix(r: float, p: float, y: float) -> np.ndarray:
    # URDF: fixed-axis roll, pitch, yaw = Rz(y) @ Ry(p) @ Rx(r)
    cr, sr, cp, sp, cy, sy = (
        math.cos(r),
        math.sin(r),
        math.cos(p),
        math.sin(p),
        math.cos(y),
        math.sin(y),
    )
    return np.array(
        [
            [cy * cp, cy * sp * sr - sy * cr, cy * sp * cr + sy * sr],
            [sy * cp, sy * sp * sr + cy * cr, sy * sp * cr - cy * sr],
            [-sp, cp * sr, cp * cr],
        ]
    )


def _axis_angle(axis: np.ndarray, angle: float) -> np.ndarray:
    x, y, z = axis
    c, s = math.cos(angle), math.sin(angle)
    t = 1.0 - c
    return np.array(
        [
            [t * x * x + c, t * x * y - s * z, t * x * z + s * y],
            [t * x * y + s * z, t * y * y + c, t * y * z - s * x],
            [t * x * z - s * y, t * y * z + s * x, t * z * z + c],
        ]
    )


class SerialChain:
    """A serial chain of revolute, prismatic and fixed joints.

    Args:
        chain: joint dicts (``name, type, xyz, rpy, axis``), root first.
        base_position: position of the chain's root in the task's world frame, m.

    Raises:
        ValueError: for a joint type other than revolute, continuous, prismatic or fixed.
    """

    def __init__(self, chain: Sequence[dict[str, Any]], base_position: Sequence[float]) -> None:
        self.base = np.asarray(base_position, np.float64)
        self._joints = []
        for j in chain:
            kind = j["type"]
            if kind not in ("revolute", "continuous", "prismatic", "fixed"):
                raise ValueError(f"joint {j['name']!r} has unsupported type {kind!r}")
            axis = np.asarray(j["axis"], np.float64)
            norm = np.linalg.norm(axis)
            self._joints.append(
                (
                    kind,
                    np.asarray(j["xyz"], np.float64),
                    _rpy_matrix(*j["rpy"]),
                    axis / norm if norm > 0 else axis,
                )
            )
        self.names = [j["name"] for j in chain if j["type"] != "fixed"]
        self.dof = len(self.names)

    def forward(self, q: Sequence[float]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Tip pose and the world axes/origins of the moving joints.

        Returns:
            (tip position (3,), tip rotation (3, 3), joint axes (dof, 3), joint origins
            (dof, 3)), all in the task's world frame.
        """
        pos = self.base.copy()
        rot = np.eye(3)
        axes, origins = [], []
        i = 0
        for kind, xyz, rpy, axis in self._joints:
            pos = pos + rot @ xyz
            rot = rot @ rpy
            if kind == "fixed":
                continue
            world_axis = rot @ axis
            axes.append(world_axis)
            origins.append(pos.copy())
            if kind == "prismatic":
                pos = pos + world_axis * q[i]
            else:
                rot = rot @ _axis_angle(axis, q[i])
            i += 1
        return pos, rot, np.asarray(axes), np.asarray(origins)

    def jacobian(self, q: Sequence[float]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Geometric Jacobian (6, dof) of the tip: rows 0..2 linear, 3..5 angular velocity.

        Returns:
            (jacobian, tip position, tip rotation).
        """
        pos, rot, axes, origins = self.forward(q)
        jac = np.zeros((6, self.dof))
        for i, ((kind, *_), axis, origin) in enumerate(
            zip((j for j in self._joints if j[0] != "fixed"), axes, origins, strict=True)
        ):
            if kind == "prismatic":
                jac[:3, i] = axis
            else:
                jac[:3, i] = np.cross(axis, pos - origin)
                jac[3:, i] = axis
        return jac, pos, rot

    def tip_state(
        self, q: Sequence[float], qd: Sequence[float]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(position, (x, y, z, w) orientation with w >= 0, linear velocity) of the tip."""
        jac, pos, rot = self.jacobian(q)
        return pos, matrix_to_quat(rot), jac[:3] @ np.asarray(qd, np.float64)

    def ik_step(
        self,
        q: Sequence[float],
        target_pos: Sequence[float],
        target_rot: np.ndarray | None = None,
        *,
        iterations: int = 10,
        damping: float = 0.05,
    ) -> np.ndarray:
        """Joint angles near ``q`` that move the tip to ``target_pos`` (damped least squares).

        Args:
            q: current joint angles (the start of the search, so steps stay continuous).
            target_pos: tip position in the world frame, m.
            target_rot: optional tip rotation to hold as well (3x3).
            iterations: Gauss-Newton iterations.
            damping: DLS damping (trades accuracy near singularities for bounded steps).
        """
        q = np.array(q, np.float64)
        target = np.asarray(target_pos, np.float64)
        rows = 6 if target_rot is not None else 3
        for _ in range(iterations):
            jac, pos, rot = self.jacobian(q)
            err = target - pos
            if target_rot is not None:
                r_err = target_rot @ rot.T
                # axis-angle vector of the rotation error (small-angle form is enough here)
                w = 0.5 * np.array(
                    [
                        r_err[2, 1] - r_err[1, 2],
                        r_err[0, 2] - r_err[2, 0],
                        r_err[1, 0] - r_err[0, 1],
                    ]
                )
                err = np.concatenate([err, w])
            j = jac[:rows]
            dq = j.T @ np.linalg.solve(j @ j.T + damping**2 * np.eye(rows), err)
            q = q + dq
            if np.linalg.norm(err) < 1e-6:
                break
        return q
