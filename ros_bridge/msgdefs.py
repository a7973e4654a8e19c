"""Robot-stack message definitions the bag tools need that are not in ROS 2's core set.

``px4_msgs`` (PX4), ``crazyflie_interfaces`` (Crazyswarm2) and ``mavros_msgs`` are not
released as Python wheels, so their ``.msg``/``.srv`` files are vendored, byte for byte, under
``ros_bridge/interfaces/`` from the upstream repositories (``interfaces/UPSTREAM.json`` names
repository, commit, path and git blob hash of each file; a test checks the files against those
hashes and the rosbags type hashes (RIHS01) against the ones computed from upstream).

px4_msgs come from the v1.15.4 release: the layout a PX4 v1.15 bag holds (VehicleOdometry,
VehicleLocalPosition, VehicleAttitude, VehicleStatus, ...). ``OffboardControlMode`` changed in
v1.15 (``actuator`` became ``thrust_and_torque`` + ``direct_actuator``); the v1.14 layout is
kept too and picked by :func:`definitions` (the px4 profile's ``params.px4_version``).

Bags that embed their definitions (MCAP, and sqlite3 bags from Iron on) are read with those,
not with these: see :mod:`ros_bridge.bagio`.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

INTERFACES = Path(__file__).resolve().parent / "interfaces"
#: PX4 releases whose OffboardControlMode layout differs; newer releases use the last one.
PX4_LAYOUTS = {"1.14": "px4_msgs_v1_14"}
DEFAULT_PX4_VERSION = "1.15"


def _read(folder: Path, package: str) -> dict[str, str]:
    out = {}
    for path in sorted(folder.glob("*/*.msg")):
        out[f"{package}/{path.parent.name}/{path.stem}"] = path.read_text()
    for path in sorted(folder.glob("srv/*.srv")):
        request = path.read_text().split("\n---", 1)[0]
        # Service requests are recorded in bags as messages on '<service>/_request'.
        out[f"{package}/srv/{path.stem}_Request"] = request
    return out


@cache
def definitions(px4_version: str = DEFAULT_PX4_VERSION) -> dict[str, str]:
    """Type name -> ``.msg`` text of every vendored interface, px4_msgs in ``px4_version``'s layout.

    Raises:
        ValueError: for a PX4 version older than the oldest vendored layout (1.14).
    """
    major_minor = tuple(int(p) for p in str(px4_version).split(".")[:2])
    if major_minor < (1, 14):
        raise ValueError(
            f"px4_version {px4_version!r}: PX4 before v1.14 uses a different px4_msgs layout "
            "(and the microRTPS bridge); this runtime supports v1.14 and newer"
        )
    out = {}
    for package in ("px4_msgs", "crazyflie_interfaces", "mavros_msgs"):
        out.update(_read(INTERFACES / package, package))
    layout = PX4_LAYOUTS.get(".".join(str(p) for p in major_minor))
    if layout is not None:
        for name, text in _read(INTERFACES / layout, "px4_msgs").items():
            out[name] = text
    return out


def upstream() -> dict[str, dict[str, str]]:
    """Where each vendored file comes from (repository, commit, path, git blob hash)."""
    return json.loads((INTERFACES / "UPSTREAM.json").read_text())
