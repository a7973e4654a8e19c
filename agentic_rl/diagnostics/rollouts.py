"""Seeded evaluation episodes that keep what happened at every step.

Episodes run through :func:`sims.rollout.run_episodes`, the one episode loop, with the
candidate's reward as the env's reward function: the env reports each step's state snapshot,
reward terms and, at the end, the termination reason, success and task metrics. What comes
back is :class:`sims.rollout.Episode`, the one episode type; :class:`EpisodeRecord` is a view
over it with the few things diagnostics adds (physics condition, step length, reward errors). A reward that
raises pays nothing on that step and evaluation goes on (ground truth never depends on it);
:class:`_TolerantReward` counts those steps.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

import sims
from agentic_rl.ppo import Policy, load_policy
from agentic_rl.ppo.evaluate import PolicyLike
from sims.randomization import RandomizeArg
from sims.rollout import Episode, run_episodes
from sims.spec import TaskSpec

#: (width, height) of the scene image an episode keeps for the packet's scene plot.
SCENE_SIZE = (480, 360)


@dataclass
class EpisodeRecord:
    """One evaluation episode as diagnostics reads it: a view over :class:`sims.rollout.Episode`
    (the one episode type, recorded step by step) with what diagnostics adds to it.

    The outcome (``seed``, ``success``, ``reason``, ``metrics``, ``ret``, ``terms``, ``scene``)
    is read from the episode; ``states`` and ``actions`` are its recorded steps as arrays.

    Attributes:
        episode: the recorded episode (``run_episodes(..., record=True)``).
        randomized: whether physics was randomized.
        dt: seconds per control step.
        reward_errors: steps on which the reward raised and paid nothing.
    """

    episode: Episode
    randomized: bool
    dt: float
    reward_errors: int = 0

    @classmethod
    def from_arrays(
        cls,
        states: np.ndarray,
        actions: np.ndarray,
        *,
        dt: float,
        seed: int = 0,
        randomized: bool = False,
        success: bool = False,
        reason: str = "timeout",
        metrics: dict[str, float] | None = None,
        terms: dict[str, np.ndarray] | None = None,
    ) -> EpisodeRecord:
        """An episode given as flat arrays (crafted or replayed elsewhere): ``states`` is
        ``(length + 1, obs_size)`` in the spec's field order, ``actions`` ``(length, act)``."""
        actions = np.asarray(actions, np.float64)
        episode = Episode(
            seed=seed,
            success=success,
            reason=reason,
            metrics=dict(metrics or {}),
            length=len(actions),
            actions=actions,
            states=[{"flat": row} for row in np.asarray(states, np.float64)],
            terms=dict(terms or {}),
        )
        return cls(episode, randomized, dt)

    @property
    def seed(self) -> int:
        return self.episode.seed

    @property
    def success(self) -> bool:
        return self.episode.success

    @property
    def reason(self) -> str:
        """The termination reason (``success``, ``crash``, ``timeout``, ...)."""
        return str(self.episode.reason)

    @property
    def metrics(self) -> dict[str, float]:
        return self.episode.metrics

    @property
    def ret(self) -> float:
        """Return under the candidate's reward (0 when no reward was given)."""
        return self.episode.ret

    @property
    def terms(self) -> dict[str, np.ndarray]:
        """Reward term name -> ``(length,)`` values (empty without a reward)."""
        return self.episode.terms

    @property
    def scene(self) -> np.ndarray | None:
        """The overview camera image (H, W, 3) at the episode's end, when kept."""
        return self.episode.scene

    @cached_property
    def states(self) -> np.ndarray:
        """``(length + 1, obs_size)`` true states, row 0 right after reset."""
        return self.episode.state_matrix()

    @cached_property
    def actions(self) -> np.ndarray:
        """``(length, act_dim)`` applied actions: the env clips them to [-1, 1]."""
        return np.clip(np.asarray(self.episode.actions, np.float64), -1.0, 1.0)

    @property
    def length(self) -> int:
        """Control steps taken."""
        return self.episode.length

    @property
    def duration(self) -> float:
        """Seconds of simulated time."""
        return self.length * self.dt


@dataclass
class Rollouts:
    """The evaluation episodes of one candidate under nominal and randomized physics."""

    task_id: str
    nominal: list[EpisodeRecord]
    randomized: list[EpisodeRecord] | None = None
    nonfinite: dict[str, int] = field(default_factory=dict)
    first_error: str | None = None
    seconds: float = 0.0

    @property
    def episodes(self) -> list[EpisodeRecord]:
        """Nominal then randomized episodes."""
        return self.nominal + (self.randomized or [])


