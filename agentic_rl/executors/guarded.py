"""A candidate job in a guarded child: how every executor runs the work unit.

Training calls the candidate's reward program millions of times, in states the smoke run never
saw. So whatever the executor (``serial``, ``process``, ``ray``), the work unit runs in a
:class:`rewards.child.GuardedChild`: a fresh interpreter that imports torch, PyBullet and the
trainer, then arms an address-space limit, a CPU-time limit and the per-call watchdog
(:mod:`rewards.guard`), dies with its parent, and inherits the run lock (``hold_fds``), so a
resume cannot start while an orphaned worker still writes the candidate's folder.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from agentic_rl.executors.work import CandidateJob, CandidateResult
from rewards.child import ChildOutcome, GuardedChild
from rewards.guard import ProcessLimits

#: Address space a training worker may add from its first reward call on (its envs and
#: networks exist by then; evaluation envs and plots need ~100-200 MiB later). A reward's own
#: arrays are capped at 8 MB each (rewards.caps), so 512 MiB leaves ample room, and keeps a
#: worker of the heaviest default config (ArmPickPlace, 16 envs: ~1.3 GB resident) under 2 GiB.
WORKER_MEMORY_MB = 512
#: Address space a worker may add while it builds its envs and networks (before any reward
#: call): a safety net only, no model-written code runs then.
WORKER_STARTUP_MB = 6144
#: Modules imported before the limits are armed (their size is not the reward's).
PRELOAD = (
    "numpy",
    "torch",
    "pybullet",
    "sims",
    "rewards",
    "agentic_rl.ppo",
    "agentic_rl.diagnostics",
    "agentic_rl.executors.work",
)


def worker_limits(job: CandidateJob) -> ProcessLimits:
    """The limits of the worker that trains ``job``: its timeout bounds wall and CPU time."""
    return ProcessLimits(
        memory_mb=job.memory_mb or WORKER_MEMORY_MB,
        startup_mb=WORKER_STARTUP_MB,
        cpu_seconds=job.timeout * 1.5,  # one torch thread plus PyBullet's helper threads
        wall_seconds=job.timeout,
    )


def start_job(job: CandidateJob, hold_fds: Sequence[int] = ()) -> GuardedChild:
    """Start ``job`` in a guarded child (returns at once)."""
    return GuardedChild(
        "agentic_rl.executors.work:train_candidate_json",
        (job.model_dump_json(),),
        limits=worker_limits(job),
        preload=PRELOAD,
        pass_fds=hold_fds,
        name=f"candidate-{job.candidate}",
    )


def job_result(job: CandidateJob, outcome: ChildOutcome) -> CandidateResult:
    """The candidate's result from its child's outcome (a failure when it died)."""
    if outcome.ok:
        result = CandidateResult.model_validate_json(outcome.value)
        return result.model_copy(update={"peak_rss_mb": outcome.peak_rss_mb})
    status = "timeout" if outcome.kind == "timeout" else "failed"
    return CandidateResult(
        candidate=job.candidate,
        status=status,
        wall_time=job.timeout if status == "timeout" else outcome.wall_s,
        error=outcome.message
        if outcome.kind != "limit"
        else f"RewardLimitExceeded: {outcome.limit} limit: {outcome.message}",
        limit=outcome.limit if outcome.kind == "limit" else None,
        peak_rss_mb=outcome.peak_rss_mb,
        traceback=outcome.traceback or None,
    )


def run_job(job: CandidateJob, hold_fds: Sequence[int] = ()) -> CandidateResult:
    """Run ``job`` in a guarded child and wait for its result."""
    return job_result(job, start_job(job, hold_fds).outcome())


class GuardedRunError(RuntimeError):
    """A run in a guarded child failed; the message says why (an error, or the limit hit)."""


def train_guarded(config: Any, task_id: str, **kwargs: Any) -> Any:
    """:func:`agentic_rl.ppo.train` in a guarded child (``agentic-rl train --reward FILE``).

    A reward file may be model-written, so it is trained under the same limits as a refine
    candidate (no wall-clock or practical CPU limit: a long run is the user's choice).

    Raises:
        GuardedRunError: with the child's one-line reason when training failed or a limit hit.
    """
    outcome = GuardedChild(
        "agentic_rl.executors.guarded:train_child",
        (config.model_dump_json(), task_id, kwargs),
        limits=ProcessLimits(
            memory_mb=WORKER_MEMORY_MB,
            startup_mb=WORKER_STARTUP_MB,
            cpu_seconds=30 * 24 * 3600.0,
        ),
        preload=PRELOAD,
        name="train",
    ).outcome()
    if outcome.ok:
        return outcome.value
    if outcome.kind == "limit":
        raise GuardedRunError(f"{outcome.limit} limit: {outcome.message}")
    raise GuardedRunError(outcome.message)


def train_child(config_json: str, task_id: str, kwargs: dict[str, Any]) -> Any:
    """Inside the guarded child of :func:`train_guarded`."""
    from agentic_rl.ppo import PPOConfig, train

    return train(PPOConfig.model_validate_json(config_json), task_id, **kwargs)
