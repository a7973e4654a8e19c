"""What the offline designer reads from a TaskSpec: only what the task *declares* it means.

The goal's error fields with their tolerance constants and length scales (and the progress
field that moves the goal on to its next target, if it is a sequence), the fields that
locate and move the robot (:class:`~sims.spec.BodyFields`), the policy's fed-back action, the
success sub-criteria, the hazards and the fields that predict them, the progress fields and
the landmarks. Nothing here (or anywhere in the designer) knows a task's field names: a new
task that declares its meaning gets every ingredient its declarations support.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from agentic_rl.designers.base import DesignerError

if TYPE_CHECKING:
    from sims.spec import Criterion, Hazard, StateField, TaskSpec

#: Without a tolerance constant, an error counts as reached below this share of its scale.
DEFAULT_TOLERANCE_SHARE = 0.1


@dataclass(frozen=True)
class ErrorView:
    """One declared goal error as code: its field, size expression, tolerance and scale.

    Attributes:
        field: the state field holding the error.
        tol: the tolerance in the field's unit.
        tol_expr: code for the tolerance (reads the task constant, so a changed constant
            changes the reward with it).
        scale: declared length scale (a typical size early in an episode).
        unit: the field's unit.
    """

    field: str
    tol: float
    tol_expr: str
    scale: float
    unit: str

    def size_expr(self, s: str) -> str:
        """Code for the error's size in snapshot ``s``: a vector's norm, a scalar's |x|."""
        return f'terms.norm({s}["{self.field}"])'

    @property
    def shaping_scale(self) -> float:
        """Scale of the closeness shaping: about five tolerances (wide enough to pull from the
        start, sharp enough to pay for the last bit), within [a tenth of, all of] the declared
        scale."""
        return round(min(self.scale, max(5.0 * self.tol, 0.1 * self.scale)), 3)


@dataclass(frozen=True)
class TaskView:
    """The declarations the offline designer composes rewards from (see the module docstring).

    Build it with :meth:`of`.
    """

    spec: TaskSpec
    errors: tuple[ErrorView, ...]
    velocity: str | None
    target_velocity: str | None
    tilt: str | None
    angular_velocity: str | None
    last_action: str | None
    progress: tuple[str, ...]
    approach: str | None
    terminal_success: bool
    advances_on: str | None = None

    @classmethod
    def of(cls, spec: TaskSpec) -> TaskView:
        """Read a spec's declarations.

        Raises:
            DesignerError: if the task declares no goal (``TaskSpec.goal``).
        """
        if spec.goal is None:
            raise DesignerError(
                f"the offline designer needs the goal of {spec.id} declared (TaskSpec.goal: "
                "the error fields to drive to zero, with tolerance constants and scales); "
                "declare it in the task or use --designer openai"
            )
        fields = {f.name: f for f in spec.state_fields}
        errors = []
        for e in spec.goal.errors:
            tol = spec.tolerance(e)
            if tol is None:
                tol = DEFAULT_TOLERANCE_SHARE * e.scale
                tol_expr = _num(tol)
            elif e.tolerance_factor == 1.0:
                tol_expr = f'task["{e.tolerance}"]'
            else:
                tol_expr = f'{_num(e.tolerance_factor)} * task["{e.tolerance}"]'
            errors.append(ErrorView(e.field, tol, tol_expr, e.scale, fields[e.field].unit))
        body = spec.body
        velocity = body.velocity
        target = None
        if velocity is not None:
            # A goal-role field in the body velocity's unit and shape is a commanded velocity.
            vf = fields[velocity]
            target = next(
                (
                    f.name
                    for f in spec.state_fields
                    if f.role == "goal" and f.unit == vf.unit and f.shape == vf.shape
                ),
                None,
            )
        action = next(
            (
                f.name
                for f in spec.state_fields
                if f.role == "action" and f.shape == spec.action.shape
            ),
            None,
        )
        progress = tuple(p for p in spec.progress if "[" not in p and fields[p].shape == ())
        subject = spec.goal.primary.subject
        approach = next(
            (lm.field for lm in spec.landmarks if subject is not None and lm.label == subject),
            None,
        )
        return cls(
            spec=spec,
            errors=tuple(errors),
            velocity=velocity,
            target_velocity=target,
            tilt=body.tilt,
            angular_velocity=body.angular_velocity,
            last_action=action,
            progress=progress,
            approach=approach,
            terminal_success=spec.success_ends_episode,
            advances_on=spec.goal.advances_on,
        )

    # ------------------------------------------------------------------ the goal
    @property
    def primary(self) -> ErrorView:
        """The error whose size measures progress to the goal."""
        return self.errors[0]

    @property
    def tol(self) -> float:
        return self.primary.tol

    @property
    def secondary(self) -> tuple[ErrorView, ...]:
        """The other declared errors (e.g. a pole angle beside a cart position)."""
        return self.errors[1:]

    def dist_expr(self, s: str) -> str:
        """Code for the distance to the goal in snapshot ``s`` (``state``/``prev_state``)."""
        return self.primary.size_expr(s)

    def error(self, field: str) -> ErrorView | None:
        """The declared goal error held in ``field``, if any."""
        return next((e for e in self.errors if e.field == field), None)

    # ------------------------------------------------------------------ the rest
    def field(self, name: str) -> StateField:
        return self.spec.field(name)

    @property
    def failures(self) -> tuple[str, ...]:
        """Termination reasons that are failures (early or at the time limit)."""
        return tuple(r.name for r in self.spec.termination_reasons if not r.success)

    @property
    def early_failures(self) -> tuple[str, ...]:
        """Termination reasons that end an episode early as a failure."""
        return self.spec.failure_reasons

    def hazard(self, reason: str) -> Hazard | None:
        return self.spec.hazard(reason)

    def criterion(self, name: str) -> Criterion | None:
        return next((c for c in self.spec.success_criteria if c.name == name), None)


def _num(x: float) -> str:
    text = f"{x:.4g}"
    return text if any(c in text for c in ".e") else text + ".0"
