"""The Crazyflie tasks' observations: state fields from the robot's state and the layout.

One pure function per task, ``observe_<task>(robot_state, layout) -> fields``, that the
simulator calls every step and the generated ROS package runs on the robot (this module is
vendored there: it imports only ``math``, so it runs without PyBullet, torch or even numpy).

``robot_state`` holds what the robot measures and counts:

* ``pos`` (3, m, world ENU), ``quat`` (x, y, z, w, body FLU -> world), ``vel`` (3, m/s, world),
  ``ang_vel`` (3, rad/s, **body** rates, as an IMU gives them), ``last_action`` (4, the
  normalized action applied this step, zeros after reset);
* ``step``: control steps since the episode started;
* the task's event values as the task's own logic tracks them (``gates_passed``, ``crossed``
  from the previous step, ``rest_time``); each ``observe_*`` docstring lists what it reads.

``layout`` is the episode's JSON-serializable layout (goal, gates, pillars, wall, pad,
reference path, orbit centre) as the task drew it at reset; ``bundle.json`` can carry it.

The arithmetic is written out in plain floats, in the same order as the simulator always
computed it, so observations are bit-identical to earlier releases (and fast: a drone step is
dominated by Python overhead, not by the maths).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

Vec = Sequence[float]
Fields = dict[str, Any]

#: Pillars whose offsets DroneObstacles observes, nearest first.
N_SENSED = 3
#: How far ahead DroneTrajectory's look-ahead reference point is, s.
LOOKAHEAD = 0.5


def rotation(quat: Vec) -> tuple[float, ...]:
    """Row-major 3x3 rotation matrix (body -> world) of a quaternion (x, y, z, w).

    Bullet's formula, term for term, so the result equals ``p.getMatrixFromQuaternion`` bit
    for bit (checked in tests).
    """
    x, y, z, w = quat
    s = 2.0 / (x * x + y * y + z * z + w * w)
    xs, ys, zs = x * s, y * s, z * s
    wx, wy, wz = w * xs, w * ys, w * zs
    xx, xy, xz = x * xs, x * ys, x * zs
    yy, yz, zz = y * ys, y * zs, z * zs
    return (
        1.0 - (yy + zz),
        xy - wz,
        xz + wy,
        xy + wz,
        1.0 - (xx + zz),
        yz - wx,
        xz - wy,
        yz + wx,
        1.0 - (xx + yy),
    )


def tilt_of(r22: float) -> float:
    """Angle between the body z axis and world up, from the rotation matrix's (2, 2) entry."""
    return math.acos(max(-1.0, min(1.0, r22)))


def observe_common(robot: Mapping[str, Any]) -> Fields:
    """The six fields every drone task starts with: pos, quat, vel, ang_vel, tilt, last_action.

    Reads ``pos``, ``quat``, ``vel``, ``ang_vel`` (body rates) and ``last_action``.
    """
    quat = robot["quat"]
    return {
        "pos": tuple(robot["pos"]),
        "quat": tuple(quat),
        "vel": tuple(robot["vel"]),
        "ang_vel": tuple(robot["ang_vel"]),
        "tilt": tilt_of(rotation(quat)[8]),
        "last_action": tuple(robot["last_action"]),
    }


def observe_common_fields(robot: Mapping[str, Any], layout: Mapping[str, Any]) -> Fields:
    """A drone task with no fields of its own: just the common ones."""
    return observe_common(robot)


def _rel(target: Vec, pos: Vec) -> tuple[float, float, float]:
    return (target[0] - pos[0], target[1] - pos[1], target[2] - pos[2])


def observe_hover(robot: Mapping[str, Any], layout: Mapping[str, Any]) -> Fields:
    """DroneHover. Layout: ``goal`` (3, m)."""
    fields = observe_common(robot)
    fields["goal_rel"] = _rel(layout["goal"], robot["pos"])
    return fields


def observe_gates(robot: Mapping[str, Any], layout: Mapping[str, Any]) -> Fields:
    """DroneGates. Layout: ``gates``, a list of ``{"centre": (3,), "normal": (3,)}`` in
    order. Robot state: ``gates_passed`` (gates crossed so far)."""
    gates = layout["gates"]
    passed = int(robot["gates_passed"])
    i = min(passed, len(gates) - 1)
    j = min(i + 1, len(gates) - 1)
    pos = robot["pos"]
    fields = observe_common(robot)
    fields["gate_rel"] = _rel(gates[i]["centre"], pos)
    fields["gate_normal"] = tuple(gates[i]["normal"])
    fields["after_gate_rel"] = _rel(gates[j]["centre"], pos)
    fields["gates_passed"] = float(passed)
    return fields


