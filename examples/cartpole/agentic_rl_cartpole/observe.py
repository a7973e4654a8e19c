"""CartPole's observation: pure numpy, so the robot side can run the very same function.

``robot_state``: ``cart_pos`` (m along the rail), ``cart_vel`` (m/s), ``pole_angle`` (rad, 0
upright, positive leaning towards +x), ``pole_vel`` (rad/s), ``last_action`` (1,).
``layout``: ``{"cart_target": x}``, where the cart should come to rest (m).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any


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
