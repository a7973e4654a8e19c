"""Message values without a ROS dependency.

The runtime reads incoming messages by attribute access only (``msg.pose.pose.position.x``,
``msg.q[0]``, ``msg.name``), which works the same on rclpy messages (lists, ``array.array``
or numpy arrays) and on rosbags messages (dataclasses with numpy arrays). It produces outgoing
messages as :class:`Output` records with nested dicts of field values, which the rclpy node and
the bag writer each turn into their own message objects.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Output:
    """One thing the runtime wants sent.

    Attributes:
        kind: ``"topic"`` (publish) or ``"service"`` (call, fire-and-forget).
        role: the profile's role name of the topic or service.
        type: ROS type, e.g. ``geometry_msgs/msg/Twist``.
        data: field values; nested messages as dicts, sequences of messages as lists of dicts;
            fields left out keep their defaults.
    """

    kind: str
    role: str
    type: str
    data: dict[str, Any]


def stamp(t: float) -> dict[str, int]:
    """``builtin_interfaces/Time`` fields for a time in seconds."""
    sec = math.floor(t)
    return {"sec": int(sec), "nanosec": round((t - sec) * 1e9) % 1_000_000_000}


def duration(t: float) -> dict[str, int]:
    """``builtin_interfaces/Duration`` fields for a duration in seconds."""
    return stamp(t)


def stamp_seconds(st: Any) -> float:
    """Seconds of a ``builtin_interfaces/Time`` message (rclpy or rosbags)."""
    return float(st.sec) + float(st.nanosec) * 1e-9


def header(t: float, frame_id: str) -> dict[str, Any]:
    return {"stamp": stamp(t), "frame_id": frame_id}


def vec3(msg: Any) -> tuple[float, float, float]:
    """(x, y, z) of a Point / Vector3."""
    return (float(msg.x), float(msg.y), float(msg.z))


def quat(msg: Any) -> tuple[float, float, float, float]:
    """(x, y, z, w) of a geometry_msgs Quaternion."""
    return (float(msg.x), float(msg.y), float(msg.z), float(msg.w))


def xyz(v: Any) -> dict[str, float]:
    return {"x": float(v[0]), "y": float(v[1]), "z": float(v[2])}


def xyzw(q: Any) -> dict[str, float]:
    return {"x": float(q[0]), "y": float(q[1]), "z": float(q[2]), "w": float(q[3])}


def to_builtin(msg: Any) -> Any:
    """A message (rclpy or rosbags) as nested dicts/lists of plain values, for comparisons."""
    if hasattr(msg, "get_fields_and_field_types"):  # rclpy
        return {k: to_builtin(getattr(msg, k)) for k in msg.get_fields_and_field_types()}
    if hasattr(msg, "__dataclass_fields__"):  # rosbags
        return {
            k: to_builtin(getattr(msg, k)) for k in msg.__dataclass_fields__ if k != "__msgtype__"
        }
    if isinstance(msg, (list, tuple)):
        return [to_builtin(v) for v in msg]
    if hasattr(msg, "tolist"):
        return msg.tolist()
    return msg
