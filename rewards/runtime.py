"""The per-step wrapper an accepted reward program runs inside during training.

:class:`RewardFunction` is what :func:`rewards.load_reward` returns and what ``SimTask`` calls
once per step. Per call it checks that every term is a finite number (on the fast path one
C-level sum of the terms: a finite ``float`` total proves it) and converts terms that are not
Python numbers to ``float``; the rare events are handled off the fast path:

* a term that is NaN or infinite is replaced by 0.0 and counted in ``nonfinite_counts``
  (never propagated into returns or advantages);
* an exception inside the program zeroes that step's terms and is counted in
  ``error_counts``; after ``max_errors`` of them the candidate fails with
  :class:`RewardRuntimeError` naming the first error and its line;
* a call slower than the per-call budget counts as an overrun; ``max_consecutive_overruns``
  overruns in a row fail the candidate with :class:`RewardBudgetExceeded`. Consecutive,
  because a single slow call is usually the OS descheduling the worker, not the program;
* one call running :data:`rewards.guard.WATCHDOG_FACTOR` times its budget (at least
  :data:`rewards.guard.WATCHDOG_FLOOR_S`) fails the candidate at once: each call writes its
  deadline into the watch slot that the guarded child's parent watches (:mod:`rewards.guard`),
  one memory store per call;
* a sandbox limit hit inside a call (``MemoryError`` under the address-space limit, the CPU
  limit, the watchdog, a size cap of :mod:`rewards.caps`) fails the candidate at once with
  :class:`RewardLimitExceeded` naming the limit, the program's hash and its line.

The wrapper adds well under a microsecond per call (``benchmarks/reward_overhead.py``).
"""

from __future__ import annotations

from collections.abc import Mapping
from time import perf_counter
from typing import Any

import numpy as np

from rewards import guard
from rewards.compile import RawReward, compile_source, program_line
from rewards.errors import RewardBudgetExceeded, RewardLimitExceeded, RewardRuntimeError
from rewards.program import RewardContext, RewardProgram

#: Default per-call time budget (microseconds). Env steps cost 100s of microseconds; a reward
#: slower than this would dominate training time.
DEFAULT_BUDGET_US = 1000.0
#: Default number of consecutive over-budget calls that fail a candidate.
DEFAULT_MAX_CONSECUTIVE_OVERRUNS = 20
#: Default number of exceptions tolerated (zeroed and counted) before a candidate fails.
DEFAULT_MAX_ERRORS = 100

#: isinstance(x, float) as a C-level callable, for the type pass of the fast path.
_is_float = float.__instancecheck__


