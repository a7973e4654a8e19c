"""ArmPickPlace: grasp a cube and place it at a goal on or above the table (panda-gym
PickAndPlace)."""

from __future__ import annotations

import numpy as np

from sims.arm.base import ArmTask
from sims.arm.observe import observe_cube
from sims.arm.push import XY_HIGH, XY_LOW, on_table
from sims.arm.spec import GOAL_TOLERANCE, OBJECT_SIZE

#: Highest goal above a resting cube's centre, m (panda-gym's goal_z_range).
GOAL_LIFT = 0.2
#: Share of goals placed on the table rather than in the air (panda-gym: 0.3).
P_GOAL_ON_TABLE = 0.3


class ArmPickPlace(ArmTask):
    """Pick the cube up and bring it to the goal; the policy opens and closes the gripper."""

    TASK_ID = "agentic_rl/ArmPickPlace-v0"
    DESCRIPTION = (
        f"Grasp a {OBJECT_SIZE} m cube (1 kg) lying on the table with the gripper of a Franka "
        "Panda arm and bring it to a goal. The cube starts in the square x, y in "
        f"{XY_LOW[0]}..{XY_HIGH[0]} m; the goal is drawn over the same square, in the air up to "
        f"{GOAL_LIFT} m above the table-resting height or, in {P_GOAL_ON_TABLE:.0%} of episodes, "
        "on the table. The fingers close along world y; open them before descending over the "
        "cube and keep closing them while carrying it."
    )
    SUCCESS = f"The cube's centre is within {GOAL_TOLERANCE} m of the goal (the episode ends)."
    HAS_OBJECT = True
    USES_GRIPPER = True

    observe = staticmethod(observe_cube)

    def _sample_object(self) -> np.ndarray:
        return on_table(self.np_random)

    def _sample_goal(self) -> np.ndarray:
        goal = on_table(self.np_random)
        if self.np_random.random() >= P_GOAL_ON_TABLE:
            goal[2] += self.np_random.uniform(0.0, GOAL_LIFT)
        return goal
