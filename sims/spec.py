"""The declarative task contract that reward programs, designers and ROS profiles read.

A :class:`TaskSpec` says, in data an LLM can read, what a task is: its goal, the named state
fields a reward may use (which also make up the observation vector, in order), the action
space, the ground-truth success criterion and termination reasons, the task metrics used to
compare reward candidates, and the physical parameters that domain randomization may vary.
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class StateField(_Frozen):
    """One named entry of the state snapshot and of the observation vector."""

    name: str = Field(description="Key in the state snapshot, e.g. 'pos'.")
    shape: tuple[int, ...] = Field(description="Array shape; () for a scalar.")
    unit: str = Field(description="SI unit, e.g. 'm', 'm/s', 'rad', '1' for unitless.")
    frame: str = Field(description="Reference frame: 'world' (ENU, z up), 'body' (FLU), 'joint'.")
    description: str = Field(description="One-line meaning, written for a reward designer.")

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

    @model_validator(mode="after")
    def _check_range(self) -> RandomParam:
        if not (self.hard_low <= self.low <= self.nominal <= self.high <= self.hard_high):
            raise ValueError(
                f"randomization parameter {self.name!r}: need hard_low <= low <= nominal <= high "
                f"<= hard_high, got {self.hard_low} <= {self.low} <= {self.nominal} <= "
                f"{self.high} <= {self.hard_high}"
            )
        return self


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

    def param(self, name: str) -> RandomParam:
        for p in self.randomization:
            if p.name == name:
                return p
        names = [p.name for p in self.randomization]
        raise KeyError(f"task {self.id} has no randomization parameter {name!r}; valid: {names}")