class _TolerantReward:
    """The candidate's reward, as the env calls it, with failures contained: a step on which
    the reward raises (or has exhausted its error budget) pays nothing. Without a reward it
    pays nothing at all, so returns stay 0 and no sparse term appears.

    ``errors`` holds, per call (one per env step, in order), how many errors the reward saw:
    a guarded :class:`rewards.RewardFunction` counts in ``error_counts`` every exception,
    those it zeroes itself and those it re-raises; a plain callable's escapes count here.
    """

    def __init__(self, reward: Any | None) -> None:
        self.reward = reward
        self.errors: list[int] = []

    def _counted(self) -> int | None:
        counts = getattr(self.reward, "error_counts", None)
        return sum(counts.values()) if isinstance(counts, dict) else None

    def __call__(self, *step: Any) -> Mapping[str, float]:
        """Pay the reward's terms for ``(state, action, prev_state, task)`` of one step."""
        if self.reward is None:
            self.errors.append(0)
            return {}
        before, escaped = self._counted(), 0
        terms: Mapping[str, float] = {}
        try:
            terms = self.reward(*step)
        except Exception:  # a broken reward must not abort the ground-truth evaluation
            escaped = 1
        after = self._counted()
        self.errors.append(escaped if before is None or after is None else after - before)
        return terms


def compile_reward(reward_source: str, spec: TaskSpec) -> Any | None:
    """The candidate's reward as a guarded callable, or ``None`` for an empty source.

    Raises:
        ValueError: if the source does not compile (diagnose takes the accepted source of a
            trained candidate; check new code with ``rewards.check_source`` first).
    """
    if not reward_source.strip():
        return None
    import rewards

    try:
        return rewards.compile_program(reward_source, spec)
    except rewards.RewardRejected as exc:
        raise ValueError(
            f"reward_source does not compile for {spec.id} ({exc}); pass the accepted source "
            "of the trained candidate (its reward.py), or '' to diagnose without reward terms"
        ) from exc


def resolve_policy(policy: PolicyLike) -> PolicyLike:
    """Load a path once (checkpoint, run folder or ``policy.npz``); pass anything else on."""
    return load_policy(policy) if isinstance(policy, (str, Path)) else policy


def record_episodes(
    policy: PolicyLike,
    spec: TaskSpec,
    seeds: Sequence[int],
    *,
    randomize: RandomizeArg = False,
    reward: Any | None = None,
    scene: tuple[int, int] | None = None,
) -> list[EpisodeRecord]:
    """Run one seeded, deterministic episode per seed and record it step by step.

    Args:
        policy: anything :func:`agentic_rl.ppo.evaluate` accepts (loaded once here).
        spec: the task's spec.
        seeds: reset seeds.
        randomize: ``False``, ``True`` or ``{param: (low, high)}`` physics randomization.
        reward: the candidate's reward callable (see :func:`compile_reward`), or ``None``.
        scene: ``(width, height)`` of the overview image kept at each episode's end.
    """
    policy = resolve_policy(policy)
    act = policy.act if isinstance(policy, Policy) else policy
    seeds = [int(s) for s in seeds]
    if not seeds:
        return []
    tolerant = _TolerantReward(reward)
    env = sims.make(spec.id, reward_fn=tolerant, randomize=randomize)
    try:
        runs = run_episodes(env, act, seeds, record=True, scene=scene)  # type: ignore[arg-type]
    finally:
        env.close()
    dt = 1.0 / spec.control_hz
    out, first = [], 0
    for run in runs:
        errors = sum(tolerant.errors[first : first + run.length])
        first += run.length
        out.append(EpisodeRecord(run, bool(randomize), dt, errors))
    return out


def run_rollouts(
    policy: PolicyLike,
    spec: TaskSpec,
    *,
    episodes: int,
    seed: int,
    randomized_episodes: int = 0,
    randomize: RandomizeArg = True,
    reward_source: str = "",
    scene: tuple[int, int] | None = None,
) -> Rollouts:
    """Nominal episodes on seeds ``seed ..`` and, if asked, randomized ones on the same seeds.

    Sharing seeds pairs the two sets: the same start states under different physics, so a
    success gap is the physics, not the draw of start positions. With ``scene``, every
    episode keeps its overview image (``(width, height)``) at the end, for the scene plot.
    """
    if episodes < 1:
        raise ValueError(f"episodes must be >= 1, got {episodes}")
    t0 = time.perf_counter()
    policy = resolve_policy(policy)
    reward = compile_reward(reward_source, spec)
    nominal = record_episodes(
        policy, spec, range(seed, seed + episodes), reward=reward, scene=scene
    )
    randomized = None
    if randomize and randomized_episodes > 0:
        randomized = record_episodes(
            policy,
            spec,
            range(seed, seed + randomized_episodes),
            randomize=randomize,
            reward=reward,
            scene=scene,
        )
    counts = getattr(reward, "nonfinite_counts", None) or {}
    return Rollouts(
        task_id=spec.id,
        nominal=nominal,
        randomized=randomized,
        nonfinite={str(k): int(v) for k, v in counts.items()},
        first_error=getattr(reward, "first_error", None),
        seconds=time.perf_counter() - t0,
    )
