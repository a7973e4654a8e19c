"""The one episode loop: run seeded episodes of a policy in an env and keep what happened.

Evaluation, diagnostics, robustness checks, golden pairs, simulated bags, smoke-run states and
videos all run episodes through :func:`run_episodes`. Each :class:`Episode` carries the ground
truth the env reports at its end (``termination_reason``, ``is_success``, ``task_metrics`` in
``info``, which :class:`sims.SimTask` fills on every step) and, when asked, every step: the
observation the policy saw, the action it returned, the state snapshot and the reward terms,
plus the scene image at the end and rendered frames.

The env is the caller's: built once and reused for many episodes (resets restore the world,
so an episode does not depend on those before it). The reward is the env's too
(``reward_fn``), so model-written rewards run inside the guarded runtime the caller compiled
them with (:func:`rewards.compile_program`), with its limits, in every path.

The loop lives in :mod:`sims`, the bottom layer, because ``rewards`` (smoke-run states) uses
it as well as ``agentic_rl``, and ``rewards`` may not import ``agentic_rl``. Like the rest of
``sims`` it needs only numpy and a gymnasium env: the policy is any callable.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: A deterministic policy: one observation in, one action out.
ActFn = Callable[[np.ndarray], np.ndarray]
#: Per-episode physics: fixed values for every episode, or a function of the episode seed.
ParamsArg = Mapping[str, float] | Callable[[int], Mapping[str, float]] | None


@dataclass(frozen=True)
class PerEpisode:
    """A policy with per-episode state: ``make(index, seed)`` returns the episode's act
    function (a fresh action filter, an exploration process that restarts each episode).
    """

    make: Callable[[int, int], ActFn]


@dataclass
class Episode:
    """One episode: its outcome, and its steps when recorded.

    Attributes:
        seed: the reset seed.
        success: ground-truth success (``info["is_success"]`` at the last step).
        reason: the termination reason (``success``, ``crash``, ``timeout`` ...); ``None``
            when the episode was cut short by ``max_steps``.
        metrics: the task metrics of the finished episode.
        ret: the sum of the env's rewards (its ``reward_fn``, or the sparse reward).
        length: control steps taken.
        params: the physics parameters of the episode (``info["params"]`` of the reset).
        observations: ``(length, obs)`` what the policy saw (recorded episodes only).
        actions: ``(length, act)`` what the policy returned, before the env clips it.
        states: ``length + 1`` state snapshots, the first right after reset.
        terms: reward term name -> ``(length,)`` values (terms a step lacks count 0).
        scene: the overview camera image (H, W, 3) at the end, when asked.
        frames: rendered frames after reset and after every step, when asked.
    """

    seed: int
    success: bool = False
    reason: str | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    ret: float = 0.0
    length: int = 0
    params: dict[str, float] = field(default_factory=dict)
    observations: np.ndarray | None = None
    actions: np.ndarray | None = None
    states: list[Mapping[str, Any]] | None = None
    terms: dict[str, np.ndarray] = field(default_factory=dict)
    scene: np.ndarray | None = None
    frames: list[np.ndarray] = field(default_factory=list)

    def state_matrix(self) -> np.ndarray:
        """``(length + 1, obs_size)`` the recorded states flattened in the spec's field order
        (the layout of the true-state observation).

        Raises:
            ValueError: when the episode was run without ``record=True``.
        """
        if self.states is None:
            raise ValueError("the episode was not recorded; run it with record=True")
        return np.array(
            [np.concatenate([np.ravel(v) for v in s.values()]) for s in self.states],
            dtype=np.float64,
        )


def run_episodes(
    env: Any,
    policy: ActFn | PerEpisode,
    seeds: Iterable[int],
    *,
    params: ParamsArg = None,
    record: bool = False,
    scene: tuple[int, int] | None = None,
    frames: bool = False,
    max_steps: int | None = None,
) -> list[Episode]:
    """Run one episode per seed, each until the env terminates or truncates it.

    Args:
        env: a gymnasium env (a :mod:`sims` task for states, scenes and physics params).
        policy: observation -> action, or a :class:`PerEpisode` factory.
        seeds: reset seed of each episode (may be an endless iterator with ``max_steps``).
        params: physics values pinned in every episode (``reset(options={"params": ...})``)
            or a function of the episode seed returning them; ``None``: the env's own.
        record: keep every step's observation, action, state snapshot and reward terms.
        scene: ``(width, height)`` of an overview image taken at each episode's end.
        frames: keep ``env.render()`` after the reset and after every step.
        max_steps: stop once this many steps were taken over all episodes, mid-episode if
            need be (that episode's ``reason`` is ``None``).

    Returns:
        The episodes, in seed order.
    """
    out: list[Episode] = []
    total = 0
    for index, seed in enumerate(seeds):
        if max_steps is not None and total >= max_steps:
            break
        seed = int(seed)
        pinned = params(seed) if callable(params) else params
        options = {"params": dict(pinned)} if pinned else None
        obs, info = env.reset(seed=seed, options=options)
        act = policy.make(index, seed) if isinstance(policy, PerEpisode) else policy
        ep = Episode(seed=seed, params=dict(info.get("params", {})))
        observations: list[np.ndarray] = []
        actions: list[np.ndarray] = []
        states: list[Mapping[str, Any]] = [info.get("state")]
        terms: list[Mapping[str, float]] = []
        if frames:
            ep.frames.append(env.render())
        done = truncated = False
        while not done:
            if max_steps is not None and total >= max_steps:
                break
            action = act(np.asarray(obs))
            if record:
                observations.append(np.array(obs, np.float64))
                actions.append(np.array(action))  # as returned: callers pick the dtype
            obs, reward, terminated, truncated, info = env.step(action)
            ep.ret += float(reward)
            ep.length += 1
            total += 1
            if record:
                states.append(info.get("state"))
                terms.append(info.get("reward_terms", {}))
            if frames:
                ep.frames.append(env.render())
            done = terminated or truncated
        if done:
            reason = info.get("termination_reason")
            ep.reason = str(reason or ("timeout" if truncated else "terminated"))
            ep.success = bool(info.get("is_success", False))
            ep.metrics = {k: float(v) for k, v in info.get("task_metrics", {}).items()}
        if record:
            ep.observations = _stack(observations, np.shape(obs))
            ep.actions = _stack(actions, env.action_space.shape)
            ep.states = states
            names = list(dict.fromkeys(k for t in terms for k in t))
            ep.terms = {n: np.array([float(t.get(n, 0.0)) for t in terms]) for n in names}
        if scene is not None:
            ep.scene = env.unwrapped.scene_image(*scene)
        out.append(ep)
    return out


def _stack(rows: list[np.ndarray], shape: tuple[int, ...] | None) -> np.ndarray:
    # An empty episode still has the right trailing shape, so callers can concatenate.
    return np.array(rows) if rows else np.zeros((0, *(shape or ())))
