"""Run a function in a guarded child process: the only place reward programs are called.

:class:`GuardedChild` starts a fresh interpreter (``python -c``, not ``multiprocessing``: the
child never imports the caller's ``__main__``, so a plain script or a notebook that calls the
API at module level works without an ``if __name__ == "__main__":`` guard), hands it a
function named ``"module:function"`` and its arguments through a private temporary folder,
and supervises it:

* the child imports ``preload`` modules, then arms :func:`rewards.guard.arm` (address space,
  CPU time, no core dumps, optionally no files and no environment), so every later allocation
  counts against ``memory_mb``;
* the child dies with its parent (``PR_SET_PDEATHSIG`` plus a parent-PID poll) and inherits
  ``pass_fds`` (the run lock), so a resume cannot start while it still writes;
* a watchdog thread in the parent reads the deadline of the reward call in progress, signals
  the child when it passes and kills it when it does not return; it also enforces the
  wall-clock limit and records the child's peak resident memory.

The outcome is a :class:`ChildOutcome`: the function's return value, or why it failed.
"""

from __future__ import annotations

import contextlib
import mmap
import os
import pickle
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import traceback
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import import_module
from time import perf_counter
from typing import Any

from rewards import guard
from rewards.errors import RewardLimitExceeded

_ENTRY = "from rewards.child import child_main; child_main()"
_POLL_S = 0.05
#: Environment variables a guarded child gets on top of the parent's (one BLAS/torch thread,
#: few malloc arenas: each arena reserves 64 MiB of address space).
CHILD_ENV = {
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MALLOC_ARENA_MAX": "2",
}


@dataclass
class ChildOutcome:
    """How a guarded child ended.

    Attributes:
        ok: whether the function returned.
        value: its return value (when ``ok``).
        kind: ``"error"`` (it raised), ``"limit"`` (a sandbox limit), ``"timeout"`` (the
            wall-clock limit) or ``"crash"`` (the process died without a result).
        message: why it failed, one paragraph.
        limit: the limit hit, for ``kind == "limit"``.
        line: the reward program's line, when known.
        peak_rss_mb: the child's peak resident memory.
        wall_s: seconds from start to exit.
    """

    ok: bool
    value: Any = None
    kind: str = ""
    message: str = ""
    limit: str | None = None
    line: int | None = None
    peak_rss_mb: float = 0.0
    wall_s: float = 0.0
    traceback: str = field(default="", repr=False)


