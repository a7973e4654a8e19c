"""`process` (the local default): one fresh process per candidate, ``workers`` at a time.

Each candidate runs in a new ``spawn``-ed interpreter with one torch/BLAS thread, so a crash,
a memory blow-up or a hung reward in one candidate cannot touch the driver or the others. A
candidate that outlives its wall-clock timeout is killed and reported as ``timeout``; one whose
process dies without a result is reported as ``failed`` with its exit code or signal.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import time
from collections.abc import Iterable, Iterator
from multiprocessing.connection import Connection, wait

from agentic_rl.executors.base import Executor
from agentic_rl.executors.work import CandidateJob, CandidateResult

_THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def _child(job_json: str, conn: Connection) -> None:
    for var in _THREAD_VARS:  # before numpy/torch load their thread pools
        os.environ[var] = "1"
    from agentic_rl.executors.work import CandidateJob, train_candidate

    result = train_candidate(CandidateJob.model_validate_json(job_json))
    conn.send(result.model_dump_json())
    conn.close()


def describe_exit(code: int | None) -> str:
    if code is None:
        return "still running"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"worker process was killed by {name}"
    return f"worker process exited with code {code} without a result"


class ProcessExecutor(Executor):
    name = "process"

    def __init__(self, workers: int = 1) -> None:
        super().__init__(workers)
        self._ctx = mp.get_context("spawn")
        self._running: dict[int, tuple[mp.process.BaseProcess, Connection, CandidateJob, float]]
        self._running = {}

    def run(self, jobs: Iterable[CandidateJob]) -> Iterator[CandidateResult]:
        queue = list(jobs)
        try:
            while queue or self._running:
                while queue and len(self._running) < self.workers:
                    self._start(queue.pop(0))
                yield from self._collect()
        finally:
            self.close()

    @property
    def pids(self) -> dict[str, int]:
        """Candidate id -> worker PID of the candidates running now."""
        return {job.candidate: proc.pid for proc, _, job, _ in self._running.values() if proc.pid}

    def _start(self, job: CandidateJob) -> None:
        recv, send = self._ctx.Pipe(duplex=False)
        proc = self._ctx.Process(
            target=_child, args=(job.model_dump_json(), send), name=f"candidate-{job.candidate}"
        )
        proc.start()
        send.close()  # the child holds the only writer: EOF on recv means it is gone
        self._running[proc.sentinel] = (proc, recv, job, time.monotonic() + job.timeout)

    def _collect(self) -> Iterator[CandidateResult]:
        now = time.monotonic()
        deadline = min(d for *_, d in self._running.values())
        ready = wait(
            [c for _, c, _, _ in self._running.values()] + list(self._running),
            timeout=max(0.0, deadline - now),
        )
        for key, (proc, conn, job, dl) in list(self._running.items()):
            result = None
            if conn in ready or key in ready:
                try:
                    if conn.poll():
                        result = CandidateResult.model_validate_json(conn.recv())
                except (EOFError, OSError):
                    pass
                if result is None and proc.is_alive() and key not in ready:
                    continue  # pipe closed early but the process lingers: wait for exit
                proc.join(timeout=5)
                if result is None:
                    result = CandidateResult(
                        candidate=job.candidate, status="failed", error=describe_exit(proc.exitcode)
                    )
            elif time.monotonic() >= dl:
                self._kill(proc)
                result = CandidateResult(
                    candidate=job.candidate,
                    status="timeout",
                    wall_time=job.timeout,
                    error=f"stopped after its {job.timeout:g} s wall-clock limit",
                )
            if result is not None:
                conn.close()
                del self._running[key]
                yield result

    @staticmethod
    def _kill(proc: mp.process.BaseProcess) -> None:
        proc.terminate()
        proc.join(timeout=5)
        if proc.is_alive():
            proc.kill()
            proc.join()

    def close(self) -> None:
        for proc, conn, _, _ in self._running.values():
            self._kill(proc)
            conn.close()
        self._running.clear()
