"""The smoke run: a candidate reward on recorded states, in a resource-limited child process.

Static checks cannot prove a program finishes quickly, stays small or returns finite numbers
on real states; running it can. The run happens in a fresh guarded child interpreter
(:mod:`rewards.child`: no inherited state, never the caller's ``__main__``) that, before
touching the program, caps its own

* CPU time (``RLIMIT_CPU``: the kernel stops the child when it is used up),
* address space (``RLIMIT_AS``: allocations beyond the cap raise ``MemoryError``),
* file writes (``RLIMIT_FSIZE`` = 0) and core dumps (see :func:`rewards.guard.arm`),

clears its environment variables, and re-validates and compiles the program itself. The
parent enforces a wall-clock limit on top and kills the child when it expires. The child
answers with a small, bounded message: the term names and the measured per-call cost, or a
rejection (stage, line, message) explaining what went wrong on which state.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from time import perf_counter_ns
from types import MappingProxyType
from typing import Any

import numpy as np

from rewards.child import ChildOutcome, run_guarded
from rewards.compile import compile_validated, program_line
from rewards.errors import RewardLimitExceeded, RewardRejected
from rewards.guard import ProcessLimits
from rewards.program import RewardContext
from rewards.states import StateBatch
from rewards.validate import validate

#: Most terms a program may return, and longest term name.
MAX_TERMS = 32
MAX_TERM_NAME = 64
#: Terms larger than this in magnitude get a scaling note (not a rejection).
LARGE_TERM = 1e4


@dataclass(frozen=True)
class SandboxLimits:
    """Resource limits of one smoke run.

    Attributes:
        cpu_seconds: CPU time the child may spend after start-up (the program's calls).
        memory_mb: address space the child may add on top of its size after start-up.
        wall_seconds: wall-clock limit of the whole child, start-up included (a spawned
            interpreter imports numpy, which takes a second or more on a busy machine).
    """

    cpu_seconds: float = 5.0
    memory_mb: int = 512
    wall_seconds: float = 60.0

    def process_limits(self) -> ProcessLimits:
        """The guarded child's limits: these, no files, and an empty environment."""
        return ProcessLimits(
            memory_mb=self.memory_mb,
            cpu_seconds=self.cpu_seconds,
            wall_seconds=self.wall_seconds,
            no_files=True,
            clear_env=True,
        )


@dataclass(frozen=True)
class SmokeReport:
    """What an accepted smoke run measured."""

    terms: tuple[str, ...]
    cost_us: float
    cost_p99_us: float
    n_states: int
    notes: tuple[str, ...]


def smoke_run(
    source: str,
    ctx: RewardContext,
    batch: StateBatch,
    *,
    budget_us: float,
    limits: SandboxLimits | None = None,
) -> SmokeReport:
    """Run a program on every transition of ``batch`` in a sandboxed child process.

    Args:
        source: program text (validated again inside the child).
        ctx: the task context.
        batch: recorded transitions.
        budget_us: per-call time budget; a median cost above it rejects the program.
        limits: resource limits (defaults: :class:`SandboxLimits`).

    Raises:
        RewardRejected: (stage ``smoke``, or an earlier stage if the child's own checks
            fail) with the line and a message for the program's author.
    """
    limits = limits or SandboxLimits()
    payload = {
        "source": source,
        "ctx": ctx,
        "arrays": batch.to_arrays(),
        "budget_us": float(budget_us),
        "limits": limits,
    }
    outcome = run_guarded(
        "rewards.sandbox:smoke_child",
        (payload,),
        limits=limits.process_limits(),
        preload=("numpy", "rewards.compile"),
        name="reward-smoke-run",
    )
    result: dict[str, Any] | None = outcome.value if outcome.ok else None
    if result is None:
        raise RewardRejected("smoke", outcome.line, _death_message(outcome, limits))
    if "rejected" in result:
        stage, line, message = result["rejected"]
        raise RewardRejected(stage, line, message)
    return SmokeReport(**result["ok"])


def _death_message(outcome: ChildOutcome, limits: SandboxLimits) -> str:
    if outcome.kind == "timeout":
        return (
            f"the program did not finish within {limits.wall_seconds:g} s of wall time on the "
            "recorded states (an endless or extremely long computation). Keep loops short and "
            "bounded."
        )
    if (
        outcome.limit == "cpu"
        or outcome.message.endswith("SIGKILL")
        or "SIGXCPU" in outcome.message
    ):
        return (
            f"the program used more than {limits.cpu_seconds:g} s of CPU time on the recorded "
            "states (an endless or extremely long computation). Keep loops short and bounded."
        )
    if outcome.limit == "memory":
        return _memory_message(limits, outcome.line)
    return (
        f"the sandboxed run crashed ({outcome.message}), most likely by exhausting its "
        f"{limits.memory_mb} MiB memory limit. Avoid building large arrays or lists."
    )


# --------------------------------------------------------------------------- child side
def smoke_child(payload: dict[str, Any]) -> dict[str, Any]:
    """The smoke run inside the guarded child (see :mod:`rewards.child`)."""
    try:
        return {"ok": _smoke(payload)}
    except RewardRejected as exc:
        return {"rejected": (exc.stage, exc.line, exc.message[:2000])}
    except MemoryError:
        return {"rejected": ("smoke", None, _memory_message(payload["limits"], None))}
    except RewardLimitExceeded as exc:
        return {"rejected": ("smoke", None, exc.message[:2000])}
    except Exception as exc:  # report anything, never hang the parent
        return {
            "rejected": (
                "smoke",
                None,
                f"the smoke run failed: {type(exc).__name__}: {str(exc)[:500]}",
            )
        }


def _memory_message(limits: SandboxLimits, line: int | None) -> str:
    where = f" (at line {line})" if line else ""
    return (
        f"the program ran out of memory{where}: it may use at most {limits.memory_mb} MiB. "
        "Avoid building large arrays or lists."
    )


def _smoke(payload: dict[str, Any]) -> dict[str, Any]:
    ctx: RewardContext = payload["ctx"]
    limits: SandboxLimits = payload["limits"]
    program = validate(payload["source"], ctx)
    fn = compile_validated(program)
    batch = StateBatch.from_arrays(payload["arrays"])
    task = MappingProxyType(dict(ctx.constants))
    terms: dict[str, None] = {}
    notes: list[str] = []
    times: list[int] = []
    for i, (state, action, prev_state) in enumerate(batch.transitions()):
        t0 = perf_counter_ns()
        try:
            out = fn(state, action, prev_state, task)
        except MemoryError as exc:
            line = program_line(exc)
            raise RewardRejected("smoke", line, _memory_message(limits, line)) from None
        except RecursionError as exc:
            raise RewardRejected("smoke", program_line(exc), "recursion went too deep.") from None
        except Exception as exc:
            raise RewardRejected("smoke", program_line(exc), _explain(exc, i, state, ctx)) from None
        times.append(perf_counter_ns() - t0)
        _check_output(out, i, state, terms, notes)
    times.sort()
    median = times[len(times) // 2] / 1000.0
    p99 = times[min(len(times) - 1, int(len(times) * 0.99))] / 1000.0
    if median > payload["budget_us"]:
        raise RewardRejected(
            "smoke",
            None,
            f"the program takes {median:.0f} us per call (median over {len(times)} recorded "
            f"states); the budget is {payload['budget_us']:.0f} us. Make it cheaper: avoid "
            "large arrays and long loops.",
        )
    return {
        "terms": tuple(terms),
        "cost_us": median,
        "cost_p99_us": p99,
        "n_states": len(times),
        "notes": tuple(notes),
    }


def _describe_state(state: Mapping[str, Any], limit: int = 400) -> str:
    parts = []
    for k, v in state.items():
        arr = np.asarray(v)
        text = (
            f"{float(arr):.3g}"
            if arr.ndim == 0
            else np.array2string(
                arr, precision=3, suppress_small=True, separator=", ", max_line_width=10_000
            )
        )
        parts.append(f"{k}={text}")
    text = ", ".join(parts)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _explain(exc: Exception, i: int, state: Mapping[str, Any], ctx: RewardContext) -> str:
    kind = type(exc).__name__
    msg = str(exc)[:300]
    hint = ""
    if isinstance(exc, KeyError):
        key = exc.args[0] if exc.args else None
        if key not in ctx.field_names and key not in ctx.constants:
            hint = (
                f" There is no state field or task constant {key!r}. State fields: "
                f"{', '.join(ctx.field_names)}; task constants: "
                f"{', '.join(sorted(ctx.constants)) or '(none)'}."
            )
    elif isinstance(exc, ZeroDivisionError):
        hint = " Guard divisions, e.g. `x / max(d, 1e-6)`."
    elif "read-only" in msg:
        hint = " The inputs are read-only; copy before changing, e.g. `p = np.array(state['pos'])`."
    return (
        f"raised {kind}: {msg} on recorded state #{i}.{hint} The state was: "
        f"{_describe_state(state)}"
    )


_NUMBER_TYPES = (bool, int, float, np.integer, np.floating, np.bool_)


def _check_output(
    out: Any, i: int, state: Mapping[str, Any], terms: dict[str, None], notes: list[str]
) -> None:
    def reject(message: str) -> None:
        raise RewardRejected("smoke", None, message)

    if not isinstance(out, dict):
        reject(
            f"compute_reward returned a {type(out).__name__}; it must return a dict mapping "
            "term names to floats, e.g. {'distance': -d, 'tilt': -0.1 * t}."
        )
    if not 1 <= len(out) <= MAX_TERMS:
        reject(f"compute_reward returned {len(out)} terms; return between 1 and {MAX_TERMS}.")
    for name, value in out.items():
        if (
            not isinstance(name, str)
            or not 1 <= len(name) <= MAX_TERM_NAME
            or not name.isprintable()
        ):
            shown = repr(name)[:80]
            reject(
                f"term name {shown} is not valid: use short strings (1-{MAX_TERM_NAME} "
                "printable characters) such as 'distance'."
            )
        if isinstance(value, np.ndarray) and value.ndim == 0:
            value = value[()]
        if not isinstance(value, _NUMBER_TYPES):
            what = (
                f"an array of shape {value.shape}"
                if isinstance(value, np.ndarray)
                else f"a {type(value).__name__}"
            )
            reject(
                f"term {name!r} is {what}; each term must be a single number. Reduce arrays "
                "with np.sum, np.linalg.norm or terms.norm, or index them."
            )
        number = float(value)
        if not math.isfinite(number):
            reject(
                f"term {name!r} is {number} on recorded state #{i}; every term must be finite "
                "(guard divisions, logs and square roots). The state was: "
                f"{_describe_state(state)}"
            )
        if abs(number) > LARGE_TERM and not any(n.startswith(f"term {name!r}") for n in notes):
            notes.append(
                f"term {name!r} reaches {number:.3g}; per-step terms of order 1 train "
                "better (scale it down)"
            )
        terms.setdefault(name, None)
