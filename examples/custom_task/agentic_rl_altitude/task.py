"""DroneAltitude: climb from the ground to a commanded altitude and hold it.

A complete plugin task in ~50 lines: derive from ``sims.drone.base.DroneTask`` (or from
``sims.SimTask`` for a different robot), declare the spec pieces as class attributes and
implement the hooks. Register it with the ``agentic_rl.tasks`` entry point (see pyproject.toml).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from sims.drone.base import SUCCESS_AT_TIMEOUT, DroneTask
from sims.spec import Criterion, Goal, GoalError, StateField, TaskMetric

TOLERANCE = 0.05


class DroneAltitude(DroneTask):
    TASK_ID = "altitude/DroneAltitude-v0"
    DESCRIPTION = "Take off from the ground and hold a commanded altitude above the start point."
    SUCCESS = f"For the last 1 s of the 4 s episode the altitude error stays below {TOLERANCE} m."
    EPISODE_SECONDS = 4.0
    TASK_FIELDS = (
        StateField(
            name="altitude_error",
            role="goal",
            shape=(),
            unit="m",
            frame="world",
            description="Commanded altitude minus current altitude.",
        ),
    )
    EXTRA_REASONS = (SUCCESS_AT_TIMEOUT,)
    METRICS = (
        TaskMetric(name="success", description="1 if the altitude was held at the end."),
        TaskMetric(
            name="final_error",
            unit="m",
            higher_is_better=False,
            description="Absolute altitude error at the end.",
        ),
    )
    CONSTANTS = {"tolerance": TOLERANCE, "hold_seconds": 1.0}
    GOAL = Goal(errors=(GoalError(field="altitude_error", tolerance="tolerance", scale=0.8),))
    SUCCESS_CRITERIA = (
        Criterion(
            name="holds_altitude",
            source="field",
            key="altitude_error",
            reduce="abs",
            compare="<",
            threshold="tolerance",
            hold="hold_seconds",
        ),
    )

    def _reset_layout(self) -> None:
        self.target = self._uniform(0.5, 1.2)
        self._held = 0

    def _task_values(self, pos: tuple[float, float, float]) -> tuple[float, ...]:
        return (self.target - pos[2],)

    def _task_end(self, state: Mapping[str, np.ndarray], contacts: set[int]) -> None:
        ok = abs(float(state["altitude_error"])) < TOLERANCE
        self._held = self._held + 1 if ok else 0
        return None

    def _success_at_timeout(self) -> bool:
        return self._held >= int(self.task_spec.control_hz)

    def _episode_metrics(self) -> dict[str, float]:
        return {
            "success": float(self._success_at_timeout()),
            "final_error": abs(float(self.state["altitude_error"])),
        }