class RewardFunction:
    """A compiled reward program with non-finite, exception and time-budget guards.

    Call it like the program: ``fn(state, action, prev_state, task) -> dict[str, float]``.

    Args:
        raw: the compiled ``compute_reward``.
        program: the accepted program's metadata (exposed as ``fn.program``).
        ctx: the task context it was compiled for (used to re-compile after pickling).
        budget_us: per-call time budget in microseconds.
        max_consecutive_overruns: consecutive over-budget calls that fail the candidate.
        max_errors: exceptions tolerated before the candidate fails.

    Attributes:
        program: :class:`RewardProgram` (terms, source hash, measured cost, source).
        nonfinite_counts: term name -> number of calls in which it was NaN/inf (zeroed).
        error_counts: exception type name -> number of calls that raised it.
        calls: number of calls so far.
        overruns: number of calls slower than the budget.
    """

    __slots__ = (
        "_call",
        "_consecutive",
        "_ctx",
        "_fn",
        "_slot",
        "_watch_s",
        "_zero",
        "budget_s",
        "calls",
        "error_counts",
        "first_error",
        "max_consecutive_overruns",
        "max_errors",
        "nonfinite_counts",
        "overruns",
        "program",
        "slowest_us",
    )

    def __init__(
        self,
        raw: RawReward,
        program: RewardProgram,
        ctx: RewardContext,
        *,
        budget_us: float | None = None,
        max_consecutive_overruns: int = DEFAULT_MAX_CONSECUTIVE_OVERRUNS,
        max_errors: int = DEFAULT_MAX_ERRORS,
    ) -> None:
        budget = program.budget_us if budget_us is None else budget_us
        if not budget > 0:
            raise ValueError(f"budget_us must be > 0, got {budget}")
        if max_consecutive_overruns < 1 or max_errors < 0:
            raise ValueError(
                "max_consecutive_overruns must be >= 1 and max_errors >= 0, got "
                f"{max_consecutive_overruns} and {max_errors}"
            )
        self._fn = raw
        self._call = self._first_call  # then `raw` itself: no per-call check
        self._ctx = ctx
        self.program = program
        self.budget_s = budget * 1e-6
        self.max_consecutive_overruns = max_consecutive_overruns
        self.max_errors = max_errors
        self._zero = dict.fromkeys(program.terms, 0.0)
        self._slot = guard.watch_slot()
        self._watch_s = guard.watchdog_seconds(self.budget_s)
        self._consecutive = 0
        self.calls = 0
        self.overruns = 0
        self.slowest_us = 0.0
        self.nonfinite_counts: dict[str, int] = {}
        self.error_counts: dict[str, int] = {}
        self.first_error: str | None = None

    def __call__(
        self,
        state: Mapping[str, Any],
        action: np.ndarray,
        prev_state: Mapping[str, Any],
        task: Mapping[str, float],
    ) -> dict[str, float]:
        self.calls += 1
        t0 = perf_counter()
        # One store: the deadline of this call, which the guarded child's parent watches. It
        # is not cleared afterwards (that would double the cost); a stale deadline between
        # calls is recognised because no reward frame is on the stack (rewards.guard).
        self._slot[0] = t0 + self._watch_s
        try:
            # The program builds a fresh dict per call (the smoke run checked the type), so
            # values are normalized in place: no second dict, no float() on floats.
            out = self._call(state, action, prev_state, task)
            # Fast path, two C-level passes: a float total that is finite means every term is
            # a finite Python number (a NaN, an inf or a numpy/array term would change the
            # total's type or finiteness), and the type pass catches int and bool terms, which
            # a float total hides. Anything else is normalized term by term.
            values = out.values()
            total = sum(values)
            if type(total) is not float or total - total != 0.0 or not all(map(_is_float, values)):
                self._normalize(out)
        except Exception as exc:  # counted and zeroed; repeated failure fails the candidate
            return self._error(exc)
        if perf_counter() - t0 > self.budget_s:
            self._overrun(perf_counter() - t0)
        elif self._consecutive:
            self._consecutive = 0
        return out

    # -- rare paths, kept out of __call__ so the fast path stays short
    def _first_call(self, *args: Any) -> Any:
        # The worker's envs and networks exist by now: from here on the reward's address
        # space headroom applies (rewards.guard.tighten_memory).
        guard.tighten_memory()
        self._call = self._fn
        return self._fn(*args)

    def _normalize(self, out: dict[str, Any]) -> None:
        """Every term to a finite float, in place (NaN and +-inf zeroed and counted)."""
        for name, value in out.items():
            if type(value) is not float:
                value = out[name] = float(value)
            if value - value != 0.0:  # NaN or +-inf: x - x is NaN only for those
                out[name] = self._nonfinite(name)

    def _nonfinite(self, name: str) -> float:
        self.nonfinite_counts[name] = self.nonfinite_counts.get(name, 0) + 1
        return 0.0

    def _error(self, exc: Exception) -> dict[str, float]:
        if isinstance(exc, (MemoryError, RewardLimitExceeded)):
            raise self._limit_failure(exc) from None
        kind = type(exc).__name__
        self.error_counts[kind] = self.error_counts.get(kind, 0) + 1
        if self.first_error is None:
            line = program_line(exc)
            where = f" at line {line}" if line is not None else ""
            self.first_error = f"{kind}{where}: {str(exc)[:300]}"
        total = sum(self.error_counts.values())
        if total > self.max_errors:
            raise RewardRuntimeError(
                f"the reward program raised {total} exceptions in {self.calls} calls (limit "
                f"{self.max_errors}); first: {self.first_error}. Guard the failing operation "
                "so every state gives finite terms."
            ) from exc
        return dict(self._zero)

    def _overrun(self, seconds: float) -> None:
        self.overruns += 1
        self._consecutive += 1
        self.slowest_us = max(self.slowest_us, seconds * 1e6)
        if self._consecutive >= self.max_consecutive_overruns:
            measured = (
                f"; it measured {self.program.cost_us:.1f} us in the smoke run"
                if self.program.cost_us is not None
                else ""
            )
            raise RewardBudgetExceeded(
                f"the reward program exceeded its budget of {self.budget_s * 1e6:.0f} us per "
                f"call on {self._consecutive} consecutive calls (slowest {self.slowest_us:.0f} "
                f"us){measured}. Make it cheaper: avoid large arrays and long loops."
            )

    def _limit_failure(self, exc: BaseException) -> RewardLimitExceeded:
        """The candidate-failing error for a sandbox limit hit inside a call."""
        line = program_line(exc)
        where = f" at line {line}" if line is not None else ""
        program = f"the reward program {self.program.source_hash[:12]}"
        if isinstance(exc, MemoryError):
            mb = guard.memory_limit_mb()
            cap = f"its {mb} MiB address-space limit" if mb else "the available memory"
            return RewardLimitExceeded(
                "memory",
                f"{program} ran out of {cap}{where}. Avoid building large arrays or lists "
                "(e.g. outer products or broadcasting of long vectors).",
            )
        assert isinstance(exc, RewardLimitExceeded)
        if exc.limit == "watchdog":
            return RewardLimitExceeded(
                "watchdog",
                f"one call of {program} ran longer than {self._watch_s:g} s{where} (its budget "
                f"is {self.budget_s * 1e6:.0f} us per call). Keep every call cheap in every "
                "state: no long loops or large array computations.",
            )
        return RewardLimitExceeded(exc.limit, f"{program}{where}: {exc.message}")

    # -- reporting and pickling
    def stats(self) -> dict[str, Any]:
        """Counters for diagnostics: calls, overruns, non-finite terms and exceptions."""
        return {
            "calls": self.calls,
            "overruns": self.overruns,
            "slowest_us": self.slowest_us,
            "nonfinite_counts": dict(self.nonfinite_counts),
            "error_counts": dict(self.error_counts),
            "first_error": self.first_error,
        }

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        # Compiled code does not pickle; ship the accepted source and recompile (no smoke
        # run: it was accepted already). Counters start fresh in the new process.
        return (
            _rebuild,
            (
                self.program,
                self._ctx,
                self.budget_s * 1e6,
                self.max_consecutive_overruns,
                self.max_errors,
            ),
        )

    def __repr__(self) -> str:
        return (
            f"RewardFunction(task={self.program.task_id!r}, terms={list(self.program.terms)}, "
            f"hash={self.program.source_hash[:12]}, calls={self.calls})"
        )


def _rebuild(
    program: RewardProgram,
    ctx: RewardContext,
    budget_us: float,
    max_consecutive_overruns: int,
    max_errors: int,
) -> RewardFunction:
    _, raw = compile_source(program.source, ctx)
    return RewardFunction(
        raw,
        program,
        ctx,
        budget_us=budget_us,
        max_consecutive_overruns=max_consecutive_overruns,
        max_errors=max_errors,
    )
