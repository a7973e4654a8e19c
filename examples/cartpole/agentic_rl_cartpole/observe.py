"""CartPole's observation: pure numpy, so the robot side can run the very same function.

``robot_state``: ``cart_pos`` (m along the rail), ``cart_vel`` (m/s), ``pole_angle`` (rad, 0
upright, positive leaning towards +x), ``pole_vel`` (rad/s), ``last_action`` (1,).
``layout``: ``{"cart_target": x}``, where the cart should come to rest (m).

On a robot (the ``joint_group`` ROS profile: ros2_control's JointState) the state comes from
the measured joints, in the order the task's command model names them (slider, hinge):
:func:`from_measurement`; :func:`to_measurement` is its inverse for simulated bags.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any


def from_measurement(m: Any) -> dict[str, Any]:
    """The robot state from a robot-side measurement (joint positions and velocities)."""
    (x, angle), (xd, angle_d) = m.joint_positions, m.joint_velocities
    return {
        "cart_pos": float(x),
        "cart_vel": float(xd),
        "pole_angle": float(angle),
        "pole_vel": float(angle_d),
        "last_action": tuple(float(v) for v in m.last_action),
    }


def to_measurement(robot: Mapping[str, Any]) -> dict[str, Any]:
    """What the robot's joint state broadcaster reports for a simulated robot state."""
    return {
        "joint_positions": [robot["cart_pos"], robot["pole_angle"]],
        "joint_velocities": [robot["cart_vel"], robot["pole_vel"]],
    }


def observe_cartpole(robot: Mapping[str, Any], layout: Mapping[str, Any]) -> dict[str, Any]:
    """Fields of CartPole, in spec order."""
    angle = float(robot["pole_angle"])
    return {
        "cart_pos": float(robot["cart_pos"]),
        "cart_vel": float(robot["cart_vel"]),
        "pole_angle": angle,
        "pole_vel": float(robot["pole_vel"]),
        "last_action": tuple(robot["last_action"]),
        "cart_error": layout["cart_target"] - float(robot["cart_pos"]),
        # upright is angle 0; wrap so a full turn is not an error
        "pole_error": -math.remainder(angle, 2 * math.pi),
    }
