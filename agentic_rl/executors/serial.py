"""`serial`: candidates one after another in this process (tests, debugging)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from agentic_rl.executors.base import Executor
from agentic_rl.executors.work import CandidateJob, CandidateResult, train_candidate


class SerialExecutor(Executor):
    """Runs each job in the calling process. Per-candidate timeouts are not enforced here
    (nothing can interrupt a running job in-process); use ``process`` for that."""

    name = "serial"

    def run(self, jobs: Iterable[CandidateJob]) -> Iterator[CandidateResult]:
        for job in jobs:
            yield train_candidate(job)
