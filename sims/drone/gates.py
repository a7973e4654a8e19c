"""DroneGates: fly through a sequence of square gates in order."""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pybullet as p

from sims.drone.base import DroneTask
from sims.drone.observe import observe_gates, track_gates
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

N_GATES = 3
OPENING = 0.5  # m, inner side of the square opening
FRAME = 0.05  # m, thickness of the frame bars
SPACING = 1.6  # m between consecutive gates


class DroneGates(DroneTask):
    TASK_ID = "agentic_rl/DroneGates-v0"
    DESCRIPTION = (
        f"Starting in a hover, fly through {N_GATES} square gates (0.5 m openings) in order. "
        "Gates stand about 1.6 m apart at varying heights and headings."
    )
    SUCCESS = (
        "Every gate is crossed, in order, through its opening (not around it) without touching "
        "any frame, within the 10 s limit."
    )
    EPISODE_SECONDS = 10.0
    MAX_SPEED = 1.5
    BOUNDS = ((-1.5, 6.5), (-4.0, 4.0), (-0.1, 2.5))
    TASK_FIELDS = (
        StateField(
            name="gate_rel",
            role="goal",
            shape=(3,),
            unit="m",
            frame="world",
            description="Centre of the next gate minus drone position.",
        ),
        StateField(
            name="gate_normal",
            role="layout",
            shape=(3,),
            unit="1",
            frame="world",
            description="Unit vector through the next gate in the flying direction.",
        ),
        StateField(
            name="after_gate_rel",
            role="layout",
            shape=(3,),
            unit="m",
            frame="world",
            description="Centre of the gate after the next one minus drone position "
            "(equals gate_rel at the last gate).",
        ),
        StateField(
            name="gates_passed",
            role="event",
            shape=(),
            unit="1",
            frame="task",
            description="Number of gates crossed so far.",
        ),
    )
    EXTRA_REASONS = (
        TerminationReason(name="collision", description="Touched a gate frame."),
        TerminationReason(
            name="missed_gate", description="Crossed the next gate's plane outside its opening."
        ),
        TerminationReason(name="success", success=True, description="Crossed every gate."),
    )
    METRICS = (
        TaskMetric(name="success", description="1 if every gate was crossed."),
        TaskMetric(name="gates_passed", description="Gates crossed, in order."),
        TaskMetric(name="gate_fraction", description="Fraction of gates crossed."),
        TaskMetric(
            name="completion_time",
            unit="s",
            higher_is_better=False,
            description="Time to cross the last gate (episode length if not).",
        ),
    )
    CONSTANTS = {"n_gates": N_GATES, "gate_opening": OPENING}
    GOAL = Goal(
        errors=(
            GoalError(
                field="gate_rel",
                label="the next gate",
                tolerance="gate_opening",
                tolerance_factor=0.5,  # the opening is a width; the centre offset is half that
                scale=SPACING,
            ),
        ),
        advances_on="gates_passed",  # gate_rel moves on to the next gate when one is crossed
    )
    SUCCESS_CRITERIA = (
        # a metric, not the field: the state is recorded before the step's crossing counts
        Criterion(
            name="all_gates",
            source="metric",
            key="gates_passed",
            compare=">=",
            threshold="n_gates",
            description="Every gate crossed in order through its opening.",
        ),
    )
    HAZARDS = (
        Hazard(reason="collision", fields=("gate_rel",), description="Close to a gate frame."),
        Hazard(
            reason="missed_gate",
            fields=("gate_rel", "gate_normal"),
            description="Off-centre when crossing the gate plane.",
        ),
    )
    LANDMARKS = (Landmark(field="after_gate_rel", label="the gate after the next"),)
    PROGRESS = ("gates_passed",)

    observe = staticmethod(observe_gates)
    track = staticmethod(track_gates)

    def _build_task_world(self) -> None:
        cid = self.client
        half, t = OPENING / 2 + FRAME / 2, FRAME / 2
        # a square frame in the gate's y-z plane, normal along +x: two posts and two bars
        boxes = [
            ((t, t, half + t), (0, -half, 0)),
            ((t, t, half + t), (0, half, 0)),
            ((t, half + t, t), (0, 0, -half)),
            ((t, half + t, t), (0, 0, half)),
        ]
        self.gates = []
        for _ in range(N_GATES):
            col = p.createCollisionShapeArray(
                [p.GEOM_BOX] * 4,
                halfExtents=[b[0] for b in boxes],
                collisionFramePositions=[b[1] for b in boxes],
                physicsClientId=cid,
            )
            vis = p.createVisualShapeArray(
                [p.GEOM_BOX] * 4,
                halfExtents=[b[0] for b in boxes],
                visualFramePositions=[b[1] for b in boxes],
                rgbaColors=[(0.95, 0.5, 0.1, 1)] * 4,
                physicsClientId=cid,
            )
            body = p.createMultiBody(0, col, vis, basePosition=(0, 0, -10), physicsClientId=cid)
            self._obstacles.add(body)
            self.gates.append(body)

    def _reset_layout(self) -> None:
        heading, px, py = 0.0, 0.0, 0.0
        self.centres: list[tuple[float, float, float]] = []
        self.normals: list[tuple[float, float, float]] = []
        for body in self.gates:
            heading += self._uniform(-0.5, 0.5)
            px, py = px + SPACING * math.cos(heading), py + SPACING * math.sin(heading)
            centre = (px, py, self._uniform(0.8, 1.4))
            yaw = heading + self._uniform(-0.2, 0.2)
            self._place(body, centre, yaw)
            self.centres.append(centre)
            self.normals.append((math.cos(yaw), math.sin(yaw), 0.0))
        self.passed = 0
        self._finish_step = None
        self.layout = {
            "gates": [
                {"centre": list(c), "normal": list(n)}
                for c, n in zip(self.centres, self.normals, strict=True)
            ],
            "opening": OPENING,
        }

    def _start_pose(self) -> tuple[tuple[float, float, float], float]:
        return (0.0, self._uniform(-0.2, 0.2), self._uniform(0.8, 1.2)), 0.0

    def _near_obstacle(self) -> bool:
        x, y, z = self._pos
        reach = OPENING / 2 + FRAME + 0.1
        return any(
            abs(c[0] - x) < reach + 0.3 and abs(c[1] - y) < reach + 0.3 and abs(c[2] - z) < reach
            for c in self.centres
        )

    def _task_end(self, state: Mapping[str, np.ndarray], contacts: set[int]) -> str | None:
        # the tracker (sims.drone.observe.track_gates) folded this step's position in
        if self.events["missed"]:
            return "missed_gate"
        if self.events["gates_passed"] > self.passed:
            self.passed = self.events["gates_passed"]
            if self.passed == N_GATES:
                self._finish_step = self.elapsed_steps
                return "success"
        return None

    def _episode_metrics(self) -> dict[str, float]:
        steps = self._finish_step if self._finish_step is not None else self.elapsed_steps
        return {
            "success": float(self.passed == N_GATES),
            "gates_passed": float(self.passed),
            "gate_fraction": self.passed / N_GATES,
            "completion_time": steps / self.task_spec.control_hz,
        }

    def _camera(self) -> tuple[tuple[float, float, float], float, float, float]:
        c = np.mean(self.centres, axis=0) if getattr(self, "centres", None) else (2.4, 0.0, 1.0)
        return (float(c[0]), float(c[1]), 0.8), 4.5, -60.0, -35.0
