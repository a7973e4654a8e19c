"""Errors raised by the reward pipeline and by reward programs at training time.

Two families, kept apart on purpose:

* :class:`RewardRejected`: the program text never became a callable. It carries the pipeline
  ``stage``, the ``line`` of the program it refers to (``None`` when no line applies) and a
  ``message`` written for the model that wrote the code, so it can be handed back verbatim
  in a repair prompt.
* :class:`RewardRuntimeError`: an accepted program misbehaved during training badly enough
  that the candidate must fail (it repeatedly ran over its per-call time budget, or kept
  raising). Isolated, rare misbehaviour is counted and zeroed instead, never raised.
  :class:`RewardLimitExceeded` is the one raised when a limit of the sandbox is hit (memory,
  CPU time, the per-call watchdog, a size cap): it names the limit.
"""

from __future__ import annotations

from typing import Literal

#: Pipeline stages, in order. ``extract``: finding code in a model response; ``parse``: Python
#: syntax and size; ``validate``: the AST allowlist and the task's state fields; ``compile``:
#: building the function; ``smoke``: running it on recorded states in a sandboxed child process.
Stage = Literal["extract", "parse", "validate", "compile", "smoke"]
STAGES: tuple[str, ...] = ("extract", "parse", "validate", "compile", "smoke")


class RewardRejected(Exception):
    """A reward program was rejected; the message tells its author how to repair it.

    Args:
        stage: the pipeline stage that rejected it (see :data:`STAGES`).
        line: 1-based line in the extracted program, or ``None``.
        message: what was wrong and what to do instead, written for a model to act on.
    """

    def __init__(self, stage: Stage, line: int | None, message: str) -> None:
        if stage not in STAGES:
            raise ValueError(f"unknown pipeline stage {stage!r}; expected one of {STAGES}")
        self.stage: Stage = stage
        self.line = line
        self.message = message
        where = f" (line {line})" if line is not None else ""
        super().__init__(f"reward program rejected at {stage}{where}: {message}")

    def __reduce__(self) -> tuple[type[RewardRejected], tuple[Stage, int | None, str]]:
        # Exceptions with extra __init__ arguments do not round-trip through pickle by
        # default; executors send these across process boundaries.
        return (type(self), (self.stage, self.line, self.message))


class RewardRuntimeError(RuntimeError):
    """An accepted reward program failed during training; the candidate must stop.

    The message names the reason (budget overruns, repeated exceptions) with the numbers
    that triggered it, so diagnostics can hand it to the designer.
    """


class RewardBudgetExceeded(RewardRuntimeError):
    """The reward program repeatedly took longer per call than its time budget."""


#: The limits a guarded process enforces (see :mod:`rewards.guard` and :mod:`rewards.caps`).
Limit = Literal["memory", "cpu", "watchdog", "size", "wall"]


class RewardLimitExceeded(RewardRuntimeError):
    """A reward program (or the process calling it) hit one of the sandbox's limits.

    Args:
        limit: which limit: ``memory`` (address space), ``cpu`` (CPU time), ``watchdog``
            (one call ran far past its budget), ``size`` (a runtime size cap inside the reward
            namespace) or ``wall`` (wall-clock time).
        message: what happened and what to do instead.
    """

    def __init__(self, limit: Limit, message: str) -> None:
        self.limit = limit
        self.message = message
        super().__init__(f"{limit} limit: {message}")

    def __reduce__(self) -> tuple[type[RewardLimitExceeded], tuple[Limit, str]]:
        return (type(self), (self.limit, self.message))
