"""What a robot measures, typed: the one thing robot profiles decode messages into.

A profile's adapter folds each input message into a :class:`Measurement` (always in the
task's conventions: ENU world, FLU body, (x, y, z, w) quaternions signed as PyBullet signs
them, joints in the policy's order). It names no task field: the task's own vendored
``from_measurement(measurement) -> robot_state`` (declared by the task class, recorded in
``bundle.json`` as ``task.from_measurement``) maps it to the robot state its ``observe`` reads,
and ``to_measurement(robot_state)`` is the inverse the simulated-bag writer uses.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

Array = np.ndarray


@dataclass
class Measurement:
    """The latest measured robot state plus the controller's own memory.

    Every attribute is ``None`` until some input provides it (or stays ``None`` when the
    profile does not measure it).

    Attributes:
        position: world position of the robot's base (drone centre), m.
        orientation: base attitude, body -> world quaternion (x, y, z, w).
        velocity: world velocity of the base, m/s.
        body_rates: angular velocity in the body frame, rad/s (as an IMU gives it).
        joint_positions: joint angles (rad) or slides (m), in the policy's joint order.
        joint_velocities: their rates.
        gripper_width: gap between the gripper's fingers, m.
        tool_position, tool_orientation, tool_velocity: the tool point (end effector), by
            forward kinematics of the joints.
        object_position, object_orientation, object_velocity, object_angular_velocity: a
            tracked object's pose and twist (world frame).
        last_action: the normalized action sent at the last control step (zeros after enable).
        step: control steps since the policy was enabled.
    """

    position: Array | None = None
    orientation: Array | None = None
    velocity: Array | None = None
    body_rates: Array | None = None
    joint_positions: Array | None = None
    joint_velocities: Array | None = None
    gripper_width: float | None = None
    tool_position: Array | None = None
    tool_orientation: Array | None = None
    tool_velocity: Array | None = None
    object_position: Array | None = None
    object_orientation: Array | None = None
    object_velocity: Array | None = None
    object_angular_velocity: Array | None = None
    last_action: Array = field(default_factory=lambda: np.zeros(0))
    step: int = 0

    @classmethod
    def from_values(cls, values: dict[str, Any]) -> Measurement:
        """A measurement from a task's ``to_measurement`` keyword values (arrays as float64).

        Raises:
            ValueError: naming a key that is not a measurement attribute.
        """
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(
                f"to_measurement returned {unknown}, which are not measurement attributes "
                f"({sorted(known)})"
            )
        out = {
            k: v if v is None or isinstance(v, (int, float)) else np.asarray(v, np.float64)
            for k, v in values.items()
        }
        return cls(**out)


__all__ = ["Measurement"]
