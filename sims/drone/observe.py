"""The Crazyflie tasks' observations: state fields from the robot's state and the layout.

One pure function per task, ``observe_<task>(robot_state, layout) -> fields``, that the
simulator calls every step and the generated ROS package runs on the robot (this module is
vendored there: it imports only ``math``, so it runs without PyBullet, torch or even numpy).

``robot_state`` holds what the robot measures and counts:

* ``pos`` (3, m, world ENU), ``quat`` (x, y, z, w, body FLU -> world), ``vel`` (3, m/s, world),
  ``ang_vel`` (3, rad/s, **body** rates, as an IMU gives them), ``last_action`` (4, the
  normalized action applied this step, zeros after reset);
* ``step``: control steps since the episode started;
* the task's events (``gates_passed``, ``crossed`` as of the previous step, ``rest_time``),
  kept by the task's pure tracker, ``track_<task>(events, robot_state, layout) -> events``:
  JSON-serializable values updated from the robot state once per step, after ``observe``,
  by the simulator and by the robot alike (``events=None`` starts an episode: on the robot,
  when the policy is enabled). Each ``observe_*`` docstring lists what it reads.

On the robot the state comes from the profile's typed measurement
(``ros_bridge.measurement.Measurement``) through :func:`from_measurement`; the simulated-bag
writer goes the other way with :func:`to_measurement`.

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


def from_measurement(m: Any) -> dict[str, Any]:
    """The drone robot state of a robot-side measurement (position, orientation, velocity,
    body rates, the last action and the step count)."""
    return {
        "pos": tuple(float(v) for v in m.position),
        "quat": tuple(float(v) for v in m.orientation),
        "vel": tuple(float(v) for v in m.velocity),
        "ang_vel": tuple(float(v) for v in m.body_rates),
        "last_action": tuple(float(v) for v in m.last_action),
        "step": int(m.step),
    }


def to_measurement(robot: Mapping[str, Any]) -> dict[str, Any]:
    """What a robot measures in a simulated drone state (``Measurement`` keyword values)."""
    return {
        "position": robot["pos"],
        "orientation": robot["quat"],
        "velocity": robot["vel"],
        "body_rates": robot["ang_vel"],
    }


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
    order. Robot state: ``gates_passed`` (gates crossed so far, :func:`track_gates`)."""
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


def track_gates(
    events: Mapping[str, Any] | None, robot: Mapping[str, Any], layout: Mapping[str, Any]
) -> dict[str, Any]:
    """DroneGates' events: ``gates_passed`` (in order, through the opening), ``missed`` (the
    next gate's plane was crossed outside its opening) and the position they were checked at.

    Layout: ``gates`` (as :func:`observe_gates`) and ``opening`` (the square opening's side, m).
    """
    pos = [float(v) for v in robot["pos"]]
    if events is None:
        return {"gates_passed": 0, "missed": False, "prev_pos": pos}
    out = {**events, "prev_pos": pos}
    gates, i = layout["gates"], int(events["gates_passed"])
    if events["missed"] or i >= len(gates):
        return out
    (cx, cy, cz), (nx, ny, _) = gates[i]["centre"], gates[i]["normal"]
    x, y, z = pos
    px, py, _ = events["prev_pos"]
    along = (x - cx) * nx + (y - cy) * ny  # signed distance past the gate plane
    prev_along = (px - cx) * nx + (py - cy) * ny
    if prev_along < 0.0 <= along:
        sideways = -(x - cx) * ny + (y - cy) * nx  # gate normals are horizontal
        half = layout["opening"] / 2
        if abs(sideways) > half or abs(z - cz) > half:
            out["missed"] = True
        else:
            out["gates_passed"] = i + 1
    return out


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
    which the drone has crossed the wall), ``pad`` ((x, y) centre), ``pad_height`` (m),
    ``control_hz`` and the :func:`touching_down` keys. Robot state: ``crossed`` and
    ``rest_steps`` as of the previous step (:func:`track_wall_landing`).

    ``crossed`` and ``rest_time`` include this step's pose, as the tracker will count it
    once it folds this state in: the state in which the drone completes its rest (and the
    episode ends in success) shows ``rest_time`` equal to the rest the task requires, so a
    reward that pays on the success criterion sees it met.
    """
    x, y, z = robot["pos"]
    pad = layout["pad"]
    crossed = bool(robot["crossed"]) or x > layout["cross_x"]
    fields = observe_common(robot)
    fields["wall_rel"] = (layout["wall_x"] - x, 0.0, layout["wall_top"] - z)
    fields["pad_rel"] = (pad[0] - x, pad[1] - y, layout["pad_height"] - z)
    fields["crossed"] = float(crossed)
    rest = _rest_steps(crossed, int(robot["rest_steps"]), robot, layout)
    fields["rest_time"] = rest / layout["control_hz"]
    return fields


def touching_down(robot: Mapping[str, Any], layout: Mapping[str, Any]) -> bool:
    """Whether the drone rests on the ground or on the pad (from its pose alone).

    The airframe is a cylinder (``body_radius``, half height ``rest_height``): its lowest
    point is within ``ground_gap`` of the floor, or the drone is over the pad
    (``pad_radius`` + ``body_radius`` from its centre) within 2 mm of the pad's top.
    """
    x, y, z = robot["pos"]
    r22 = rotation(robot["quat"])[8]
    rest, radius = layout["rest_height"], layout["body_radius"]
    lowest = z - rest * abs(r22) - radius * math.sqrt(max(0.0, 1.0 - r22 * r22))
    if lowest < layout["ground_gap"]:
        return True
    pad = layout["pad"]
    over_pad = math.hypot(x - pad[0], y - pad[1]) < layout["pad_radius"] + radius
    return over_pad and z - rest < layout["pad_height"] + 2e-3


def track_wall_landing(
    events: Mapping[str, Any] | None, robot: Mapping[str, Any], layout: Mapping[str, Any]
) -> dict[str, Any]:
    """DroneWallLanding's events: ``crossed`` (past ``cross_x`` at some step) and
    ``rest_steps`` (control steps resting on the ground or pad since the last touchdown after
    crossing, :func:`touching_down`)."""
    crossed = bool(events and events["crossed"]) or robot["pos"][0] > layout["cross_x"]
    if events is None:
        return {"crossed": crossed, "rest_steps": 0}
    return {
        "crossed": crossed,
        "rest_steps": _rest_steps(crossed, int(events["rest_steps"]), robot, layout),
    }


def _rest_steps(
    crossed: bool, rest: int, robot: Mapping[str, Any], layout: Mapping[str, Any]
) -> int:
    """Steps at rest once ``robot``'s pose is counted, after ``rest`` before it: one more
    while touching down past the wall, none once the drone lifts off (or before crossing)."""
    return rest + 1 if crossed and touching_down(robot, layout) else 0


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
