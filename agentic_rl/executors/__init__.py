"""Executors run the candidate work unit: ``serial``, ``process`` (default) or ``ray``."""

from __future__ import annotations

from collections.abc import Sequence

from agentic_rl.executors.base import Executor
from agentic_rl.executors.work import CandidateJob, CandidateResult, train_candidate

EXECUTORS = ("serial", "process", "ray")


def make_executor(
    name: str, workers: int, hold_fds: Sequence[int] = (), **options: object
) -> Executor:
    """Create an executor by name (``AGENTIC_RL_EXECUTOR`` may pick the default upstream).

    Args:
        name: ``serial``, ``process`` or ``ray``.
        workers: candidates in flight at once.
        hold_fds: descriptors local workers inherit (the run lock; see :class:`Executor`).
        **options: backend options (Ray's).
    """
    if name == "serial":
        from agentic_rl.executors.serial import SerialExecutor

        return SerialExecutor(workers, hold_fds)
    if name == "process":
        from agentic_rl.executors.process import ProcessExecutor

        return ProcessExecutor(workers, hold_fds)
    if name == "ray":
        try:
            from agentic_rl.executors.ray_executor import RayExecutor
        except ImportError as exc:
            raise ImportError(
                f"the ray executor needs Ray: pip install 'agentic-rl[ray]' ({exc})"
            ) from exc
        return RayExecutor(workers, **options)
    raise ValueError(f"unknown executor {name!r}; choose one of {EXECUTORS}")


__all__ = [
    "EXECUTORS",
    "CandidateJob",
    "CandidateResult",
    "Executor",
    "make_executor",
    "train_candidate",
]
