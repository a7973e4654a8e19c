"""One pipeline from model text to a guarded reward callable.

``extract -> parse -> validate -> compile -> smoke run`` (see the package docstring). Three
entry points share it:

* :func:`check_source`: text -> :class:`Accepted` or :class:`Rejected` (never raises for a
  bad program; the designer loop uses it to get repairable feedback);
* :func:`load_reward`: ``"sparse"``, ``"reference"`` or a file -> :class:`RewardFunction`
  (raises :class:`RewardRejected`); what trainers call;
* :func:`compile_program`: already-accepted source -> :class:`RewardFunction` without a
  smoke run, for worker processes that receive code the parent checked.
"""

from __future__ import annotations

import os
import re
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from rewards.compile import compile_validated
from rewards.errors import RewardRejected
from rewards.extract import extract_code
from rewards.program import (
    Accepted,
    CheckResult,
    Rejected,
    RewardContext,
    RewardProgram,
    source_hash,
)
from rewards.runtime import (
    DEFAULT_BUDGET_US,
    DEFAULT_MAX_CONSECUTIVE_OVERRUNS,
    DEFAULT_MAX_ERRORS,
    RewardFunction,
)
from rewards.sandbox import SandboxLimits, smoke_run
from rewards.states import StateBatch, recorded_states
from rewards.validate import validate

if TYPE_CHECKING:
    from sims.spec import TaskSpec

_REFERENCE_PACKAGE = "rewards.reference"
# Accepted programs by (task layout, source hash, budget): a worker that loads the same
# reward twice pays for one smoke run.
_accepted: dict[tuple[str, str, float], RewardProgram] = {}


def _reference_file(name: str) -> str:
    return resources.files(_REFERENCE_PACKAGE).joinpath(f"{name}.py").read_text("utf-8")


#: The sparse success-only reward (the floor every designed reward must beat), as a reward
#: program that runs through the same pipeline. See ``rewards/reference/sparse.py``.
SPARSE_SOURCE: str = _reference_file("sparse")


def reference_names() -> dict[str, str]:
    """Task short name (``DroneHover``) -> reference file stem, for every shipped reference."""
    out = {}
    for entry in resources.files(_REFERENCE_PACKAGE).iterdir():
        stem = entry.name.removesuffix(".py")
        if entry.name.endswith(".py") and not stem.startswith("_") and stem != "sparse":
            out["".join(part.capitalize() for part in stem.split("_"))] = stem
    return dict(sorted(out.items()))


def reference_source(task_id: str) -> str:
    """The hand-written reference reward of a task (the human baseline).

    Args:
        task_id: ``agentic_rl/DroneHover-v0`` or the short ``DroneHover``.

    Raises:
        LookupError: if no reference reward ships for the task (lists the ones that do).
    """
    short = task_id.split("/")[-1]
    short = re.sub(r"-v\d+$", "", short)
    stem = re.sub(r"(?<!^)(?=[A-Z])", "_", short).lower()
    try:
        return _reference_file(stem)
    except (FileNotFoundError, OSError):
        raise LookupError(
            f"no reference reward for task {task_id!r}; references exist for "
            f"{', '.join(reference_names())}. Write one in the reward-program format "
            "(see README, 'Reward programs') and pass it with `--reward FILE` (`--reward "
            "sparse` for the success reward alone), or let `agentic-rl refine` design one."
        ) from None


def check_source(
    text: str,
    spec: TaskSpec | RewardContext,
    *,
    budget_us: float = DEFAULT_BUDGET_US,
    states: StateBatch | None = None,
    limits: SandboxLimits | None = None,
) -> CheckResult:
    """Run the whole pipeline on a model response or program text.

    Args:
        text: a model response (fenced code, prose around code) or plain program source.
        spec: the task's :class:`sims.TaskSpec` (or a bare :class:`RewardContext`, which
            gets synthetic states).
        budget_us: per-call time budget; programs slower than this (median) are rejected.
        states: transitions for the smoke run; default: recorded from the task's env.
        limits: sandbox resource limits.

    Returns:
        :class:`Accepted` with the program's metadata, or :class:`Rejected` with the stage,
        line and a message written for the model to repair its code.
    """
    ctx = RewardContext.from_spec(spec)
    try:
        source = extract_code(text)
        program = validate(source, ctx)
        batch = states if states is not None else recorded_states(spec)
        report = smoke_run(source, ctx, batch, budget_us=budget_us, limits=limits)
    except RewardRejected as exc:
        return Rejected.from_error(exc, ctx.task_id)
    return Accepted(
        program=RewardProgram(
            task_id=ctx.task_id,
            source=source,
            source_hash=source_hash(source),
            terms=report.terms,
            cost_us=report.cost_us,
            cost_p99_us=report.cost_p99_us,
            budget_us=budget_us,
            smoke_states=report.n_states,
            notes=program.notes + report.notes,
        )
    )


