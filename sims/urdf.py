"""Reading a serial chain out of a URDF, for robots whose deployment needs forward kinematics.

Pure standard library, so both the task side (a task's ``command_model``) and the export
read the same joints.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any


def urdf_chain(urdf_path: str | Path, tip_link: str) -> list[dict[str, Any]]:
    """The joints from a URDF's root link to ``tip_link``, root first.

    Each joint is ``{name, type, xyz, rpy, axis, lower, upper, velocity}`` with the origin of
    the joint in its parent link's frame, which is all forward kinematics needs.

    Raises:
        ValueError: when ``tip_link`` is not in the URDF.
    """
    root = ET.parse(urdf_path).getroot()
    by_child: dict[str, ET.Element] = {}
    for joint in root.iter("joint"):
        by_child[joint.find("child").get("link")] = joint  # type: ignore[union-attr]
    links = {link.get("name") for link in root.iter("link")}
    if tip_link not in links:
        raise ValueError(f"{urdf_path} has no link {tip_link!r}; links: {sorted(links)}")
    chain = []
    link = tip_link
    while link in by_child:
        joint = by_child[link]
        origin = joint.find("origin")
        axis = joint.find("axis")
        limit = joint.find("limit")

        def floats(el: ET.Element | None, key: str, default: str) -> list[float]:
            return [float(v) for v in (el.get(key, default) if el is not None else default).split()]

        chain.append(
            {
                "name": joint.get("name"),
                "type": joint.get("type"),
                "xyz": floats(origin, "xyz", "0 0 0"),
                "rpy": floats(origin, "rpy", "0 0 0"),
                "axis": floats(axis, "xyz", "1 0 0"),
                "lower": float(limit.get("lower", "-inf")) if limit is not None else None,
                "upper": float(limit.get("upper", "inf")) if limit is not None else None,
                "velocity": float(limit.get("velocity", "inf")) if limit is not None else None,
            }
        )
        link = joint.find("parent").get("link")  # type: ignore[union-attr]
    return chain[::-1]
