"""The Panda tasks' observations: state fields from the robot's state and the layout.

Pure numpy (vendored into generated ROS packages; no PyBullet, no torch). ``robot_state``
holds what the robot and the object tracker measure, world frame (origin at the centre of the
table top, z up):

* ``ee_pos`` (3, m), ``ee_vel`` (3, m/s), ``ee_quat`` (x, y, z, w), ``joint_pos`` (7, rad),
  ``joint_vel`` (7, rad/s), and ``gripper_width`` (m) for tasks whose policy drives the gripper;
* for tasks with the cube: ``object_pos`` (3, m), ``object_quat``, ``object_vel`` (3, m/s),
  ``object_angvel`` (3, rad/s).

``layout`` is ``{"goal": [x, y, z]}``. The relative fields are computed from the absolute ones,
true or noisy alike, so a noisy observation stays self-consistent.

On the robot the state comes from the profile's typed measurement
(``ros_bridge.measurement.Measurement``: joints, the tool point by forward kinematics, the
gripper, the tracked object) through :func:`from_measurement`; :func:`to_measurement` is the
inverse the simulated-bag writer uses.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

ROBOT_KEYS = ("ee_pos", "ee_vel", "ee_quat", "joint_pos", "joint_vel")
OBJECT_KEYS = ("object_pos", "object_quat", "object_vel", "object_angvel")


def from_measurement(m: Any) -> dict[str, Any]:
    """The arm's robot state of a robot-side measurement (what is measured; the object's and
    the gripper's values only when the robot side has them)."""
    robot = {
        "ee_pos": m.tool_position,
        "ee_vel": m.tool_velocity,
        "ee_quat": m.tool_orientation,
        "joint_pos": m.joint_positions,
        "joint_vel": m.joint_velocities,
    }
    if m.gripper_width is not None:
        robot["gripper_width"] = m.gripper_width
    if m.object_position is not None:
        robot["object_pos"] = m.object_position
        robot["object_quat"] = m.object_orientation
        robot["object_vel"] = m.object_velocity
        robot["object_angvel"] = m.object_angular_velocity
    return robot


def to_measurement(robot: Mapping[str, Any]) -> dict[str, Any]:
    """What the arm's sensors and the object tracker measure in a simulated robot state
    (``Measurement`` keyword values; the tool point follows from the joints on the robot)."""
    out: dict[str, Any] = {
        "joint_positions": robot["joint_pos"],
        "joint_velocities": robot["joint_vel"],
    }
    if "gripper_width" in robot:
        out["gripper_width"] = float(robot["gripper_width"])
    if "object_pos" in robot:
        out["object_position"] = robot["object_pos"]
        out["object_orientation"] = robot["object_quat"]
        out["object_velocity"] = robot["object_vel"]
        out["object_angular_velocity"] = robot["object_angvel"]
    return out


def _vec(v: Any) -> tuple[float, ...]:
    # Plain floats: the simulator writes tuples into the state vector without numpy's
    # per-field conversions (the values are the same floats).
    return tuple(v.tolist()) if isinstance(v, np.ndarray) else tuple(v)


def _diff(a: tuple[float, ...], b: tuple[float, ...]) -> tuple[float, ...]:
    return tuple(x - y for x, y in zip(a, b, strict=True))


def _robot(robot: Mapping[str, Any], goal: tuple[float, ...]) -> dict[str, Any]:
    fields: dict[str, Any] = {k: _vec(robot[k]) for k in ROBOT_KEYS}
    if "gripper_width" in robot:
        fields["gripper_width"] = float(robot["gripper_width"])
    fields["goal_pos"] = goal
    return fields


def observe_reach(robot: Mapping[str, Any], layout: Mapping[str, Any]) -> dict[str, Any]:
    """ArmReach: the robot's fields, the goal and ``goal_rel`` = goal - end effector."""
    goal = _vec(layout["goal"])
    fields = _robot(robot, goal)
    fields["goal_rel"] = _diff(goal, fields["ee_pos"])
    return fields


def observe_cube(robot: Mapping[str, Any], layout: Mapping[str, Any]) -> dict[str, Any]:
    """ArmPush and ArmPickPlace: the robot's and the cube's fields, the goal, and the cube's
    offsets from the end effector and from the goal."""
    goal = _vec(layout["goal"])
    fields = _robot(robot, goal)
    for k in OBJECT_KEYS:
        fields[k] = _vec(robot[k])
    fields["object_rel_ee"] = _diff(fields["object_pos"], fields["ee_pos"])
    fields["object_rel_goal"] = _diff(fields["object_pos"], goal)
    return fields
