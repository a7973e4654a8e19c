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

from agentic_rl.executors.work import CandidateJob, CandidateResult
from agentic_rl.ppo.guarded import PRELOAD as TRAIN_PRELOAD
from agentic_rl.ppo.guarded import WORKER_MEMORY_MB, WORKER_STARTUP_MB
from rewards.child import ChildOutcome, GuardedChild
from rewards.guard import ProcessLimits

#: Modules imported before the limits are armed (their size is not the reward's).
PRELOAD = (*TRAIN_PRELOAD, "agentic_rl.diagnostics", "agentic_rl.executors.work")


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
