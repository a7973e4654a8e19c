"""DroneTrajectory: track a moving reference along a circle or a figure-8 for two laps."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from sims.drone.base import DroneTask
from sims.drone.observe import LOOKAHEAD, observe_trajectory
from sims.drone.observe import reference as path_reference
from sims.spec import (
    Criterion,
    Goal,
    GoalError,
    Hazard,
    StateField,
    TaskMetric,
    TerminationReason,
)

RADIUS = 1.0
LAPS = 2
RMSE_TOL = 0.15
MAX_DEVIATION = 0.5


class DroneTrajectory(DroneTask):
    TASK_ID = "agentic_rl/DroneTrajectory-v0"
    DESCRIPTION = (
        f"Follow a moving reference point around a circle or a figure-8 of radius {RADIUS} m "
        f"(6-8 s per lap) for {LAPS} laps at about 1 m altitude, entering the path at its start "
        "point with the reference's velocity."
    )
    SUCCESS = (
        f"After {LAPS} laps the position RMSE to the reference is below {RMSE_TOL} m and the "
        f"drone never strayed more than {MAX_DEVIATION} m from it."
    )
    EPISODE_SECONDS = 16.0
    MAX_SPEED = 2.0
    TASK_FIELDS = (
        StateField(
            name="ref_rel",
            role="goal",
            shape=(3,),
            unit="m",
            frame="world",
            description="Current reference point minus drone position.",
        ),
        StateField(
            name="ref_vel",
            role="goal",
            shape=(3,),
            unit="m/s",
            frame="world",
            description="Velocity of the reference point.",
        ),
        StateField(
            name="ref_ahead_rel",
            role="goal",
            shape=(3,),
            unit="m",
            frame="world",
            description=f"Reference point {LOOKAHEAD} s ahead minus drone position.",
        ),
        StateField(
            name="progress",
            role="time",
            shape=(),
            unit="1",
            frame="task",
            description="Fraction of the laps completed (1 at the end).",
        ),
    )
    # The episode ends when the laps do (at most 16 s), never at the time limit; and straying
    # 0.5 m ends it before the drone can reach the floor (the path is >= 0.9 m up) or leave
    # the flight box (the path stays within 1.3 m of the origin).
    EXCLUDED_REASONS = ("timeout", "crash", "out_of_bounds")
    EXTRA_REASONS = (
        TerminationReason(
            name="lost_track",
            description=f"Strayed more than {MAX_DEVIATION} m from the reference.",
        ),
        TerminationReason(
            name="poor_tracking", description=f"Finished the laps with RMSE above {RMSE_TOL} m."
        ),
        TerminationReason(
            name="success", success=True, description="Finished the laps within the RMSE bound."
        ),
    )
    METRICS = (
        TaskMetric(name="success", description="1 if the laps were tracked within bounds."),
        TaskMetric(
            name="rmse",
            unit="m",
            higher_is_better=False,
            description="Position RMSE to the reference over the episode.",
        ),
        TaskMetric(
            name="max_error",
            unit="m",
            higher_is_better=False,
            description="Largest distance to the reference.",
        ),
        TaskMetric(name="progress", description="Fraction of the laps completed."),
    )
    CONSTANTS = {
        "rmse_tolerance": RMSE_TOL,
        "max_deviation": MAX_DEVIATION,
        "radius": RADIUS,
        "laps": LAPS,
    }
    GOAL = Goal(
        errors=(
            GoalError(
                field="ref_rel",
                label="the reference point",
                tolerance="rmse_tolerance",
                scale=MAX_DEVIATION,
            ),
        )
    )
    SUCCESS_CRITERIA = (
        Criterion(
            name="finished_laps",
            source="metric",
            key="progress",
            compare=">=",
            threshold=1.0,
            description="Completed the laps.",
        ),
        Criterion(
            name="tracking_rmse",
            source="metric",
            key="rmse",
            compare="<",
            threshold="rmse_tolerance",
            description="Position RMSE below rmse_tolerance.",
        ),
        Criterion(
            name="stayed_close",
            source="metric",
            key="max_error",
            compare="<=",
            threshold="max_deviation",
            description="Never farther than max_deviation from the reference.",
        ),
    )
    HAZARDS = (
        Hazard(reason="lost_track", fields=("ref_rel",), description="Far from the reference."),
        Hazard(
            reason="poor_tracking",
            fields=("ref_rel", "ref_vel"),
            description="Lagging or off the reference.",
        ),
    )
    PROGRESS = ("progress",)

    observe = staticmethod(observe_trajectory)

    def _reset_layout(self) -> None:
        self.shape = "circle" if self._uniform(0.0, 1.0) < 0.5 else "figure8"
        self.period = self._uniform(6.0, 8.0)
        self.center = tuple(
            [self._uniform(-0.3, 0.3), self._uniform(-0.3, 0.3), self._uniform(0.9, 1.2)]
        )
        self.end_step = round(LAPS * self.period * self.task_spec.control_hz)
        self._sq_errors: list[float] = []
        self.layout = {
            "shape": self.shape,
            "period": self.period,
            "radius": RADIUS,
            "center": list(self.center),
            "control_hz": self.task_spec.control_hz,
            "end_step": self.end_step,
        }

    def reference(self, t: float) -> tuple[tuple[float, ...], tuple[float, ...]]:
        """Reference position and velocity at time ``t`` (s), as plain float triples."""
        return path_reference(self.layout, t)

    def _start_pose(self) -> tuple[tuple[float, float, float], float]:
        start, _ = self.reference(0.0)
        return tuple(a + self._uniform(-0.05, 0.05) for a in start), 0.0

    def _start_velocity(self) -> tuple[float, float, float]:
        # a flying start: the drone enters the path moving with the reference
        return self.reference(0.0)[1]

    def _after_observe(self, fields: Mapping[str, Any]) -> None:
        dx, dy, dz = fields["ref_rel"]
        self._err = math.sqrt(dx**2 + dy**2 + dz**2)

    def _task_end(self, state: Mapping[str, np.ndarray], contacts: set[int]) -> str | None:
        err = self._err
        self._sq_errors.append(err * err)
        if err > MAX_DEVIATION:
            return "lost_track"
        if self.elapsed_steps >= self.end_step:
            return "success" if self._rmse() < RMSE_TOL else "poor_tracking"
        return None

    def _rmse(self) -> float:
        return math.sqrt(float(np.mean(self._sq_errors))) if self._sq_errors else math.inf

    def _episode_metrics(self) -> dict[str, float]:
        done = self.elapsed_steps >= self.end_step
        return {
            "success": float(
                done and self._rmse() < RMSE_TOL and max(self._sq_errors) <= MAX_DEVIATION**2
            ),
            "rmse": self._rmse(),
            "max_error": math.sqrt(max(self._sq_errors, default=math.inf)),
            "progress": min(1.0, self.elapsed_steps / self.end_step),
        }
