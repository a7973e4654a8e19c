"""Limits of a process that calls reward programs: address space, CPU time, a per-call watchdog.

A reward program that passed every check can still turn hostile in states only training
reaches (near the goal, after a contact, late in an episode). So the process that calls it
runs under limits of its own, set up by :func:`arm` when a guarded child starts
(:mod:`rewards.child`):

* ``RLIMIT_AS``: the address space may grow ``memory_mb`` above its size when the first reward
  call starts (a training worker first builds its envs and networks under the looser
  ``startup_mb``; :func:`tighten_memory`), so an allocation beyond that raises ``MemoryError``
  where it happens, inside the reward;
* ``RLIMIT_CPU``: ``cpu_seconds`` of CPU time; the kernel sends ``SIGXCPU`` (raised as
  :class:`RewardLimitExceeded` where Python runs next) and ``SIGKILL`` a few seconds later;
* the per-call watchdog: :class:`rewards.RewardFunction` writes the deadline of each call into
  a shared slot (one store per call, never cleared: clearing would double the cost). When the
  deadline passes, the parent's watchdog thread sends ``SIGUSR1``; the handler raises inside
  the call if a reward program frame is on the stack (so the failure names the program's line)
  and otherwise clears the stale deadline (the call returned long ago). A child that does not
  answer is stuck in C code: ``faulthandler`` dumps its stack on ``SIGUSR2``, and the parent
  kills it only if the dump shows the reward program (the line is known even then);
* ``PR_SET_PDEATHSIG`` plus a parent-PID check: a guarded child never outlives its parent.

Outside a guarded child the slot is a private buffer nobody watches, so calling a reward costs
the same everywhere.
"""

from __future__ import annotations

import ctypes
import faulthandler
import math
import os
import signal
import sys
import threading
from dataclasses import dataclass
from time import perf_counter
from types import FrameType
from typing import Any

from rewards.errors import RewardLimitExceeded

#: A call fails at once when it runs this many times its per-call budget ...
WATCHDOG_FACTOR = 1000.0
#: ... but never sooner than this (a loaded machine can deschedule a worker for a while).
WATCHDOG_FLOOR_S = 2.0
#: Seconds the parent waits for a call to honour ``SIGUSR1`` before it kills the child.
WATCHDOG_GRACE_S = 3.0
#: The file name compiled reward programs carry in tracebacks and stack dumps.
PROGRAM_FILENAME = "<reward_program>"
#: Extra seconds between the soft and hard CPU limit (SIGXCPU, then SIGKILL).
CPU_GRACE_S = 5

_PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class ProcessLimits:
    """Limits of a process that calls reward programs.

    Attributes:
        memory_mb: address space the process may add on top of its size once armed, or,
            with ``startup_mb``, on top of its size when the first reward call starts.
        startup_mb: if set, the address space may first grow this much above its size
            after start-up (envs and networks are built before any reward call), and
            ``memory_mb`` applies from the first reward call on.
        cpu_seconds: CPU time the process may use once armed.
        wall_seconds: wall-clock limit the parent enforces (``None``: none).
        no_files: forbid writing files at all (``RLIMIT_FSIZE`` = 0; the smoke run).
        clear_env: start without environment variables (the smoke run: nothing to leak).
    """

    memory_mb: int = 1024
    startup_mb: int | None = None
    cpu_seconds: float = 3600.0
    wall_seconds: float | None = None
    no_files: bool = False
    clear_env: bool = False


# The watch slot: [deadline of the call in progress (perf_counter seconds) or 0.0]. Replaced
# by a shared mapping in a guarded child; a private buffer elsewhere.
_slot = memoryview(bytearray(16)).cast("d")
_armed: ProcessLimits | None = None
_tight = True  # whether memory_mb applies already


def watch_slot() -> memoryview:
    """The slot :class:`rewards.RewardFunction` writes each call's deadline into."""
    return _slot


def armed() -> ProcessLimits | None:
    """The limits this process runs under, or ``None`` outside a guarded child."""
    return _armed


def watchdog_seconds(budget_s: float) -> float:
    """How long one call with a per-call budget of ``budget_s`` may run before it fails."""
    return max(WATCHDOG_FLOOR_S, budget_s * WATCHDOG_FACTOR)


def die_with_parent(parent_pid: int) -> None:
    """Make this process die when ``parent_pid`` does (Linux: at once; elsewhere: polled)."""
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):  # no prctl: the poll below still applies
            pass
    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        os._exit(70)

    def poll() -> None:
        while True:
            threading.Event().wait(0.5)
            if os.getppid() != parent_pid:
                os._exit(70)

    threading.Thread(target=poll, name="parent-watch", daemon=True).start()


