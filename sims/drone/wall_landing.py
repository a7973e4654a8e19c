"""DroneWallLanding: cross a wall, then land softly on a pad behind it."""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from sims.drone import model
from sims.drone.base import GROUND_CONTACT_GAP, DroneTask
from sims.drone.observe import observe_wall_landing, track_wall_landing
from sims.spec import (
    Criterion,
    Goal,
    GoalError,
    Hazard,
    Landmark,
    StateField,
    TaskMetric,
    TerminationReason,
)

WALL_X = 1.5
WALL_THICKNESS = 0.1
WALL_HALF_WIDTH = 2.5
PAD_RADIUS = 0.2
PAD_HEIGHT = 0.02
LAND_TOL = 0.10
LAND_VZ = 0.4
LAND_TILT = math.radians(15.0)
REST_SECONDS = 1.0


class DroneWallLanding(DroneTask):
    TASK_ID = "agentic_rl/DroneWallLanding-v0"
    DESCRIPTION = (
        "Take off, climb over a wall (1.0-1.4 m tall) that blocks the way, then land on a pad "
        "1-1.7 m behind it and stay there."
    )
    SUCCESS = (
        f"Touchdown on the pad within {LAND_TOL} m of its centre, with vertical speed below "
        f"{LAND_VZ} m/s and tilt below 15 degrees, then resting on it for {REST_SECONDS:g} s, "
        "within 12 s."
    )
    EPISODE_SECONDS = 12.0
    BOUNDS = ((-1.0, 4.5), (-2.5, 2.5), (-0.1, 2.5))
    TASK_FIELDS = (
        StateField(
            name="wall_rel",
            role="layout",
            shape=(3,),
            unit="m",
            frame="world",
            description="Point on top of the wall's near face, level with the drone "
            "sideways (x_wall, y_drone, wall_top) minus drone position.",
        ),
        StateField(
            name="pad_rel",
            role="goal",
            shape=(3,),
            unit="m",
            frame="world",
            description="Centre of the pad's top surface minus drone position.",
        ),
        StateField(
            name="crossed",
            role="event",
            shape=(),
            unit="1",
            frame="task",
            description="1 once the drone is past the wall, else 0.",
        ),
        StateField(
            name="rest_time",
            role="event",
            shape=(),
            unit="s",
            frame="task",
            description="Time resting on the pad after a valid touchdown, this step "
            "included (rest_seconds of it ends the episode in success).",
        ),
    )
    EXTRA_REASONS = (
        TerminationReason(name="collision", description="Touched the wall."),
        TerminationReason(
            name="hard_landing",
            description=(
                f"Touched down with vertical speed above {LAND_VZ} m/s or tilt above 15 degrees."
            ),
        ),
        TerminationReason(
            name="missed_pad",
            description=(f"Touched down softly but more than {LAND_TOL} m from the pad centre."),
        ),
        TerminationReason(
            name="success", success=True, description="Landed on the pad and rested there."
        ),
    )
    METRICS = (
        TaskMetric(name="success", description="1 if the landing succeeded."),
        TaskMetric(
            name="landing_error",
            unit="m",
            higher_is_better=False,
            description="Horizontal distance from the pad centre at the end.",
        ),
        TaskMetric(name="crossed", description="1 if the wall was crossed."),
        TaskMetric(
            name="touchdown_speed",
            unit="m/s",
            higher_is_better=False,
            description="Vertical speed at the first touchdown after the wall (0 if none).",
        ),
        TaskMetric(name="rest_time", unit="s", description="Time resting on the pad at the end."),
    )
    CONSTANTS = {
        "landing_tolerance": LAND_TOL,
        "landing_max_vz": LAND_VZ,
        "landing_max_tilt": LAND_TILT,
        "rest_seconds": REST_SECONDS,
        "wall_x": WALL_X,
        "wall_thickness": WALL_THICKNESS,
    }
    GOAL = Goal(
        errors=(
            GoalError(field="pad_rel", label="the pad", tolerance="landing_tolerance", scale=3.0),
        )
    )
    SUCCESS_CRITERIA = (
        Criterion(
            name="crossed_wall",
            source="field",
            key="crossed",
            compare=">=",
            threshold=1.0,
            description="Got past the wall.",
        ),
        Criterion(
            name="soft_touchdown",
            source="metric",
            key="touchdown_speed",
            compare="<=",
            threshold="landing_max_vz",
            description="Touched down slower than landing_max_vz.",
        ),
        Criterion(
            name="on_pad",
            source="metric",
            key="landing_error",
            compare="<=",
            threshold="landing_tolerance",
            description="Within landing_tolerance of the pad centre.",
        ),
        Criterion(
            name="rested",
            source="metric",
            key="rest_time",
            compare=">=",
            threshold="rest_seconds",
            description="Rested on the pad for rest_seconds.",
        ),
    )
    HAZARDS = (
        Hazard(reason="collision", fields=("wall_rel",), description="Low near the wall."),
        Hazard(
            reason="hard_landing",
            fields=("vel[2]", "tilt", "pad_rel[2]"),
            description="Descending fast or tilted close to the ground.",
        ),
        Hazard(reason="missed_pad", fields=("pad_rel",), description="Descending off the pad."),
    )
    LANDMARKS = (Landmark(field="wall_rel", label="the wall top"),)
    PROGRESS = ("crossed", "rest_time")

    observe = staticmethod(observe_wall_landing)
    track = staticmethod(track_wall_landing)

    def _build_task_world(self) -> None:
        self.wall = self._add_box((WALL_THICKNESS / 2, WALL_HALF_WIDTH, 0.5), (0.7, 0.3, 0.3, 1))
        self.pad = self._add_cylinder(PAD_RADIUS, PAD_HEIGHT, (0.2, 0.8, 0.3, 1), obstacle=False)

    def _reset_layout(self) -> None:
        self.wall_top = self._uniform(1.0, 1.4)
        # the wall box is 1 m tall: sink it so its top is at wall_top
        self._place(self.wall, (WALL_X + WALL_THICKNESS / 2, 0.0, self.wall_top - 0.5))
        self.pad_xy = (WALL_X + self._uniform(1.0, 1.7), self._uniform(-0.6, 0.6))
        self._place(self.pad, (*self.pad_xy, PAD_HEIGHT / 2))
        self.touchdown_speed = 0.0
        self.layout = {
            "wall_x": WALL_X,
            "wall_top": self.wall_top,
            "cross_x": WALL_X + WALL_THICKNESS + model.BODY_RADIUS,
            "pad": list(self.pad_xy),
            "pad_height": PAD_HEIGHT,
            "pad_radius": PAD_RADIUS,
            "rest_height": model.REST_HEIGHT,
            "body_radius": model.BODY_RADIUS,
            "ground_gap": GROUND_CONTACT_GAP,
            "control_hz": self.task_spec.control_hz,
        }

    @property
    def crossed(self) -> bool:
        """Whether the drone has crossed the wall (sims.drone.observe.track_wall_landing)."""
        return bool(self.events and self.events["crossed"])

    @property
    def rest_steps(self) -> int:
        """Control steps resting on the ground or pad since touchdown after crossing."""
        return int(self.events["rest_steps"]) if self.events else 0

    def _near_obstacle(self) -> bool:
        x, z = self._pos[0], self._pos[2]
        return WALL_X - 0.2 < x < WALL_X + WALL_THICKNESS + 0.2 and z < self.wall_top + 0.2

    def _task_end(self, state: Mapping[str, np.ndarray], contacts: set[int]) -> str | None:
        # the tracker folded this step's pose in: crossed, and steps at rest since touchdown
        if self.rest_steps == 0:
            return None
        if self.rest_steps == 1:  # touchdown
            x, y, _ = self._pos
            vz = -self._prev_vz
            self.touchdown_speed = max(vz, 0.0)
            if vz > LAND_VZ or float(state["tilt"]) > LAND_TILT:
                return "hard_landing"
            if math.hypot(x - self.pad_xy[0], y - self.pad_xy[1]) > LAND_TOL:
                return "missed_pad"
        if self.rest_steps >= int(REST_SECONDS * self.task_spec.control_hz):
            return "success"
        return None

    def _act(self, action: np.ndarray) -> None:
        self._prev_vz = self._vel[2]
        super()._act(action)

    def _episode_metrics(self) -> dict[str, float]:
        x, y, _ = self._pos
        return {
            "success": float(self.rest_steps >= int(REST_SECONDS * self.task_spec.control_hz)),
            "landing_error": math.hypot(x - self.pad_xy[0], y - self.pad_xy[1]),
            "crossed": float(self.crossed),
            "touchdown_speed": self.touchdown_speed,
            "rest_time": self.rest_steps / self.task_spec.control_hz,
        }

    def _camera(self) -> tuple[tuple[float, float, float], float, float, float]:
        return (1.6, 0.0, 0.6), 4.0, -60.0, -25.0