class GuardedChild:
    """One function call in a guarded child process (see the module docstring).

    Args:
        target: ``"package.module:function"``; must be importable in a fresh interpreter.
        args: positional arguments (pickled).
        limits: the child's limits.
        preload: modules to import before the limits are armed (their size is not counted).
        pass_fds: file descriptors the child inherits (e.g. the run lock).
        name: shown in messages.
    """

    def __init__(
        self,
        target: str,
        args: Sequence[Any] = (),
        *,
        limits: guard.ProcessLimits | None = None,
        preload: Sequence[str] = (),
        pass_fds: Sequence[int] = (),
        name: str = "reward-child",
    ) -> None:
        self.target = target
        self.limits = limits or guard.ProcessLimits()
        self.name = name
        self._dir = tempfile.mkdtemp(prefix="agentic-rl-child-")
        with open(os.path.join(self._dir, "payload.pkl"), "wb") as f:
            pickle.dump(
                {
                    "target": target,
                    "args": tuple(args),
                    "limits": self.limits,
                    "preload": tuple(preload),
                    "parent": os.getpid(),
                    "sys_path": list(sys.path),
                },
                f,
            )
        with open(os.path.join(self._dir, "watch"), "wb") as f:
            f.write(b"\0" * 16)
        self._watch_file = open(os.path.join(self._dir, "watch"), "r+b")  # noqa: SIM115
        self._map = mmap.mmap(self._watch_file.fileno(), 16)
        self._slot = memoryview(self._map).cast("d")
        env = {} if self.limits.clear_env else dict(os.environ)
        env.update(CHILD_ENV)
        # The child must import this very `rewards` (a worktree on PYTHONPATH, an editable
        # install): hand it the parent's path; it clears its environment itself if asked.
        env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
        self._start = perf_counter()
        self._proc = subprocess.Popen(
            [sys.executable, "-c", _ENTRY, self._dir],
            stdin=subprocess.DEVNULL,
            env=env,
            pass_fds=tuple(pass_fds),
            close_fds=True,
        )
        self.pid = self._proc.pid
        self._done = threading.Event()
        self._reason: tuple[str, str, str | None] | None = None  # kind, message, limit
        self._status: int | None = None
        self._rss_kb = 0
        self._outcome: ChildOutcome | None = None
        self._watcher = threading.Thread(target=self._watch, name=f"watch-{name}", daemon=True)
        self._watcher.start()

    # ------------------------------------------------------------------ parent side
    def _watch(self) -> None:
        signalled_at: float | None = None
        wall = self.limits.wall_seconds
        while True:
            try:
                pid, status, usage = os.wait4(self.pid, os.WNOHANG)
            except ChildProcessError:
                pid, status, usage = self.pid, 0, None
            if pid:
                self._status = os.waitstatus_to_exitcode(status)
                self._proc.returncode = self._status  # reaped here; keep Popen consistent
                if usage is not None:
                    self._rss_kb = usage.ru_maxrss
                self._done.set()
                return
            now = perf_counter()
            deadline = self._slot[0]
            if self._reason is None and wall is not None and now - self._start > wall:
                self._reason = ("timeout", f"stopped after its {wall:g} s wall-clock limit", "wall")
                self._signal(signal.SIGKILL)
            elif deadline and now > deadline and self._reason is None:
                if signalled_at is None:
                    signalled_at = now
                    self._signal(signal.SIGUSR1)  # raised inside the call: names the line
                elif now - signalled_at > guard.WATCHDOG_GRACE_S:
                    # No answer: stuck in C code. Kill only if a reward call is what is stuck.
                    self._signal(signal.SIGUSR2)  # faulthandler: the stack, with the line
                    threading.Event().wait(0.5)
                    if _stack_line(os.path.join(self._dir, "stack.txt")) is not None:
                        self._reason = (
                            "limit",
                            "a single reward call ran past its watchdog limit and did not "
                            "return (stuck inside one long numpy or builtin computation), so "
                            "the worker was killed",
                            "watchdog",
                        )
                        self._signal(signal.SIGKILL)
                    else:  # a long step of the trainer after a finished call: stale deadline
                        if self._slot[0] == deadline:
                            self._slot[0] = 0.0
                        signalled_at = None
            elif not deadline:
                signalled_at = None
            threading.Event().wait(_POLL_S)

    def _signal(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, sig)

    @property
    def done(self) -> bool:
        """Whether the child has exited."""
        return self._done.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the child to exit; True if it did."""
        return self._done.wait(timeout)

    def kill(self, kind: str = "timeout", message: str = "stopped") -> None:
        """Stop the child now (it is reported as ``kind`` with ``message``)."""
        if self._reason is None:
            self._reason = (kind, message, "wall" if kind == "timeout" else None)
        self._signal(signal.SIGKILL)
        self._done.wait(10)

    def outcome(self) -> ChildOutcome:
        """Wait for the child and return how it ended (cleans up its folder)."""
        if self._outcome is not None:
            return self._outcome
        self._done.wait()
        self._watcher.join()
        out = self._read()
        out.peak_rss_mb = self._rss_kb / 1024.0
        out.wall_s = perf_counter() - self._start
        self._slot.release()
        self._map.close()
        self._watch_file.close()
        shutil.rmtree(self._dir, ignore_errors=True)
        self._outcome = out
        return out

    def _read(self) -> ChildOutcome:
        result_path = os.path.join(self._dir, "result.pkl")
        if self._reason is None and os.path.exists(result_path):
            with open(result_path, "rb") as f:
                result = pickle.load(f)
            if result[0] == "ok":
                return ChildOutcome(ok=True, value=result[1])
            _, kind, message, limit, line, tb = result
            return ChildOutcome(
                ok=False, kind=kind, message=message, limit=limit, line=line, traceback=tb
            )
        line = _stack_line(os.path.join(self._dir, "stack.txt"))
        if self._reason is not None:
            kind, message, limit = self._reason
        elif self._status in (-signal.SIGKILL, -signal.SIGXCPU) and _dumped(self._dir):
            kind, limit = "limit", "cpu"
            message = f"the worker used up its CPU-time limit of {self.limits.cpu_seconds:g} s"
        else:
            kind, limit, message = "crash", None, describe_exit(self._status)
        if line is not None:
            message += f" (reward program line {line})"
        return ChildOutcome(ok=False, kind=kind, message=message, limit=limit, line=line)


def describe_exit(code: int | None) -> str:
    """A worker's exit status in words."""
    if code is None:
        return "still running"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"worker process was killed by {name}"
    return f"worker process exited with code {code} without a result"


