"""Structured results of the reward pipeline and the task view it checks programs against.

* :class:`RewardContext`: what the pipeline needs to know about a task (state field names and
  shapes, constants, action shape). Built from a :class:`sims.TaskSpec`, small and picklable,
  so the sandboxed child process never has to import ``sims`` (and PyBullet).
* :class:`RewardProgram`: an accepted program's metadata (terms, source hash, measured cost).
* :class:`Accepted` / :class:`Rejected`: what :func:`rewards.check_source` returns. A rejection
  names the stage, the line and a message written for the model to repair its code.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from rewards.errors import RewardRejected, Stage

if TYPE_CHECKING:
    from sims.spec import TaskSpec


@dataclass(frozen=True)
class RewardContext:
    """The parts of a task spec a reward program is checked and run against.

    Attributes:
        task_id: the task's id, for messages.
        field_shapes: state field name -> array shape, in spec order.
        constants: the read-only task constants handed to programs as ``task``.
        action_shape: shape of the (normalized) action.
    """

    task_id: str
    field_shapes: tuple[tuple[str, tuple[int, ...]], ...]
    constants: Mapping[str, float] = field(default_factory=dict)
    action_shape: tuple[int, ...] = ()

    @classmethod
    def from_spec(cls, spec: TaskSpec | RewardContext) -> RewardContext:
        """Build the context from a :class:`sims.TaskSpec` (a context passes through)."""
        if isinstance(spec, RewardContext):
            return spec
        return cls(
            task_id=spec.id,
            field_shapes=tuple((f.name, tuple(f.shape)) for f in spec.state_fields),
            constants=dict(spec.constants),
            action_shape=tuple(spec.action.shape),
        )

    @property
    def field_names(self) -> tuple[str, ...]:
        """State field names in spec order."""
        return tuple(name for name, _ in self.field_shapes)

    def key(self) -> str:
        """A short hash identifying the state layout and constants (for caches)."""
        text = repr(
            (self.task_id, self.field_shapes, sorted(self.constants.items()), self.action_shape)
        )
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def source_hash(source: str) -> str:
    """SHA-256 of a program's source with line endings and trailing whitespace normalized."""
    norm = "\n".join(line.rstrip() for line in source.strip().splitlines())
    return hashlib.sha256(norm.encode()).hexdigest()


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class RewardProgram(_Model):
    """Metadata of an accepted reward program; travels with its policy into the run folder."""

    task_id: str
    source: str = Field(description="The program text that was checked (code only).")
    source_hash: str = Field(description="sha256 of the normalized source.")
    terms: tuple[str, ...] = Field(description="Term names the program returned, in order.")
    cost_us: float | None = Field(
        None, description="Median wall time of one call in the smoke run, microseconds."
    )
    cost_p99_us: float | None = Field(None, description="99th percentile of the same.")
    budget_us: float = Field(description="Per-call time budget enforced during training.")
    smoke_states: int = Field(0, description="Number of recorded states it was run on.")
    notes: tuple[str, ...] = Field(
        (), description="What the pipeline changed, e.g. imports of numpy it mapped."
    )


class Accepted(_Model):
    """The program passed every stage."""

    accepted: Literal[True] = True
    program: RewardProgram


class Rejected(_Model):
    """The program failed a stage; ``message`` is written for the model that wrote it."""

    accepted: Literal[False] = False
    stage: Stage
    line: int | None
    message: str
    task_id: str = ""

    @classmethod
    def from_error(cls, err: RewardRejected, task_id: str = "") -> Rejected:
        """Wrap a :class:`RewardRejected` raised inside the pipeline."""
        return cls(stage=err.stage, line=err.line, message=err.message, task_id=task_id)

    def to_exception(self) -> RewardRejected:
        """The same rejection as an exception, for callers that want to raise."""
        return RewardRejected(self.stage, self.line, self.message)

    def feedback(self) -> str:
        """The rejection as one paragraph to hand back to the reward designer."""
        where = f", line {self.line}" if self.line is not None else ""
        return (
            f"Your reward program was rejected ({self.stage} stage{where}): {self.message}\n"
            "Reply with the corrected complete program: one ```python block defining "
            "compute_reward(state, action, prev_state, task) that returns a dict of named "
            "float terms."
        )


CheckResult = Accepted | Rejected


def as_json(result: CheckResult) -> dict[str, Any]:
    """A JSON-ready dict of a check result (what ``rewards check --json`` prints)."""
    if isinstance(result, Rejected):
        return {
            "accepted": False,
            "stage": result.stage,
            "line": result.line,
            "message": result.message,
            "task_id": result.task_id,
        }
    prog = result.program.model_dump(mode="json")
    prog.pop("source")
    return {"accepted": True, **prog}
