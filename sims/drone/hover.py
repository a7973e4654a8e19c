"""DroneHover: take off (from the ground or mid-air) and hold a position."""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from sims.drone import model
from sims.drone.base import SUCCESS_AT_TIMEOUT, DroneTask
from sims.drone.observe import observe_hover
from sims.spec import Criterion, Goal, GoalError, StateField, TaskMetric

HOLD_SECONDS = 2.0
POS_TOL = 0.10
TILT_TOL = math.radians(10.0)


class DroneHover(DroneTask):
    TASK_ID = "agentic_rl/DroneHover-v0"
    DESCRIPTION = (
        "Take off from the ground or from a random mid-air start and hover at the goal point, "
        "level and still."
    )
    SUCCESS = (
        f"During the last {HOLD_SECONDS:g} s of the 8 s episode the drone stays within "
        f"{POS_TOL} m of the goal with tilt below 10 degrees."
    )
    TASK_FIELDS = (
        StateField(
            name="goal_rel",
            role="goal",
            shape=(3,),
            unit="m",
            frame="world",
            description="Goal position minus drone position.",
        ),
    )
    EXTRA_REASONS = (SUCCESS_AT_TIMEOUT,)
    METRICS = (
        TaskMetric(name="success", description="1 if the hover was held at the end."),
        TaskMetric(
            name="final_distance",
            unit="m",
            higher_is_better=False,
            description="Mean distance to the goal over the last 2 s.",
        ),
        TaskMetric(name="hold_fraction", description="Fraction of the last 2 s inside tolerance."),
    )
    CONSTANTS = {"pos_tolerance": POS_TOL, "tilt_tolerance": TILT_TOL, "hold_seconds": HOLD_SECONDS}
    # starts are up to ~1.5 m from the goal (mid-air) or ~1 m below it (ground)
    GOAL = Goal(errors=(GoalError(field="goal_rel", tolerance="pos_tolerance", scale=1.0),))
    SUCCESS_CRITERIA = (
        Criterion(
            name="near_goal",
            source="field",
            key="goal_rel",
            reduce="norm",
            compare="<",
            threshold="pos_tolerance",
            hold="hold_seconds",
            description="Within pos_tolerance of the goal for the last hold_seconds.",
        ),
        Criterion(
            name="level",
            source="field",
            key="tilt",
            compare="<",
            threshold="tilt_tolerance",
            hold="hold_seconds",
            description="Tilt below tilt_tolerance for the last hold_seconds.",
        ),
    )

    observe = staticmethod(observe_hover)

    def _build_task_world(self) -> None:
        self.marker = self._add_marker((0.1, 0.8, 0.2, 0.8))

    def _reset_layout(self) -> None:
        self.goal = (self._uniform(-0.5, 0.5), self._uniform(-0.5, 0.5), self._uniform(0.75, 1.25))
        self._place(self.marker, self.goal)
        self.layout = {"goal": list(self.goal)}
        self._tail: list[tuple[float, bool]] = []
        spec = self.task_spec
        self._hold_from = spec.max_episode_steps - int(HOLD_SECONDS * spec.control_hz)

    def _start_pose(self) -> tuple[tuple[float, float, float], float]:
        yaw = self._uniform(-math.pi, math.pi)
        if self._uniform(0.0, 1.0) < 0.5:
            return (self._uniform(-0.5, 0.5), self._uniform(-0.5, 0.5), model.REST_HEIGHT), yaw
        gx, gy, gz = self.goal
        return (
            gx + self._uniform(-1, 1),
            gy + self._uniform(-1, 1),
            max(0.3, gz + self._uniform(-0.5, 0.5)),
        ), yaw

    def _task_end(self, state: Mapping[str, np.ndarray], contacts: set[int]) -> None:
        if self.elapsed_steps > self._hold_from:
            dist = float(np.linalg.norm(state["goal_rel"]))
            self._tail.append((dist, dist < POS_TOL and float(state["tilt"]) < TILT_TOL))
        return None

    def _success_at_timeout(self) -> bool:
        return bool(self._tail) and all(ok for _, ok in self._tail)

    def _episode_metrics(self) -> dict[str, float]:
        tail = self._tail or [(float(np.linalg.norm(self.state["goal_rel"])), False)]
        return {
            "success": float(self._success_at_timeout()),
            "final_distance": float(np.mean([d for d, _ in tail])),
            "hold_fraction": float(np.mean([ok for _, ok in tail])),
        }