def _dumped(folder: str) -> bool:
    path = os.path.join(folder, "stack.txt")
    return os.path.exists(path) and os.path.getsize(path) > 0


def _stack_line(path: str) -> int | None:
    """The innermost reward-program line in a ``faulthandler`` dump (most recent call first)."""
    try:
        with open(path, errors="replace") as f:
            text = f.read()
    except OSError:
        return None
    found = re.search(r'File "<reward_program>", line (\d+)', text)
    return int(found.group(1)) if found else None


def run_guarded(target: str, args: Sequence[Any] = (), **kwargs: Any) -> ChildOutcome:
    """Start a :class:`GuardedChild` and wait for its outcome."""
    return GuardedChild(target, args, **kwargs).outcome()


# ------------------------------------------------------------------ child side
def child_main() -> None:
    """Entry point of the child interpreter (``python -c``); never returns."""
    folder = sys.argv[1]
    with open(os.path.join(folder, "payload.pkl"), "rb") as f:
        payload = pickle.load(f)
    guard.die_with_parent(payload["parent"])
    sys.path[:] = payload["sys_path"]
    limits: guard.ProcessLimits = payload["limits"]
    if limits.clear_env:
        os.environ.clear()
    try:
        for module in payload["preload"]:
            import_module(module)
        module_name, _, func_name = payload["target"].partition(":")
        func = getattr(import_module(module_name), func_name)
        watch = open(os.path.join(folder, "watch"), "r+b")  # noqa: SIM115 - lives as long as we do
        slot = memoryview(mmap.mmap(watch.fileno(), 16)).cast("d")
        stack = open(os.path.join(folder, "stack.txt"), "w")  # noqa: SIM115
        guard.arm(limits, slot, stack)
        result: tuple[Any, ...] = ("ok", func(*payload["args"]))
    except RewardLimitExceeded as exc:
        result = ("error", "limit", exc.message, exc.limit, _line(exc), traceback.format_exc())
    except MemoryError as exc:
        mb = limits.memory_mb
        result = (
            "error",
            "limit",
            f"the worker ran out of its {mb} MiB address-space limit",
            "memory",
            _line(exc),
            traceback.format_exc(),
        )
    except BaseException as exc:  # report anything; never leave the parent guessing
        result = (
            "error",
            "error",
            f"{type(exc).__name__}: {str(exc)[:2000]}",
            None,
            _line(exc),
            traceback.format_exc()[-20000:],
        )
    guard.watch_slot()[0] = 0.0
    guard.allow_files()
    tmp = os.path.join(folder, "result.tmp")
    try:
        with open(tmp, "wb") as f:
            pickle.dump(result, f)
    except Exception as exc:  # an unpicklable result: send its description instead
        with open(tmp, "wb") as f:
            pickle.dump(("error", "error", f"result not picklable: {exc}", None, None, ""), f)
    os.replace(tmp, os.path.join(folder, "result.pkl"))
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)  # skip interpreter teardown: nothing left to flush, and it can be slow


def _line(exc: BaseException) -> int | None:
    from rewards.compile import program_line

    return program_line(exc)
