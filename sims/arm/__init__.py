"""Franka Panda arm tasks in the panda-gym style: reach, push and pick-and-place.

* :class:`~sims.arm.reach.ArmReach`: move the end effector to a goal in the air.
* :class:`~sims.arm.push.ArmPush`: push a cube to a goal on the table, gripper closed.
* :class:`~sims.arm.pick_place.ArmPickPlace`: grasp the cube and place it at a goal.

Shared pieces: :mod:`sims.arm.panda` (the robot) and :mod:`sims.arm.base` (:class:`ArmTask`).
"""

from sims.arm.base import ArmTask

__all__ = ["ArmTask"]
