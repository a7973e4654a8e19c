"""DroneOrbit (motion behaviour): circle a point at a commanded radius and speed, facing it."""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from sims.drone.base import SUCCESS_AT_TIMEOUT, DroneTask
from sims.drone.observe import observe_orbit
from sims.spec import Criterion, Goal, GoalError, Landmark, StateField, TaskMetric

SCORE_SECONDS = 5.0
RADIUS_TOL = 0.10
SPEED_TOL = 0.15
HEADING_TOL = math.radians(15.0)


class DroneOrbit(DroneTask):
    TASK_ID = "agentic_rl/DroneOrbit-v0"
    DESCRIPTION = (
        "Orbit a centre point counter-clockwise (seen from above) at the commanded radius and "
        "tangential speed and altitude, with the drone's nose (body x axis) facing the centre."
    )
    SUCCESS = (
        f"Over the last {SCORE_SECONDS:g} s of the 10 s episode the mean radius error is below "
        f"{RADIUS_TOL} m, the mean speed error below {SPEED_TOL} m/s and the mean heading error "
        "below 15 degrees."
    )
    EPISODE_SECONDS = 10.0
    MAX_YAW_RATE = 2.5
    TASK_FIELDS = (
        StateField(
            name="center_rel",
            role="layout",
            shape=(3,),
            unit="m",
            frame="world",
            description="Orbit centre (at the commanded altitude) minus drone position.",
        ),
        StateField(
            name="cmd_radius",
            role="goal",
            shape=(),
            unit="m",
            frame="task",
            description="Commanded orbit radius.",
        ),
        StateField(
            name="cmd_speed",
            role="goal",
            shape=(),
            unit="m/s",
            frame="task",
            description="Commanded tangential speed (counter-clockwise positive).",
        ),
        StateField(
            name="radius_error",
            role="goal",
            shape=(),
            unit="m",
            frame="world",
            description="Horizontal distance to the centre minus cmd_radius.",
        ),
        StateField(
            name="speed_error",
            role="goal",
            shape=(),
            unit="m/s",
            frame="world",
            description="Tangential speed minus cmd_speed.",
        ),
        StateField(
            name="heading_error",
            role="goal",
            shape=(),
            unit="rad",
            frame="world",
            description="Signed angle from the nose direction to the centre direction.",
        ),
    )
    EXTRA_REASONS = (SUCCESS_AT_TIMEOUT,)
    METRICS = (
        TaskMetric(name="success", description="1 if all three errors were within tolerance."),
        TaskMetric(
            name="radius_error",
            unit="m",
            higher_is_better=False,
            description="Mean |radius error| over the scoring window.",
        ),
        TaskMetric(
            name="speed_error",
            unit="m/s",
            higher_is_better=False,
            description="Mean |speed error| over the scoring window.",
        ),
        TaskMetric(
            name="heading_error",
            unit="rad",
            higher_is_better=False,
            description="Mean |heading error| over the scoring window.",
        ),
    )
    CONSTANTS = {
        "radius_tolerance": RADIUS_TOL,
        "speed_tolerance": SPEED_TOL,
        "heading_tolerance": HEADING_TOL,
        "score_seconds": SCORE_SECONDS,
    }
    GOAL = Goal(
        errors=(
            GoalError(
                field="radius_error",
                label="the commanded radius",
                tolerance="radius_tolerance",
                scale=0.3,
            ),
            GoalError(
                field="speed_error",
                label="the commanded speed",
                tolerance="speed_tolerance",
                scale=0.5,
            ),
            GoalError(
                field="heading_error",
                label="facing the centre",
                tolerance="heading_tolerance",
                scale=1.0,
            ),
        )
    )
    SUCCESS_CRITERIA = tuple(
        Criterion(
            name=name,
            source="metric",
            key=name,
            compare="<",
            threshold=tol,
            description=f"Mean |{name.replace('_', ' ')}| over the last score_seconds below {tol}.",
        )
        for name, tol in (
            ("radius_error", "radius_tolerance"),
            ("speed_error", "speed_tolerance"),
            ("heading_error", "heading_tolerance"),
        )
    )
    LANDMARKS = (Landmark(field="center_rel", label="the orbit centre"),)

    observe = staticmethod(observe_orbit)

    def _build_task_world(self) -> None:
        self.marker = self._add_marker((0.9, 0.2, 0.2, 0.8))

    def _reset_layout(self) -> None:
        self.center = np.array(
            [self._uniform(-0.3, 0.3), self._uniform(-0.3, 0.3), self._uniform(0.9, 1.2)]
        )
        self._place(self.marker, tuple(self.center))
        self.cmd_radius = self._uniform(0.5, 1.0)
        self.cmd_speed = self._uniform(0.4, 0.9)
        self._errors: list[tuple[float, float, float]] = []
        self._score_from = self.task_spec.max_episode_steps - int(
            SCORE_SECONDS * self.task_spec.control_hz
        )
        self.layout = {
            "center": self.center.tolist(),
            "cmd_radius": self.cmd_radius,
            "cmd_speed": self.cmd_speed,
        }

    def _start_pose(self) -> tuple[tuple[float, float, float], float]:
        angle = self._uniform(-math.pi, math.pi)
        r = self.cmd_radius + self._uniform(-0.3, 0.3)
        c = self.center
        return (
            (
                c[0] + r * math.cos(angle),
                c[1] + r * math.sin(angle),
                c[2] + self._uniform(-0.2, 0.2),
            ),
            self._uniform(-math.pi, math.pi),
        )

    def _task_end(self, state: Mapping[str, np.ndarray], contacts: set[int]) -> None:
        if self.elapsed_steps > self._score_from:
            self._errors.append(
                (
                    abs(float(state["radius_error"])),
                    abs(float(state["speed_error"])),
                    abs(float(state["heading_error"])),
                )
            )
        return None

    def _means(self) -> tuple[float, float, float]:
        if not self._errors:
            return (math.inf, math.inf, math.inf)
        r, s, h = np.mean(self._errors, axis=0)
        return float(r), float(s), float(h)

    def _success_at_timeout(self) -> bool:
        r, s, h = self._means()
        return r < RADIUS_TOL and s < SPEED_TOL and h < HEADING_TOL

    def _episode_metrics(self) -> dict[str, float]:
        r, s, h = self._means()
        return {
            "success": float(self._success_at_timeout()),
            "radius_error": r,
            "speed_error": s,
            "heading_error": h,
        }
