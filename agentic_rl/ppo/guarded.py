"""Training with a reward program in a guarded child: how a model-written reward always trains.

A reward program may be model-written, and training calls it millions of times in states its
smoke run never saw. So :func:`agentic_rl.ppo.train` never runs one in the calling process:
given a reward file it hands the whole run to a :class:`rewards.child.GuardedChild` (a fresh
interpreter with an address-space limit, a CPU-time limit and the per-call watchdog of
:mod:`rewards.guard`) and returns that child's :class:`~agentic_rl.ppo.run.TrainResult`. Inside
a guarded child (a refine candidate, or this very hand-off) the run proceeds in place.
"""

from __future__ import annotations

from typing import Any

#: Address space a training worker may add from its first reward call on (its envs and
#: networks exist by then; evaluation envs and plots need ~100-200 MiB later). A reward's own
#: arrays are capped at 8 MB each (rewards.caps), so 512 MiB leaves ample room, and keeps a
#: worker of the heaviest default config (ArmPickPlace, 16 envs: ~1.3 GB resident) under 2 GiB.
WORKER_MEMORY_MB = 512
#: Address space a worker may add while it builds its envs and networks (before any reward
#: call): a safety net only, no model-written code runs then.
WORKER_STARTUP_MB = 6144
#: Modules a training child imports before the limits are armed (their size is not the
#: reward's).
PRELOAD = ("numpy", "torch", "pybullet", "sims", "rewards", "agentic_rl.ppo")
#: Reward choices that are not programs: shipped with the package or the caller's own callable.
TRUSTED = (None, "sparse", "reference")


class GuardedRunError(RuntimeError):
    """A run in a guarded child failed; the message says why (an error, or the limit hit)."""


def needs_guard(reward: Any) -> bool:
    """Whether training with ``reward`` here must move into a guarded child.

    True for a reward program (a file path) outside a guarded child; shipped rewards
    (``"sparse"``, ``"reference"``), the caller's own callables and runs already inside a
    guarded child train in place.
    """
    if callable(reward) or (isinstance(reward, str | type(None)) and reward in TRUSTED):
        return False
    from rewards.guard import armed  # only for programs: sparse and callables need no rewards

    return armed() is None


def train_guarded(config: Any, task_id: str, **kwargs: Any) -> Any:
    """:func:`agentic_rl.ppo.train` in a guarded child.

    The limits are a refine candidate's, without a wall-clock or practical CPU limit (a long
    run is the caller's choice).

    Raises:
        GuardedRunError: with the child's one-line reason when training failed or a limit hit.
        ValueError: when a ``callback`` is given (it cannot run inside the child).
    """
    if kwargs.get("callback") is not None:
        raise ValueError(
            "a reward program trains in a guarded child, where a callback cannot run; train "
            "without callback= (read train.csv while it runs), or call this from inside a "
            "refine worker"
        )
    kwargs.pop("callback", None)
    from rewards.child import GuardedChild
    from rewards.guard import ProcessLimits

    outcome = GuardedChild(
        "agentic_rl.ppo.guarded:train_child",
        (config.model_dump_json(), task_id, kwargs),
        limits=ProcessLimits(
            memory_mb=WORKER_MEMORY_MB,
            startup_mb=WORKER_STARTUP_MB,
            cpu_seconds=30 * 24 * 3600.0,
        ),
        preload=PRELOAD,
        name="train",
    ).outcome()
    if outcome.ok:
        return outcome.value
    if outcome.kind == "limit":
        raise GuardedRunError(f"{outcome.limit} limit: {outcome.message}")
    raise GuardedRunError(outcome.message)


def train_child(config_json: str, task_id: str, kwargs: dict[str, Any]) -> Any:
    """Inside the guarded child of :func:`train_guarded` (armed, so it trains in place)."""
    from agentic_rl.ppo import PPOConfig, train

    return train(PPOConfig.model_validate_json(config_json), task_id, **kwargs)
