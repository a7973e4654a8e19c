"""Turning a task id and a reward choice into environment factories.

Tasks come from :mod:`sims` (``DroneHover``, ``agentic_rl/ArmReach-v0``, a plugin, or
``module:Class``). Any other registered gymnasium id (e.g. ``Pendulum-v1``) is accepted too,
with its built-in reward, which keeps the trainer testable against well-known envs.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium as gym

#: What ``train(reward=...)`` accepts: ``None``/``"sparse"`` (the task's sparse success reward),
#: ``"reference"`` (the task's hand-written reference reward), a path to a reward program, or a
#: ready callable ``(state, action, prev_state, task) -> {term: value}``.
RewardArg = Any


def is_sims_task(task_id: str) -> bool:
    """True when ``task_id`` names a :mod:`sims` task (built-in, plugin or import path)."""
    import sims

    try:
        sims.resolve(task_id)
    except (sims.UnknownTaskError, sims.PluginError):
        return False
    return True


def canonical_task_id(task_id: str) -> str:
    """The full id of a task (``DroneHover`` -> ``agentic_rl/DroneHover-v0``).

    Raises:
        LookupError: when the id is neither a :mod:`sims` task nor a gymnasium id, with the
            sims registry's did-you-mean hint.
    """
    import sims

    try:
        return sims.resolve(task_id)[0]
    except sims.UnknownTaskError:
        if task_id in gym.registry:
            return task_id
        raise


def recorded_task_path(task_id: str) -> str | None:
    """The ``module:Class`` to record next to a task id (``None`` unless the task was named
    by its class path; see :func:`sims.recorded_path`), so later commands load it by id."""
    if not is_sims_task(task_id):
        return None
    import sims

    return sims.recorded_path(task_id)


def recall_task(task_id: str, path: str | None = None) -> str:
    """The id of a task as a run recorded it (``task_id`` and its ``task_path``): loads the
    recorded class path where the id alone is unknown (see :func:`sims.recall`); a gymnasium
    id is returned as it is."""
    import sims

    try:
        return sims.recall(task_id, path)
    except sims.UnknownTaskError:
        if task_id in gym.registry:
            return task_id
        raise


def describe_reward(reward: RewardArg) -> str:
    """A short, JSON-friendly name of a reward choice (for configs and logs)."""
    if reward is None:
        return "sparse"
    if isinstance(reward, (str, Path)):
        return str(reward)
    program = getattr(reward, "program", None)  # a rewards.RewardFunction: its source hash
    if isinstance(getattr(program, "source_hash", None), str):
        return f"reward program sha256:{program.source_hash}"
    return getattr(reward, "__name__", type(reward).__name__)


def load_reward(task_id: str, reward: RewardArg) -> Callable[..., Any] | None:
    """Resolve a reward choice to the callable a task env takes (``None`` = sparse).

    The :mod:`rewards` package is imported only here, and only for ``"reference"`` or a file,
    so the trainer runs without it for sparse or callable rewards.

    Raises:
        ValueError: for a reward choice that does not fit the task.
        ImportError: when ``rewards`` is needed but not available.
    """
    if reward is None or reward == "sparse":
        return None
    if callable(reward):
        return reward
    if not is_sims_task(task_id):
        raise ValueError(
            f"{task_id} is a plain gymnasium env with its own reward; pass reward=None "
            f"(got {reward!r}). Reward programs need a sims task with a TaskSpec."
        )
    import sims

    try:
        import rewards
    except ImportError as exc:  # pragma: no cover - depends on what is installed
        raise ImportError(
            f"reward {reward!r} needs the `rewards` package ({exc}); install agentic-rl with "
            "its rewards package, or use --reward sparse"
        ) from exc
    loader = getattr(rewards, "load_reward", None)
    if loader is None:  # pragma: no cover - only while the rewards package is being built
        raise ImportError("rewards.load_reward is not available yet; use --reward sparse")
    which = reward if reward == "reference" else str(Path(reward))
    if which != "reference" and not Path(which).is_file():
        raise FileNotFoundError(
            f"reward file {which!r} does not exist; pass 'sparse', 'reference' or a path to a "
            "reward program (a .py file defining compute_reward)"
        )
    return loader(sims.get_spec(task_id), which)


def env_factory(
    task_id: str,
    reward_fn: Callable[..., Any] | None = None,
    randomize: Any = False,
    render_mode: str | None = None,
) -> Callable[[], gym.Env]:
    """A zero-argument factory for one env of ``task_id`` (picklable inputs only)."""

    def make() -> gym.Env:
        if is_sims_task(task_id):
            import sims

            return sims.make(
                task_id, reward_fn=reward_fn, randomize=randomize, render_mode=render_mode
            )
        if reward_fn is not None or randomize:
            raise ValueError(f"{task_id} is a plain gymnasium env: no reward_fn or randomize")
        # Only pass render_mode when asked: older-style envs do not accept the keyword.
        kwargs = {} if render_mode is None else {"render_mode": render_mode}
        return gym.make(task_id, **kwargs)

    return make
