"""The declarative task contract that reward programs, designers and ROS profiles read.

A :class:`TaskSpec` says, in data an LLM can read, what a task is: its goal, the named state
fields a reward may use (which also make up the observation vector, in order), the action
space, the ground-truth success criterion and termination reasons, the task metrics used to
compare reward candidates, and the physical parameters that domain randomization may vary.

It also declares what the task *means*, so that no downstream code guesses it from field
names: a role for every state field, which fields locate the robot (:class:`BodyFields`), the
goal as error fields with tolerance constants and length scales (:class:`Goal`), success as
named sub-criteria (:class:`Criterion`), the failure endings and the fields that predict them
(:class:`Hazard`), landmarks and progress fields. :mod:`sims.semantics` checks that every name
these declarations use exists (with did-you-mean hints) and evaluates the criteria on a
recorded episode.
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

#: What a state field is, for code that must treat fields by kind (the ROS side fills
#: ``robot`` fields from sensors, ``action`` from the policy's last output, ``object`` from a
#: tracker, and computes the rest from the episode's layout):
#:
#: * ``robot``: the robot's own state (pose, velocity, rates, joints, gripper);
#: * ``action``: the policy's previous action as the task feeds it back;
#: * ``object``: the state of a manipulated or tracked object;
#: * ``goal``: where the robot should be or what it should do (offsets, commands, errors);
#: * ``layout``: the scene around the robot (gates, pillars, walls, orbit centre);
#: * ``event``: counters and flags of what happened so far (gates passed, wall crossed);
#: * ``time``: the episode's clock or progress through it.
FieldRole = Literal["robot", "action", "object", "goal", "layout", "event", "time"]
FIELD_ROLES: tuple[str, ...] = FieldRole.__args__  # type: ignore[attr-defined]

#: Comparisons a success criterion may use.
Comparison = Literal["<", "<=", ">", ">="]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class StateField(_Frozen):
    """One named entry of the state snapshot and of the observation vector."""

    name: str = Field(description="Key in the state snapshot, e.g. 'pos'.")
    shape: tuple[int, ...] = Field(description="Array shape; () for a scalar.")
    unit: str = Field(description="SI unit, e.g. 'm', 'm/s', 'rad', '1' for unitless.")
    frame: str = Field(description="Reference frame: 'world' (ENU, z up), 'body' (FLU), 'joint'.")
    description: str = Field(description="One-line meaning, written for a reward designer.")
    role: FieldRole | None = Field(
        None, description="What the field is: " + ", ".join(FIELD_ROLES) + " (required)."
    )

    @property
    def size(self) -> int:
        """Number of scalars this field contributes to the observation."""
        return math.prod(self.shape) if self.shape else 1


class ActionSpec(_Frozen):
    """The policy's action: always normalized to [-1, 1] per component."""

    mode: str = Field(description="Action mode in use, e.g. 'velocity', 'ctbr', 'motors'.")
    modes: tuple[str, ...] = Field(description="All action modes this task supports.")
    shape: tuple[int, ...]
    low: tuple[float, ...]
    high: tuple[float, ...]
    components: tuple[str, ...] = Field(description="Meaning of each component with its unit.")
    description: str


class TerminationReason(_Frozen):
    """A ground-truth reason an episode ends. 'timeout' is the only truncation."""

    name: str
    description: str
    kind: Literal["terminated", "truncated"] = "terminated"
    success: bool = Field(False, description="True if ending for this reason is a success.")


class TaskMetric(_Frozen):
    """A fitness measure used to compare reward candidates (never the candidate's reward)."""

    name: str
    description: str
    higher_is_better: bool = True
    unit: str = "1"


class ParamRealism(_Frozen):
    """How a randomized parameter corresponds to the deployed robot (for robustness reports)."""

    simulated_as: str = Field(description="What the simulator does with the value.")
    on_the_robot: str = Field(description="The real effect it stands for.")
    resolution: str = Field(description="The grid the simulator resolves it on.")


