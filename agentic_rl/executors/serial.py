"""`serial`: candidates one after another, each in a guarded child (tests, debugging)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from agentic_rl.executors.base import Executor
from agentic_rl.executors.guarded import run_job
from agentic_rl.executors.work import CandidateJob, CandidateResult


class SerialExecutor(Executor):
    """Runs one job at a time. Each runs in a guarded child process (as with ``process``):
    the reward program is never called in the driver, and the job's timeout is enforced."""

    name = "serial"

    def run(self, jobs: Iterable[CandidateJob]) -> Iterator[CandidateResult]:
        for job in jobs:
            yield run_job(job, self.hold_fds)
