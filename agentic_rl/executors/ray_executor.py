"""`ray`: candidates as Ray core tasks, on a Ray cluster or on a local Ray.

Each candidate is one Ray task wrapping the same :func:`~agentic_rl.executors.work.train_candidate`
work unit the other executors run (in a guarded child of the Ray worker, with the same limits), so a run gives the same selections whichever executor trained
it. The driver keeps at most ``workers`` tasks in flight and yields results in completion order.

Where the tasks run:

* ``RAY_ADDRESS`` set (``ray://head:10001`` or ``head:6379``): the driver joins that cluster.
* a Ray already initialised in this process (a test, a notebook): it is used as it is.
* otherwise a local Ray starts with ``workers * num_cpus`` CPUs and stays up until this process
  exits, so the two batches of every iteration (halving rung, then survivors) pay its start-up
  once, not each time.

Failures, the same contract as the ``process`` executor:

* a candidate still running after its ``timeout`` is cancelled (``ray.cancel(force=True)``
  kills its worker process) and reported as ``timeout``;
* a reward or training failure is deterministic: ``train_candidate`` returns ``failed`` and it is
  **not** retried;
* a worker crash (its process killed, the node lost, Ray's memory monitor) is retried once on a
  fresh worker, logged, recorded in :attr:`RayExecutor.crashes`, and reported as ``failed`` with
  both reasons if the retry crashes too.

Artifacts: the worker writes everything into the candidate folder (``job.out_dir``) and returns
only the small :class:`~agentic_rl.executors.work.CandidateResult`. On a cluster the run folder
must therefore sit on storage every node mounts at the same path (NFS, a cluster file system);
a worker that cannot see the candidate's ``reward.py`` fails the candidate with that advice.
"""

from __future__ import annotations

import atexit
import json
import logging
import math
import os
import socket
import time
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ray
import ray.exceptions

from agentic_rl.executors.base import Executor
from agentic_rl.executors.work import CandidateJob, CandidateResult

log = logging.getLogger(__name__)

#: Environment variable for the CPUs reserved per candidate (default 1).
NUM_CPUS_ENV = "AGENTIC_RL_RAY_NUM_CPUS"
#: File each attempt writes into the candidate folder: which node and process ran it.
WORKER_FILE = "ray_worker.json"
#: Object store of a local Ray started here: results are a few kB, so 256 MiB is plenty and
#: spares the default of 30 % of RAM on a laptop shared with the training processes.
LOCAL_OBJECT_STORE_BYTES = 256 * 1024**2

# Failures of the machinery rather than of the candidate: worth one more try on a fresh worker.
_CRASHES: tuple[type[BaseException], ...] = (
    ray.exceptions.WorkerCrashedError,
    ray.exceptions.NodeDiedError,
    ray.exceptions.LocalRayletDiedError,
    ray.exceptions.OutOfMemoryError,
    ray.exceptions.ObjectLostError,
)
_THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")

_started_local = False


def _run_candidate(job_json: str, attempt: int) -> str:
    """The Ray task body (runs on a worker): train one candidate, return its result as JSON."""
    for var in _THREAD_VARS:  # one BLAS thread, like the process executor's children
        os.environ[var] = "1"
    from agentic_rl.executors.guarded import run_job
    from agentic_rl.executors.work import CandidateJob, CandidateResult

    job = CandidateJob.model_validate_json(job_json)
    out = Path(job.out_dir)
    host = socket.gethostname()
    if not (out / "reward.py").exists():
        # Deterministic, so no retry: every worker on this node would see the same folder.
        return CandidateResult(
            candidate=job.candidate,
            status="failed",
            error=(
                f"{out / 'reward.py'} is not visible on Ray node {host}: on a cluster the run "
                "folder (--out) must be on storage that every node mounts at the same path"
            ),
        ).model_dump_json()
    (out / WORKER_FILE).write_text(
        json.dumps(
            {
                "host": host,
                "node_id": ray.get_runtime_context().get_node_id(),
                "pid": os.getpid(),
                "attempt": attempt,
            }
        )
        + "\n"
    )
    # The work unit runs in a guarded child of this Ray worker (limits, watchdog), which dies
    # with it when the task is cancelled.
    return run_job(job).model_dump_json()


