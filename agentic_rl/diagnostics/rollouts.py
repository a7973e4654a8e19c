"""Seeded evaluation episodes that keep what happened at every step.

:func:`agentic_rl.ppo.evaluate` is the one place that runs a policy for ground truth; this
module wraps it rather than re-implementing it. The wrapper is the reward callable that
``evaluate`` hands to the env: the env calls it once per step with the true state snapshot and
the applied (clipped) action, so it records the state trajectory, the actions and the
candidate's reward terms without touching the env or the policy. Each seed runs as its own
``evaluate`` call, because :class:`~agentic_rl.ppo.EvalResult` reports termination reasons as
a histogram and the exemplars need each episode's own reason.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from agentic_rl.ppo import Policy, evaluate, load_policy
from agentic_rl.ppo.evaluate import PolicyLike
from sims.randomization import RandomizeArg
from sims.spec import TaskSpec


@dataclass
class EpisodeRecord:
    """One evaluation episode, step by step.

    Attributes:
        seed: the reset seed.
        randomized: whether physics was randomized.
        success: ground-truth success.
        reason: the termination reason (``success``, ``crash``, ``timeout``, ...).
        metrics: the task metrics of the episode.
        ret: return under the candidate's reward (0 when no reward was given).
        dt: seconds per control step.
        states: ``(length + 1, obs_size)`` true states, row 0 right after reset.
        actions: ``(length, act_dim)`` applied actions (clipped to [-1, 1]).
        terms: reward term name -> ``(length,)`` values (empty without a reward).
        reward_errors: steps on which the reward raised and paid nothing.
    """

    seed: int
    randomized: bool
    success: bool
    reason: str
    metrics: dict[str, float]
    ret: float
    dt: float
    states: np.ndarray
    actions: np.ndarray
    terms: dict[str, np.ndarray] = field(default_factory=dict)
    reward_errors: int = 0

    @property
    def length(self) -> int:
        """Control steps taken."""
        return len(self.actions)

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


class _Recorder:
    """The reward callable handed to ``evaluate``: records every step, pays the candidate's
    terms. Ground truth never depends on the candidate's reward, so a reward that raises
    (or has exhausted its error budget) pays nothing on that step and evaluation goes on."""

    def __init__(self, reward: Any | None) -> None:
        self.reward = reward
        self.start()

    def start(self) -> None:
        self.states: list[np.ndarray] = []
        self.actions: list[np.ndarray] = []
        self.terms: list[Mapping[str, float]] = []
        self.escaped = 0  # exceptions that reached the recorder
        self._counted_before = self._counted()

    def _counted(self) -> int | None:
        # rewards.RewardFunction counts every exception it sees, those it zeroes itself and
        # those it re-raises once over its error budget; a plain callable counts nothing.
        counts = getattr(self.reward, "error_counts", None)
        return sum(counts.values()) if isinstance(counts, dict) else None

    @property
    def errors(self) -> int:
        """Steps of the current episode on which the reward raised."""
        counted = self._counted()
        if counted is None or self._counted_before is None:
            return self.escaped
        return counted - self._counted_before

    def __call__(
        self,
        state: Mapping[str, Any],
        action: np.ndarray,
        prev_state: Mapping[str, Any],
        task: Mapping[str, float],
    ) -> Mapping[str, float]:
        if not self.states:
            self.states.append(_flat(prev_state))
        self.states.append(_flat(state))
        self.actions.append(np.array(action, dtype=np.float64))
        terms: Mapping[str, float] = {}
        if self.reward is not None:
            try:
                terms = self.reward(state, action, prev_state, task)
            except Exception:  # a broken reward must not abort the ground-truth evaluation
                self.escaped += 1
        self.terms.append(terms)
        return terms

    def episode_terms(self) -> dict[str, np.ndarray]:
        names = list(dict.fromkeys(k for t in self.terms for k in t))
        return {n: np.array([float(t.get(n, 0.0)) for t in self.terms]) for n in names}


def _flat(state: Mapping[str, Any]) -> np.ndarray:
    # The snapshot lists the spec's fields in order, so this is the observation layout.
    return np.concatenate([np.ravel(v) for v in state.values()]).astype(np.float64)


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


def run_episodes(
    policy: PolicyLike,
    spec: TaskSpec,
    seeds: Sequence[int],
    *,
    randomize: RandomizeArg = False,
    reward: Any | None = None,
) -> list[EpisodeRecord]:
    """Run one seeded, deterministic episode per seed and record it step by step.

    Args:
        policy: anything :func:`agentic_rl.ppo.evaluate` accepts (loaded once here).
        spec: the task's spec.
        seeds: reset seeds.
        randomize: ``False``, ``True`` or ``{param: (low, high)}`` physics randomization.
        reward: the candidate's reward callable (see :func:`compile_reward`), or ``None``.
    """
    policy = resolve_policy(policy)
    recorder = _Recorder(reward)
    dt = 1.0 / spec.control_hz
    out = []
    for seed in seeds:
        recorder.start()
        result = evaluate(policy, spec.id, seeds=[seed], randomized=randomize, reward=recorder)  # type: ignore[arg-type]
        (reason,) = result.termination_reasons
        out.append(
            EpisodeRecord(
                seed=int(seed),
                randomized=bool(randomize),
                success=result.successes[0],
                reason=reason,
                metrics=result.task_metrics[0],
                ret=result.returns[0],
                dt=dt,
                states=np.array(recorder.states),
                actions=np.array(recorder.actions),
                terms=recorder.episode_terms(),
                reward_errors=recorder.errors,
            )
        )
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
) -> Rollouts:
    """Nominal episodes on seeds ``seed ..`` and, if asked, randomized ones on the same seeds.

    Sharing seeds pairs the two sets: the same start states under different physics, so a
    success gap is the physics, not the draw of start positions.
    """
    if episodes < 1:
        raise ValueError(f"episodes must be >= 1, got {episodes}")
    t0 = time.perf_counter()
    policy = resolve_policy(policy)
    reward = compile_reward(reward_source, spec)
    nominal = run_episodes(policy, spec, range(seed, seed + episodes), reward=reward)
    randomized = None
    if randomize and randomized_episodes > 0:
        randomized = run_episodes(
            policy,
            spec,
            range(seed, seed + randomized_episodes),
            randomize=randomize,
            reward=reward,
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


def scene_at(
    policy: PolicyLike,
    spec: TaskSpec,
    seed: int,
    step: int,
    *,
    randomize: RandomizeArg = False,
    size: tuple[int, int] = (480, 360),
) -> np.ndarray:
    """The overview camera image (H, W, 3) after replaying an episode for ``step`` steps.

    The policy is deterministic and resets are seeded, so this reproduces the evaluated
    episode exactly: the picture shows the robot where an exemplar ended.
    """
    import sims

    act = resolve_policy(policy)
    act = act.act if isinstance(act, Policy) else act
    env = sims.make(spec.id, randomize=randomize)
    try:
        obs, _ = env.reset(seed=seed)
        for _ in range(step):
            obs, _, term, trunc, _ = env.step(act(np.asarray(obs)))  # type: ignore[operator]
            if term or trunc:
                break
        return env.scene_image(*size)
    finally:
        env.close()