class RandomParam(_Frozen):
    """A physical parameter domain randomization may vary.

    ``kind='scale'`` params multiply a nominal physical constant (nominal 1.0); ``'absolute'``
    params are sampled directly in their unit (e.g. latency in seconds).
    """

    name: str
    kind: Literal["scale", "absolute"]
    nominal: float
    low: float
    high: float
    unit: str = "1"
    description: str
    hard_low: float = Field(description="Smallest value that is physically meaningful.")
    hard_high: float = Field(description="Largest value the simulator supports.")
    realism: ParamRealism | None = None

    @model_validator(mode="after")
    def _check_range(self) -> RandomParam:
        if not (self.hard_low <= self.low <= self.nominal <= self.high <= self.hard_high):
            raise ValueError(
                f"randomization parameter {self.name!r}: need hard_low <= low <= nominal <= high "
                f"<= hard_high, got {self.hard_low} <= {self.low} <= {self.nominal} <= "
                f"{self.high} <= {self.hard_high}"
            )
        return self


class BodyFields(_Frozen):
    """Which ``robot`` fields locate the robot's controlled point (drone centre, end effector,
    cart), so diagnostics can describe and plot it without knowing the task."""

    noun: str = Field("the robot", description="What the position is of, e.g. 'the drone'.")
    position: str | None = Field(None, description="World position field, shape (3,), m.")
    velocity: str | None = Field(None, description="World velocity field, shape (3,), m/s.")
    orientation: str | None = Field(None, description="Orientation quaternion field (x,y,z,w).")
    tilt: str | None = Field(None, description="Scalar tilt from upright field, rad.")
    angular_velocity: str | None = Field(None, description="Angular rate field, rad/s.")


class GoalError(_Frozen):
    """One error the policy must drive to zero: a state field and when it counts as reached.

    A vector error's size is its norm, a scalar's its absolute value.
    """

    field: str = Field(description="State field holding the error (a vector offset or a scalar).")
    label: str = Field("the goal", description="What the error measures the way to, in words.")
    tolerance: str | None = Field(
        None, description="Constant giving the size below which the error counts as reached."
    )
    tolerance_factor: float = Field(
        1.0, description="Factor on the tolerance constant (0.5 when the constant is a width)."
    )
    scale: float = Field(
        gt=0.0,
        description="Length scale: a typical size of the error early in an episode, in the "
        "field's unit (for shaping terms such as exp(-error/scale)).",
    )
    sign: Literal[1, -1] = Field(
        1, description="+1 if the field is target - subject, -1 if subject - target."
    )
    subject: str | None = Field(
        None, description="What the error is measured from when not the robot, e.g. 'the cube'."
    )
    origin: str | None = Field(
        None,
        description="Position field of the subject when it is not the robot (e.g. "
        "'object_pos'): the target's world position is origin + sign * field.",
    )


class Goal(_Frozen):
    """The task's goal as error fields; the first is the offset to the goal.

    A goal that is a sequence of targets (the next gate, the next waypoint) names the
    progress field whose every increment moves it on (``advances_on``): across such a step
    the error jumps from one target to the next, so the distance before and after it measure
    different things, and a reward paid for being near the current target is taken away by
    reaching it.
    """

    errors: tuple[GoalError, ...] = Field(min_length=1)
    advances_on: str | None = Field(
        None,
        description="Progress field (in TaskSpec.progress) whose every increment moves the "
        "goal on to the next target, e.g. 'gates_passed'; None for a fixed or smoothly "
        "moving goal.",
    )

    @property
    def primary(self) -> GoalError:
        """The error whose size measures progress to the goal."""
        return self.errors[0]

    @property
    def field(self) -> str:
        """The offset-to-goal field (the primary error's field)."""
        return self.errors[0].field

    @property
    def tolerance(self) -> str | None:
        """The primary error's tolerance constant."""
        return self.errors[0].tolerance

    @property
    def scale(self) -> float:
        """The primary error's length scale."""
        return self.errors[0].scale


class Landmark(_Frozen):
    """A vector field locating something in the scene that is not the goal (wall, centre)."""

    field: str
    label: str = Field(description="What the vector points at, in words.")
    sign: Literal[1, -1] = 1
    subject: str | None = None


class Criterion(_Frozen):
    """A named part of the success criterion, checkable on a recorded episode.

    ``source='field'`` reads a state field (``'name'`` or one component ``'name[i]'``),
    reduced by ``reduce``; without ``hold`` it is checked on the final state, with ``hold`` on
    every state of the episode's last ``hold`` seconds. ``source='metric'`` reads a task
    metric of the finished episode.
    """

    name: str = Field(description="Short identifier, e.g. 'near_goal'.")
    source: Literal["field", "metric"]
    key: str = Field(description="State field (or 'field[i]') or task metric it reads.")
    reduce: Literal["value", "abs", "norm"] = Field(
        "value", description="How a field becomes one number: as is, |x| or the vector norm."
    )
    compare: Comparison
    threshold: str | float = Field(description="A constant name, or a number.")
    hold: str | None = Field(
        None, description="Constant with the seconds the criterion must hold at the episode end."
    )
    description: str = ""


