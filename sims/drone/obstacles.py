"""DroneObstacles: reach a goal through a randomized field of pillars."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from sims.drone.base import DroneTask
from sims.drone.observe import N_SENSED, observe_obstacles
from sims.spec import (
    Criterion,
    Goal,
    GoalError,
    Hazard,
    StateField,
    TaskMetric,
    TerminationReason,
)

N_PILLARS = 8
PILLAR_RADIUS = 0.1
PILLAR_HEIGHT = 3.0
GOAL_TOL = 0.2
FIELD_X = (0.8, 3.2)
FIELD_Y = (-1.2, 1.2)


class DroneObstacles(DroneTask):
    TASK_ID = "agentic_rl/DroneObstacles-v0"
    DESCRIPTION = (
        f"Starting in a hover, fly to a goal 4 m ahead through a random field of {N_PILLARS} "
        "floor-to-ceiling pillars (0.1 m radius) without touching any."
    )
    SUCCESS = f"The drone comes within {GOAL_TOL} m of the goal without contact, within 10 s."
    EPISODE_SECONDS = 10.0
    MAX_SPEED = 1.5
    BOUNDS = ((-1.0, 5.0), (-2.5, 2.5), (-0.1, 2.5))
    TASK_FIELDS = (
        StateField(
            name="goal_rel",
            role="goal",
            shape=(3,),
            unit="m",
            frame="world",
            description="Goal position minus drone position.",
        ),
        StateField(
            name="obstacle_rel",
            role="layout",
            shape=(N_SENSED, 2),
            unit="m",
            frame="world",
            description=f"Horizontal offsets (dx, dy) from the drone to the {N_SENSED} "
            "nearest pillar axes, nearest first.",
        ),
        StateField(
            name="clearance",
            role="layout",
            shape=(),
            unit="m",
            frame="world",
            description="Horizontal distance from the drone's rim to the nearest pillar "
            "surface (<= 0 means touching).",
        ),
    )
    EXTRA_REASONS = (
        TerminationReason(name="collision", description="Touched a pillar."),
        TerminationReason(name="success", success=True, description="Reached the goal."),
    )
    METRICS = (
        TaskMetric(name="success", description="1 if the goal was reached without contact."),
        TaskMetric(
            name="final_distance",
            unit="m",
            higher_is_better=False,
            description="Distance to the goal at the end.",
        ),
        TaskMetric(name="progress", description="Fraction of the start-goal distance covered."),
        TaskMetric(name="min_clearance", unit="m", description="Smallest clearance seen."),
    )
    CONSTANTS = {"goal_tolerance": GOAL_TOL, "pillar_radius": PILLAR_RADIUS, "drone_radius": 0.06}
    GOAL = Goal(errors=(GoalError(field="goal_rel", tolerance="goal_tolerance", scale=4.0),))
    SUCCESS_CRITERIA = (
        Criterion(
            name="reached_goal",
            source="field",
            key="goal_rel",
            reduce="norm",
            compare="<",
            threshold="goal_tolerance",
            description="Within goal_tolerance of the goal at the end.",
        ),
        Criterion(
            name="no_contact",
            source="metric",
            key="min_clearance",
            compare=">",
            threshold=0.0,
            description="Never touched a pillar.",
        ),
    )
    HAZARDS = (
        Hazard(
            reason="collision",
            fields=("clearance", "obstacle_rel"),
            description="Small clearance to the nearest pillar.",
        ),
    )

    observe = staticmethod(observe_obstacles)

    def _build_task_world(self) -> None:
        self.marker = self._add_marker((0.1, 0.8, 0.2, 0.8), radius=0.08)
        self.pillars = [
            self._add_cylinder(PILLAR_RADIUS, PILLAR_HEIGHT, (0.3, 0.35, 0.8, 1))
            for _ in range(N_PILLARS)
        ]

    def _reset_layout(self) -> None:
        self.goal = (4.0, self._uniform(-0.8, 0.8), self._uniform(0.8, 1.3))
        self._place(self.marker, self.goal)
        xy: list[tuple[float, float]] = []
        while len(xy) < N_PILLARS:  # rejection sampling keeps pillars 0.45 m apart
            cx, cy = self._uniform(*FIELD_X), self._uniform(*FIELD_Y)
            if all(math.hypot(cx - ox, cy - oy) > 0.45 for ox, oy in xy):
                xy.append((cx, cy))
        for body, (cx, cy) in zip(self.pillars, xy, strict=True):
            self._place(body, (cx, cy, PILLAR_HEIGHT / 2))
        self.pillar_xy = xy
        self._min_clearance = math.inf
        self.layout = {
            "goal": list(self.goal),
            "pillars": [list(c) for c in xy],
            "pillar_radius": PILLAR_RADIUS,
            "drone_radius": self.CONSTANTS["drone_radius"],
        }

    def _start_pose(self) -> tuple[tuple[float, float, float], float]:
        self._start = (0.0, self._uniform(-0.5, 0.5), self._uniform(0.8, 1.2))
        return self._start, 0.0

    def _after_observe(self, fields: Mapping[str, Any]) -> None:
        clearance = fields["clearance"]
        self._clearance = clearance
        self._min_clearance = min(self._min_clearance, clearance)

    def _near_obstacle(self) -> bool:
        return self._clearance < 0.05

    def _task_end(self, state: Mapping[str, np.ndarray], contacts: set[int]) -> str | None:
        g = self.goal
        x, y, z = self._pos
        return "success" if math.dist(g, (x, y, z)) < GOAL_TOL else None

    def _episode_metrics(self) -> dict[str, float]:
        dist = float(np.linalg.norm(self.state["goal_rel"]))
        total = math.dist(self.goal, self._start)
        return {
            "success": float(
                self.state is not None and dist < GOAL_TOL and self._min_clearance > 0
            ),
            "final_distance": dist,
            "progress": max(0.0, 1.0 - dist / total),
            "min_clearance": self._min_clearance,
        }

    def _camera(self) -> tuple[tuple[float, float, float], float, float, float]:
        return (2.0, 0.0, 0.8), 4.5, -90.0, -50.0
