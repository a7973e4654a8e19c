"""The altitude task's observation: the common drone fields plus the altitude error.

Kept apart from ``task.py`` (which needs PyBullet) so that the robot side can run the very
same function: it imports only ``sims.drone.observe``, which imports only ``math``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sims.drone.observe import observe_common


def observe_altitude(robot: Mapping[str, Any], layout: Mapping[str, Any]) -> dict[str, Any]:
    """Fields of DroneAltitude. Layout: ``altitude``, the commanded altitude (m)."""
    fields = observe_common(robot)
    fields["altitude_error"] = layout["altitude"] - robot["pos"][2]
    return fields
