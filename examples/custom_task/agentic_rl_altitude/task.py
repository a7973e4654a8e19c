"""DroneAltitude: climb from the ground to a commanded altitude and hold it.

A complete plugin task: derive from ``sims.drone.base.DroneTask`` (or from ``sims.SimTask`` for
a different robot), declare the spec pieces as class attributes, name the observation function
and implement the hooks. Register it with the ``agentic_rl.tasks`` entry point (see
pyproject.toml), or name it as ``agentic_rl_altitude.task:DroneAltitude``.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from agentic_rl_altitude.observe import observe_altitude
from sims.drone.base import SUCCESS_AT_TIMEOUT, DroneTask
from sims.spec import Criterion, Goal, GoalError, StateField, TaskMetric

TOLERANCE = 0.05
HOLD_SECONDS = 1.0


class DroneAltitude(DroneTask):
    # --- the spec: what the task is and means -------------------------------------------
    TASK_ID = "altitude/DroneAltitude-v0"
    DESCRIPTION = "Take off from the ground and hold a commanded altitude above the start point."
    SUCCESS = f"For the last 1 s of the 4 s episode the altitude error stays below {TOLERANCE} m."
    EPISODE_SECONDS = 4.0
    TASK_FIELDS = (
        StateField(
            name="altitude_error",
            shape=(),
            unit="m",
            frame="world",
            role="goal",
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
    CONSTANTS = {"tolerance": TOLERANCE, "hold_seconds": HOLD_SECONDS}
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

    # --- the observation: one pure function of (robot_state, layout) ---------------------
    observe = staticmethod(observe_altitude)

    # --- the episode ---------------------------------------------------------------------
    def _reset_layout(self) -> None:
        self.layout = {"altitude": self._uniform(0.5, 1.2)}
        self._held = 0

    def _task_end(self, state: Mapping[str, np.ndarray], contacts: set[int]) -> None:
        ok = abs(float(state["altitude_error"])) < TOLERANCE
        self._held = self._held + 1 if ok else 0
        return None

    def _success_at_timeout(self) -> bool:
        return self._held >= int(HOLD_SECONDS * self.task_spec.control_hz)

    def _episode_metrics(self) -> dict[str, float]:
        return {
            "success": float(self._success_at_timeout()),
            "final_error": abs(float(self.state["altitude_error"])),
        }
