"""Which ROS profiles a task can deploy to, read from its command model alone.

A task's ``command_model`` (``sims.SimTask.command_model``, recorded in ``bundle.json``)
names the robot family (``robot``) and the command the runtime sends (``kind``); a profile
drives one robot family with some command kinds (``robot`` and ``action_modes`` in its YAML).
This module matches the two, for ``tasks check`` before training and for the runtime's error
when a bundle meets a profile it cannot drive, so both say the same thing and what to add.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .profiles import Profile, builtin_profiles, load_profile

#: What a custom task declares to drive a robot joint by joint (the ``joint_group`` profile).
JOINT_GROUP_HINT = (
    "for the joint_group profile (any ros2_control robot, joint by joint) declare "
    "`command_model(cls, action_mode=None)` returning {'robot': 'joint_group', 'kind': 'effort' "
    "or 'velocity', 'joints': [measured joint names], 'commanded': [commanded joint names], "
    "'scale': [one value per commanded joint]} plus from_measurement and to_measurement "
    "(README, 'Deploying a custom task'), then export the bundle again"
)


def fits(profile: Profile, command: Mapping[str, Any]) -> bool:
    """True when ``profile`` drives the command model's robot with its command kind."""
    return profile.robot == command.get("robot") and command.get("kind") in profile.action_modes


def deploy_profiles(command: Mapping[str, Any]) -> list[str]:
    """The built-in profiles that can drive a task with this command model."""
    return [n for n in builtin_profiles() if fits(load_profile(n), command)]


def mismatch(profile: Profile, command: Mapping[str, Any], task_id: str) -> str:
    """Why ``profile`` cannot drive a task with this command model, and what would."""
    robot, kind = command.get("robot"), command.get("kind")
    if kind not in profile.action_modes:
        why = (
            f"profile {profile.name!r} supports action modes {list(profile.action_modes)}, "
            f"but the bundle's policy ({task_id}) uses {kind!r}"
        )
    else:
        why = (
            f"profile {profile.name!r} drives a {profile.robot}, but the bundle's task "
            f"{task_id} is a {robot} task"
        )
    others = deploy_profiles(command)
    if others:
        return f"{why}; use profile {' or '.join(others)}"
    return f"{why}; no built-in profile drives it: {JOINT_GROUP_HINT}"