def current_vm_bytes() -> int | None:
    """This process's address-space size (Linux ``/proc``), or ``None`` if unknown."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmSize:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def arm(limits: ProcessLimits, slot: memoryview, stack_file: Any) -> None:
    """Apply ``limits`` to this process and connect the watch slot (guarded child only).

    Args:
        limits: the limits to apply.
        slot: the shared watch slot (a ``memoryview`` of doubles).
        stack_file: an open file ``faulthandler`` dumps the stack into when the parent
            signals ``SIGUSR2`` or the CPU limit is reached.
    """
    global _slot, _armed, _tight
    _slot = slot
    _armed = limits
    _tight = limits.startup_mb is None
    faulthandler.register(signal.SIGUSR2, file=stack_file, all_threads=True)
    signal.signal(signal.SIGUSR1, _on_watchdog)
    try:
        import resource
    except ImportError:  # not POSIX: only the parent's wall clock and watchdog apply
        return
    _setlimit(resource, resource.RLIMIT_CORE, 0, 0)
    if limits.no_files:
        # Soft limit only: the child lifts it to write its result once the program is done
        # (programs cannot reach `resource`). Writes fail with EFBIG instead of a kill.
        _setlimit(resource, resource.RLIMIT_FSIZE, 0, resource.RLIM_INFINITY)
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    used = resource.getrusage(resource.RUSAGE_SELF)
    soft = math.ceil(used.ru_utime + used.ru_stime + limits.cpu_seconds)
    _setlimit(resource, resource.RLIMIT_CPU, soft, soft + CPU_GRACE_S)
    signal.signal(signal.SIGXCPU, _on_cpu_limit)
    faulthandler.register(signal.SIGXCPU, file=stack_file, all_threads=True, chain=True)
    vm = current_vm_bytes()
    if vm is not None:
        headroom = limits.memory_mb if _tight else limits.startup_mb
        cap = vm + headroom * 1024 * 1024  # type: ignore[operator]
        _setlimit(resource, resource.RLIMIT_AS, cap, cap)


def tighten_memory() -> None:
    """Apply ``memory_mb`` from now on (called by the first reward call of a guarded child).

    Only ever lowers the address-space cap; a no-op outside a guarded child or once done.
    """
    global _tight
    if _tight or _armed is None:
        return
    _tight = True
    vm = current_vm_bytes()
    try:
        import resource
    except ImportError:
        return
    if vm is not None:
        cap = vm + _armed.memory_mb * 1024 * 1024
        soft, _ = resource.getrlimit(resource.RLIMIT_AS)
        if soft == resource.RLIM_INFINITY or cap < soft:
            _setlimit(resource, resource.RLIMIT_AS, cap, cap)


def _setlimit(resource: Any, which: int, soft: int, hard: int) -> None:
    """Set a limit, never above an existing hard limit (raising it needs privileges)."""
    _, old_hard = resource.getrlimit(which)
    if old_hard != resource.RLIM_INFINITY:
        soft = min(soft, old_hard)
        hard = old_hard if hard == resource.RLIM_INFINITY else min(hard, old_hard)
    resource.setrlimit(which, (soft, hard))


def allow_files() -> None:
    """Lift a ``no_files`` limit again (the child writes its result after the program ran)."""
    try:
        import resource
    except ImportError:
        return
    hard = resource.getrlimit(resource.RLIMIT_FSIZE)[1]
    resource.setrlimit(resource.RLIMIT_FSIZE, (hard, hard))


def _on_watchdog(signum: int, frame: FrameType | None) -> None:
    deadline = _slot[0]
    if not deadline or perf_counter() <= deadline:
        return
    while frame is not None:
        if frame.f_code.co_filename == PROGRAM_FILENAME:
            raise RewardLimitExceeded(
                "watchdog", "a single reward call ran past its watchdog limit"
            )
        frame = frame.f_back
    _slot[0] = 0.0  # no reward call in progress: the deadline was stale


def _on_cpu_limit(signum: int, frame: FrameType | None) -> None:
    cpu = _armed.cpu_seconds if _armed else 0.0
    raise RewardLimitExceeded("cpu", f"the worker used up its CPU-time limit of {cpu:g} s")


def memory_limit_mb() -> int | None:
    """The armed address-space headroom in MiB, if any (for messages)."""
    return _armed.memory_mb if _armed else None
