"""`process` (the local default): one fresh guarded process per candidate, ``workers`` at a time.

Each candidate runs in its own guarded child (:mod:`agentic_rl.executors.guarded`): a new
interpreter with one torch/BLAS thread, an address-space and CPU limit and the reward's
per-call watchdog, so a crash, a memory blow-up or a hung reward in one candidate cannot touch
the driver or the others. A candidate that outlives its wall-clock timeout is killed and
reported as ``timeout``; one whose process dies without a result is reported as ``failed``
with the limit it hit, or its exit code or signal. Workers die with the driver.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Sequence

from agentic_rl.executors.base import Executor
from agentic_rl.executors.guarded import job_result, start_job
from agentic_rl.executors.work import CandidateJob, CandidateResult
from rewards.child import GuardedChild, describe_exit

__all__ = ["ProcessExecutor", "describe_exit"]

_POLL_S = 0.1


class ProcessExecutor(Executor):
    name = "process"

    def __init__(self, workers: int = 1, hold_fds: Sequence[int] = ()) -> None:
        super().__init__(workers, hold_fds)
        self._running: dict[str, tuple[GuardedChild, CandidateJob]] = {}

    def run(self, jobs: Iterable[CandidateJob]) -> Iterator[CandidateResult]:
        queue = list(jobs)
        try:
            while queue or self._running:
                while queue and len(self._running) < self.workers:
                    job = queue.pop(0)
                    self._running[job.candidate] = (start_job(job, self.hold_fds), job)
                yield from self._collect()
        finally:
            self.close()

    @property
    def pids(self) -> dict[str, int]:
        """Candidate id -> worker PID of the candidates running now."""
        return {cand: child.pid for cand, (child, _) in self._running.items()}

    def _collect(self) -> Iterator[CandidateResult]:
        while not any(child.done for child, _ in self._running.values()):
            time.sleep(_POLL_S)
        for cand, (child, job) in list(self._running.items()):
            if child.done:
                del self._running[cand]
                yield job_result(job, child.outcome())

    def close(self) -> None:
        for child, _ in self._running.values():
            child.kill("failed", "stopped: the driver closed the executor")
            child.outcome()
        self._running.clear()