def compile_program(
    source: str,
    spec: TaskSpec | RewardContext,
    *,
    budget_us: float = DEFAULT_BUDGET_US,
    program: RewardProgram | None = None,
    max_consecutive_overruns: int = DEFAULT_MAX_CONSECUTIVE_OVERRUNS,
    max_errors: int = DEFAULT_MAX_ERRORS,
) -> RewardFunction:
    """Compile already-accepted code in this process (static checks, no smoke run).

    Args:
        source: program text (a model response is accepted too; the code is extracted).
        spec: the task spec or context.
        budget_us: per-call time budget enforced by the wrapper.
        program: the metadata from :func:`check_source`, if available (keeps the measured
            cost and term list); otherwise built from static analysis.
        max_consecutive_overruns: see :class:`RewardFunction`.
        max_errors: see :class:`RewardFunction`.

    Raises:
        RewardRejected: if the code fails extraction, parsing, validation or compilation.
    """
    ctx = RewardContext.from_spec(spec)
    code = extract_code(source)
    validated = validate(code, ctx)
    raw = compile_validated(validated)
    if program is None:
        program = RewardProgram(
            task_id=ctx.task_id,
            source=code,
            source_hash=source_hash(code),
            terms=validated.static_terms or (),
            budget_us=budget_us,
            notes=validated.notes,
        )
    return RewardFunction(
        raw,
        program,
        ctx,
        budget_us=budget_us,
        max_consecutive_overruns=max_consecutive_overruns,
        max_errors=max_errors,
    )


def load_reward(
    spec: TaskSpec | RewardContext,
    which: str | os.PathLike[str],
    *,
    budget_us: float = DEFAULT_BUDGET_US,
    max_consecutive_overruns: int = DEFAULT_MAX_CONSECUTIVE_OVERRUNS,
    max_errors: int = DEFAULT_MAX_ERRORS,
) -> RewardFunction:
    """Turn ``"sparse"``, ``"reference"`` or a file into a guarded reward callable.

    Runs the whole pipeline (extract, validate, compile, smoke run in a child process), then
    compiles the accepted program in this process.

    Args:
        spec: the task's spec.
        which: ``"sparse"``, ``"reference"``, or the path of a ``.py`` file or a saved model
            response.
        budget_us: per-call time budget.
        max_consecutive_overruns: consecutive over-budget calls that fail the candidate.
        max_errors: exceptions tolerated (zeroed and counted) before the candidate fails.

    Returns:
        ``fn(state, action, prev_state, task) -> dict[str, float]`` with ``fn.program``,
        ``fn.nonfinite_counts`` and ``fn.stats()``.

    Raises:
        RewardRejected: if the program is rejected (``stage``, ``line``, ``message``).
        FileNotFoundError: if ``which`` is neither a keyword nor an existing file.
        LookupError: for ``"reference"`` on a task without a reference reward.
    """
    ctx = RewardContext.from_spec(spec)
    text = _resolve_which(ctx.task_id, which)
    key = (ctx.key(), source_hash(extract_code(text)), float(budget_us))
    program = _accepted.get(key)
    if program is None:
        result = check_source(text, spec, budget_us=budget_us)
        if isinstance(result, Rejected):
            raise result.to_exception()
        program = result.program
        _accepted[key] = program
    return compile_program(
        program.source,
        ctx,
        budget_us=budget_us,
        program=program,
        max_consecutive_overruns=max_consecutive_overruns,
        max_errors=max_errors,
    )


def _resolve_which(task_id: str, which: str | os.PathLike[str]) -> str:
    which = os.fspath(which)
    if which == "sparse":
        return SPARSE_SOURCE
    if which == "reference":
        return reference_source(task_id)
    if "\n" in which and "compute_reward" in which:
        return which  # program or response text passed directly
    path = Path(which)
    if not path.is_file():
        raise FileNotFoundError(
            f"reward {which!r} is not 'sparse', 'reference' or an existing file; pass the path "
            "of a .py reward program or a saved model response"
        )
    return path.read_text("utf-8", errors="replace")


__all__ = [
    "SPARSE_SOURCE",
    "Accepted",
    "Rejected",
    "check_source",
    "compile_program",
    "load_reward",
    "reference_names",
    "reference_source",
]
