"""Reward programs: from model text to a safe, fast, guarded callable.

A reward program is one Python function::

    def compute_reward(state, action, prev_state, task) -> dict[str, float]

returning named terms whose sum is the reward. ``state``/``prev_state`` are read-only
snapshots of the task's declared state fields, ``task`` the read-only task constants; ``np``
(a numpy subset), ``math`` and ``terms`` (:mod:`rewards.terms`) are available without imports.

Every program, whether an LLM wrote it or a person, goes through one pipeline:
extract (from a model response) -> parse -> validate (AST allowlist, state fields) ->
compile (restricted builtins, read-only namespaces) -> smoke run (recorded states, child
process with CPU, memory and wall-clock limits). The result is :class:`Accepted` (with
terms, source hash and measured cost) or :class:`Rejected` (stage, line, and a message a
model can act on).

Typical use::

    import sims, rewards

    spec = sims.get_spec("DroneHover")
    fn = rewards.load_reward(spec, "reference")         # or "sparse", or a file path
    result = rewards.check_source(response_text, spec)  # Accepted | Rejected

This package never imports torch, and imports ``sims`` only to record smoke-run states.
"""

from rewards import terms
from rewards.errors import (
    STAGES,
    RewardBudgetExceeded,
    RewardLimitExceeded,
    RewardRejected,
    RewardRuntimeError,
    Stage,
)
from rewards.extract import extract_code
from rewards.guard import ProcessLimits
from rewards.pipeline import (
    SPARSE_SOURCE,
    check_source,
    compile_program,
    load_reward,
    reference_names,
    reference_source,
)
from rewards.program import (
    Accepted,
    CheckResult,
    Rejected,
    RewardContext,
    RewardProgram,
    as_json,
)
from rewards.runtime import DEFAULT_BUDGET_US, RewardFunction
from rewards.sandbox import SandboxLimits
from rewards.states import StateBatch, recorded_states

#: What ``SimTask`` expects as ``reward_fn``.
RewardCallable = RewardFunction

__all__ = [
    "DEFAULT_BUDGET_US",
    "SPARSE_SOURCE",
    "STAGES",
    "Accepted",
    "CheckResult",
    "ProcessLimits",
    "Rejected",
    "RewardBudgetExceeded",
    "RewardCallable",
    "RewardContext",
    "RewardFunction",
    "RewardLimitExceeded",
    "RewardProgram",
    "RewardRejected",
    "RewardRuntimeError",
    "SandboxLimits",
    "Stage",
    "StateBatch",
    "as_json",
    "check_source",
    "compile_program",
    "extract_code",
    "load_reward",
    "recorded_states",
    "reference_names",
    "reference_source",
    "terms",
]
