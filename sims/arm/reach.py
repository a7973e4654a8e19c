"""ArmReach: move the Panda's end effector to a goal point above the table (panda-gym Reach)."""

from __future__ import annotations

import numpy as np

from sims.arm.base import ArmTask
from sims.arm.observe import observe_reach
from sims.arm.spec import GOAL_TOLERANCE

#: Goals are drawn uniformly in this box above the table centre (world frame, m): panda-gym's
#: 0.3 m goal range.
GOAL_LOW = np.array([-0.15, -0.15, 0.0])
GOAL_HIGH = np.array([0.15, 0.15, 0.3])


class ArmReach(ArmTask):
    """Reach a random point with the grasp point; the gripper is held closed."""

    TASK_ID = "agentic_rl/ArmReach-v0"
    DESCRIPTION = (
        "Move the end effector of a Franka Panda arm (the point between its fingertips) to a "
        f"goal point drawn in the box {GOAL_LOW.tolist()}..{GOAL_HIGH.tolist()} m above the "
        "table. The gripper stays closed."
    )
    SUCCESS = f"The end effector is within {GOAL_TOLERANCE} m of the goal (the episode ends)."

    observe = staticmethod(observe_reach)

    def _sample_goal(self) -> np.ndarray:
        return self.np_random.uniform(GOAL_LOW, GOAL_HIGH)