def observe_obstacles(robot: Mapping[str, Any], layout: Mapping[str, Any]) -> Fields:
    """DroneObstacles. Layout: ``goal`` (3, m), ``pillars`` (list of (x, y) axes, m),
    ``pillar_radius`` and ``drone_radius`` (m)."""
    x, y, z = robot["pos"]
    # plain floats: eight pillars are cheaper in Python than in numpy
    near = sorted((math.hypot(px - x, py - y), px - x, py - y) for px, py in layout["pillars"])[
        :N_SENSED
    ]
    g = layout["goal"]
    fields = observe_common(robot)
    fields["goal_rel"] = (g[0] - x, g[1] - y, g[2] - z)
    fields["obstacle_rel"] = tuple(v for _, dx, dy in near for v in (dx, dy))
    fields["clearance"] = near[0][0] - layout["pillar_radius"] - layout["drone_radius"]
    return fields


def observe_wall_landing(robot: Mapping[str, Any], layout: Mapping[str, Any]) -> Fields:
    """DroneWallLanding. Layout: ``wall_x`` (near face), ``wall_top``, ``cross_x`` (x past
    which the drone has crossed the wall), ``pad`` ((x, y) centre), ``pad_height`` (m).
    Robot state: ``crossed`` (as of the previous step) and ``rest_time`` (s)."""
    x, y, z = robot["pos"]
    pad = layout["pad"]
    fields = observe_common(robot)
    fields["wall_rel"] = (layout["wall_x"] - x, 0.0, layout["wall_top"] - z)
    fields["pad_rel"] = (pad[0] - x, pad[1] - y, layout["pad_height"] - z)
    fields["crossed"] = float(bool(robot["crossed"]) or x > layout["cross_x"])
    fields["rest_time"] = float(robot["rest_time"])
    return fields


def reference(layout: Mapping[str, Any], t: float) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """DroneTrajectory's reference position and velocity at time ``t`` (s).

    Layout: ``shape`` ('circle' or 'figure8'), ``period`` (s per lap), ``radius`` (m),
    ``center`` (3, m).
    """
    radius = layout["radius"]
    w = 2 * math.pi / layout["period"]
    s, c = math.sin(w * t), math.cos(w * t)
    if layout["shape"] == "circle":
        offset = (radius * c, radius * s, 0.0)
        vel = (-radius * w * s, radius * w * c, 0.0)
    else:  # lemniscate of Gerono, starting at the crossing point
        offset = (radius * s, radius * s * c, 0.0)
        vel = (radius * w * c, radius * w * math.cos(2 * w * t), 0.0)
    cx, cy, cz = layout["center"]
    return (cx + offset[0], cy + offset[1], cz), vel


def observe_trajectory(robot: Mapping[str, Any], layout: Mapping[str, Any]) -> Fields:
    """DroneTrajectory. Layout: the :func:`reference` keys plus ``control_hz`` and
    ``end_step`` (the step the laps end at). Robot state: ``step``."""
    step = robot["step"]
    t = step / layout["control_hz"]
    pos = robot["pos"]
    ref, vel = reference(layout, t)
    ahead, _ = reference(layout, t + LOOKAHEAD)
    fields = observe_common(robot)
    fields["ref_rel"] = _rel(ref, pos)
    fields["ref_vel"] = vel
    fields["ref_ahead_rel"] = _rel(ahead, pos)
    fields["progress"] = min(1.0, step / layout["end_step"])
    return fields


def _wrap(angle: float) -> float:
    return (angle + math.pi) % (2 * math.pi) - math.pi


def observe_orbit(robot: Mapping[str, Any], layout: Mapping[str, Any]) -> Fields:
    """DroneOrbit. Layout: ``center`` (3, m), ``cmd_radius`` (m), ``cmd_speed`` (m/s,
    counter-clockwise positive)."""
    c, pos = layout["center"], robot["pos"]
    cmd_radius, cmd_speed = layout["cmd_radius"], layout["cmd_speed"]
    dx, dy, dz = c[0] - pos[0], c[1] - pos[1], c[2] - pos[2]
    r = math.hypot(dx, dy) or 1e-9
    # tangential (counter-clockwise) unit vector around the centre: z x (pos - c) / r
    tx, ty = dy / r, -dx / r
    vx, vy, _ = robot["vel"]
    x, y, z, w = robot["quat"]
    yaw = math.atan2(2 * (w * z + x * y), 1 - 2 * (y * y + z * z))
    fields = observe_common(robot)
    fields["center_rel"] = (dx, dy, dz)
    fields["cmd_radius"] = cmd_radius
    fields["cmd_speed"] = cmd_speed
    fields["radius_error"] = r - cmd_radius
    fields["speed_error"] = vx * tx + vy * ty - cmd_speed
    fields["heading_error"] = _wrap(math.atan2(dy, dx) - yaw)
    return fields
