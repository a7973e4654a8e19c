"""The executor seam: run candidate jobs somewhere, yield results as they complete."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Sequence

from agentic_rl.executors.work import CandidateJob, CandidateResult


class Executor(ABC):
    """Runs :func:`~agentic_rl.executors.work.train_candidate` for many jobs.

    Implementations yield one :class:`CandidateResult` per job, in completion order, and turn
    worker crashes and per-candidate timeouts into ``failed``/``timeout`` results instead of
    raising: one bad candidate never stops the loop.
    """

    name: str = "executor"

    def __init__(self, workers: int = 1, hold_fds: Sequence[int] = ()) -> None:
        if workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        self.workers = workers
        #: Descriptors every local worker inherits: the run lock, so that it stays held
        #: until the last worker is gone (workers also die with the driver).
        self.hold_fds = tuple(hold_fds)

    @abstractmethod
    def run(self, jobs: Iterable[CandidateJob]) -> Iterator[CandidateResult]:
        """Run every job; yield results as they complete."""

    def close(self) -> None:
        """Release workers (no-op for executors without long-lived workers)."""
        return None

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