class Hazard(_Frozen):
    """A failure ending and the state fields that warn of it before it happens."""

    reason: str = Field(description="A termination reason that is a failure.")
    fields: tuple[str, ...] = Field(description="Fields (or 'field[i]') that predict it.")
    description: str = ""


class TaskSpec(_Frozen):
    """Everything a reward designer, the trainer and a ROS profile need to know about a task."""

    id: str = Field(description="Gymnasium id, e.g. 'agentic_rl/DroneHover-v0'.")
    robot: str = Field(description="Robot model, e.g. 'crazyflie2x' or 'panda'.")
    description: str = Field(description="Plain-language goal of the task.")
    success: str = Field(description="Plain-language success criterion (ground truth).")
    control_hz: float
    physics_hz: float
    max_episode_steps: int
    state_fields: tuple[StateField, ...]
    action: ActionSpec
    termination_reasons: tuple[TerminationReason, ...]
    task_metrics: tuple[TaskMetric, ...]
    randomization: tuple[RandomParam, ...]
    constants: dict[str, float] = Field(
        default_factory=dict,
        description="Read-only task constants handed to reward programs as `task` (tolerances, "
        "targets, limits).",
    )
    body: BodyFields = Field(default_factory=BodyFields)
    goal: Goal | None = None
    success_criteria: tuple[Criterion, ...] = ()
    hazards: tuple[Hazard, ...] = ()
    landmarks: tuple[Landmark, ...] = ()
    progress: tuple[str, ...] = Field(
        (), description="Fields that count progress through the task, most telling first."
    )

    @model_validator(mode="after")
    def _check_semantics(self) -> TaskSpec:
        from sims.semantics import check_spec  # the checks live with the other semantics code

        check_spec(self)
        return self

    @property
    def obs_size(self) -> int:
        """Length of the flat observation vector (state fields concatenated in order)."""
        return sum(f.size for f in self.state_fields)

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.state_fields)

    @property
    def episode_seconds(self) -> float:
        return self.max_episode_steps / self.control_hz

    def field(self, name: str) -> StateField:
        for f in self.state_fields:
            if f.name == name:
                return f
        raise KeyError(f"task {self.id} has no state field {name!r}; valid: {self.field_names}")

    def fields_with_role(self, *roles: str) -> tuple[StateField, ...]:
        """The state fields whose role is one of ``roles``, in spec order."""
        return tuple(f for f in self.state_fields if f.role in roles)

    @property
    def failure_reasons(self) -> tuple[str, ...]:
        """Termination reasons that end an episode early as a failure."""
        return tuple(
            r.name for r in self.termination_reasons if r.kind == "terminated" and not r.success
        )

    @property
    def success_ends_episode(self) -> bool:
        """Whether success ends the episode (else it is judged at the time limit)."""
        return any(r.success and r.kind == "terminated" for r in self.termination_reasons)

    def hazard(self, reason: str) -> Hazard | None:
        """The hazard declared for a failure reason, if any."""
        return next((h for h in self.hazards if h.reason == reason), None)

    def constant(self, name: str) -> float:
        """A task constant by name (KeyError naming the valid ones)."""
        if name not in self.constants:
            raise KeyError(
                f"task {self.id} has no constant {name!r}; valid: {sorted(self.constants)}"
            )
        return float(self.constants[name])

    def tolerance(self, error: GoalError) -> float | None:
        """The tolerance of a goal error in the field's unit (None without a constant)."""
        if error.tolerance is None:
            return None
        return self.constant(error.tolerance) * error.tolerance_factor

    def threshold(self, criterion: Criterion) -> float:
        """A criterion's threshold as a number."""
        t = criterion.threshold
        return self.constant(t) if isinstance(t, str) else float(t)

    def hold_steps(self, criterion: Criterion) -> int:
        """Control steps a held criterion covers at the episode's end (0 without hold)."""
        if criterion.hold is None:
            return 0
        return int(self.constant(criterion.hold) * self.control_hz)

    def param(self, name: str) -> RandomParam:
        for p in self.randomization:
            if p.name == name:
                return p
        names = [p.name for p in self.randomization]
        raise KeyError(f"task {self.id} has no randomization parameter {name!r}; valid: {names}")