@dataclass(frozen=True)
class Crash:
    """One worker crash seen by :class:`RayExecutor`.

    Attributes:
        candidate: the candidate id (``i0/c2``).
        attempt: which attempt crashed (1 = the first run, 2 = the retry).
        reason: Ray's explanation, first line.
        retried: whether the candidate was submitted again after it.
    """

    candidate: str
    attempt: int
    reason: str
    retried: bool


@dataclass
class _Attempt:
    job: CandidateJob
    number: int
    deadline: float
    submitted: float
    earlier: str | None = None  # the first attempt's crash, when this is the retry


class RayExecutor(Executor):
    """Trains candidates as Ray tasks, ``workers`` at a time.

    Args:
        workers: candidates in flight at once (the cluster should have ``workers * num_cpus``
            CPUs free, or the surplus waits for a CPU inside its timeout).
        num_cpus: CPUs Ray reserves for each candidate (default: ``AGENTIC_RL_RAY_NUM_CPUS`` or
            1). Training runs one torch thread; reserve more to spread candidates thinner over
            nodes, e.g. to leave room for evaluation plots or a noisy neighbour.
        address: cluster to join; default ``RAY_ADDRESS``, else a local Ray starts.
        crash_retries: extra attempts after a worker crash (the issue asks for one).
        init_options: extra ``ray.init`` keywords for a local Ray (``_temp_dir`` ...).

    Raises:
        ValueError: a non-positive ``num_cpus``, or (on first use) no node of the cluster has
            ``num_cpus`` CPUs, so every candidate would wait forever.
    """

    name = "ray"

    def __init__(
        self,
        workers: int = 1,
        num_cpus: float | None = None,
        address: str | None = None,
        crash_retries: int = 1,
        init_options: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(workers)
        if num_cpus is None:
            raw = os.environ.get(NUM_CPUS_ENV, "1")
            try:
                num_cpus = float(raw)
            except ValueError:
                raise ValueError(f"{NUM_CPUS_ENV}={raw!r} is not a number of CPUs") from None
        if num_cpus <= 0:
            raise ValueError(f"num_cpus per candidate must be > 0, got {num_cpus:g}")
        self.num_cpus = num_cpus
        self.address = address or os.environ.get("RAY_ADDRESS") or None
        self.crash_retries = crash_retries
        self.init_options = init_options or {}
        #: Every worker crash seen so far (retried or final), in the order they happened.
        self.crashes: list[Crash] = []
        #: Seconds from submission to result minus the work unit's own time, per candidate.
        self.overheads: dict[str, float] = {}
        self._running: dict[ray.ObjectRef, _Attempt] = {}
        self._task: Any = None

    # ------------------------------------------------------------------ cluster
    def connect(self) -> None:
        """Join ``RAY_ADDRESS``, reuse the Ray of this process, or start a local one."""
        global _started_local
        if not ray.is_initialized():
            if self.address:
                _check_reachable(self.address)
                ray.init(address=self.address, logging_level=logging.WARNING)
            else:
                ray.init(
                    num_cpus=max(1, math.ceil(self.workers * self.num_cpus)),
                    include_dashboard=False,
                    object_store_memory=LOCAL_OBJECT_STORE_BYTES,
                    # worker logs stay in Ray's session folder: results carry the errors, and
                    # training output would interleave with the loop's progress lines
                    log_to_driver=False,
                    logging_level=logging.WARNING,
                    **self.init_options,
                )
                if not _started_local:
                    _started_local = True
                    atexit.register(shutdown_local)
        self._check_capacity()
        self._task = ray.remote(_run_candidate).options(
            num_cpus=self.num_cpus,
            max_retries=0,  # crashes are retried here, once, so they can be reported
            retry_exceptions=False,
            name="train_candidate",
        )

    def _check_capacity(self) -> None:
        nodes = [n for n in ray.nodes() if n.get("Alive")]
        biggest = max((n["Resources"].get("CPU", 0.0) for n in nodes), default=0.0)
        if biggest < self.num_cpus:
            raise ValueError(
                f"no Ray node has {self.num_cpus:g} CPUs for a candidate (largest: {biggest:g}); "
                f"lower {NUM_CPUS_ENV} or add bigger nodes"
            )
        total = sum(n["Resources"].get("CPU", 0.0) for n in nodes)
        if total < self.workers * self.num_cpus:
            log.warning(
                "the Ray cluster has %g CPUs for %d workers x %g CPUs: candidates will queue, "
                "and time spent queued counts against their timeout",
                total,
                self.workers,
                self.num_cpus,
            )

    # ------------------------------------------------------------------ running
    def run(self, jobs: Iterable[CandidateJob]) -> Iterator[CandidateResult]:
        """Run every job on Ray; yield results as they complete (see the module docstring)."""
        queue = deque(jobs)
        if not queue:
            return  # nothing to do: do not start a local Ray for it
        if self._task is None:
            self.connect()
        try:
            while queue or self._running:
                while queue and len(self._running) < self.workers:
                    self._submit(queue.popleft(), 1)
                yield from self._collect()
        finally:
            self.close()

    def _submit(self, job: CandidateJob, number: int, earlier: str | None = None) -> None:
        now = time.monotonic()
        ref = self._task.remote(job.model_dump_json(), number)
        self._running[ref] = _Attempt(job, number, now + job.timeout, now, earlier)

    def _collect(self) -> Iterator[CandidateResult]:
        deadline = min(a.deadline for a in self._running.values())
        ready, _ = ray.wait(
            list(self._running), num_returns=1, timeout=max(0.0, deadline - time.monotonic())
        )
        for ref in ready:
            attempt = self._running.pop(ref)
            result = self._result(ref, attempt)
            if result is not None:
                yield result
        now = time.monotonic()
        for ref, attempt in list(self._running.items()):
            if now >= attempt.deadline:
                del self._running[ref]
                ray.cancel(ref, force=True)  # kills the worker process: the CPU is free again
                job = attempt.job
                yield CandidateResult(
                    candidate=job.candidate,
                    status="timeout",
                    wall_time=job.timeout,
                    error=f"stopped after its {job.timeout:g} s wall-clock limit",
                )

    def _result(self, ref: ray.ObjectRef, attempt: _Attempt) -> CandidateResult | None:
        """The result of a finished task; None when a crashed attempt was resubmitted."""
        job = attempt.job
        try:
            result = CandidateResult.model_validate_json(ray.get(ref))
        except _CRASHES as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            reason = f"{type(exc).__name__}: {reason}"
            retry = attempt.number <= self.crash_retries
            self.crashes.append(Crash(job.candidate, attempt.number, reason, retry))
            if retry:
                log.warning(
                    "%s: Ray worker crashed on attempt %d (%s); retrying once",
                    job.candidate,
                    attempt.number,
                    reason,
                )
                self._submit(job, attempt.number + 1, earlier=reason)
                return None
            earlier = f" (attempt 1: {attempt.earlier})" if attempt.earlier else ""
            return CandidateResult(
                candidate=job.candidate,
                status="failed",
                wall_time=time.monotonic() - attempt.submitted,
                error=f"Ray worker crashed on all {attempt.number} attempts: {reason}{earlier}",
            )
        except ray.exceptions.RayError as exc:
            # An error raised by the task itself (or its runtime environment) happens again on
            # every attempt, so it is reported at once instead of retried.
            first = str(exc).strip().splitlines()
            return CandidateResult(
                candidate=job.candidate,
                status="failed",
                wall_time=time.monotonic() - attempt.submitted,
                error=f"{type(exc).__name__}: {first[-1] if first else ''}",
            )
        self.overheads[job.candidate] = max(
            0.0, time.monotonic() - attempt.submitted - result.wall_time
        )
        return result

    def close(self) -> None:
        """Cancel candidates still in flight (the generator was closed early or failed)."""
        for ref in self._running:
            ray.cancel(ref, force=True)
        self._running.clear()


def _check_reachable(address: str, timeout: float = 5.0) -> None:
    """Fail fast on a head that is not listening: ``ray.init`` would wait minutes for it."""
    hostport = address.removeprefix("ray://")
    host, _, port = hostport.rpartition(":")
    if not host or not port.isdigit():
        return  # "auto", "local" or a form Ray resolves itself
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except OSError as exc:
        raise ValueError(
            f"cannot reach the Ray cluster at RAY_ADDRESS={address} ({exc}); start its head with "
            "`ray start --head --port=6379`, fix the address, or unset RAY_ADDRESS for a local Ray"
        ) from None


def shutdown_local() -> None:
    """Stop the local Ray this module started (no-op for a joined cluster or a caller's Ray)."""
    global _started_local
    if _started_local and ray.is_initialized():
        ray.shutdown()
    _started_local = False
