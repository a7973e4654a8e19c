"""ArmPush: push a cube across the table to a goal with the closed gripper (panda-gym Push)."""

from __future__ import annotations

import numpy as np

from sims.arm.base import ArmTask
from sims.arm.observe import observe_cube
from sims.arm.spec import GOAL_TOLERANCE, OBJECT_SIZE

#: Cube starts and goals are drawn uniformly in this square of the table (world x, y, m):
#: panda-gym's 0.3 m ranges; both rest on the table top.
XY_LOW = np.array([-0.15, -0.15])
XY_HIGH = np.array([0.15, 0.15])


def on_table(rng: np.random.Generator) -> np.ndarray:
    """A cube-centre position resting on the table, uniform in the sampling square."""
    return np.append(rng.uniform(XY_LOW, XY_HIGH), OBJECT_SIZE / 2)


class ArmPush(ArmTask):
    """Push the cube to a goal on the table; the gripper is held closed."""

    TASK_ID = "agentic_rl/ArmPush-v0"
    DESCRIPTION = (
        f"Push a {OBJECT_SIZE} m cube (1 kg) lying on the table to a goal on the table with a "
        "Franka Panda arm whose gripper is held closed. Cube and goal are drawn in the square "
        f"x, y in {XY_LOW[0]}..{XY_HIGH[0]} m. The cube can slide, tip and fall off the table."
    )
    SUCCESS = f"The cube's centre is within {GOAL_TOLERANCE} m of the goal (the episode ends)."
    HAS_OBJECT = True

    observe = staticmethod(observe_cube)

    def _sample_object(self) -> np.ndarray:
        return on_table(self.np_random)

    def _sample_goal(self) -> np.ndarray:
        return on_table(self.np_random)
