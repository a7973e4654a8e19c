"""Seeded evaluation episodes that keep what happened at every step.

:func:`agentic_rl.ppo.evaluate` is the one place that runs a policy for ground truth; this
module wraps it rather than re-implementing it. The wrapper is the reward callable that
``evaluate`` hands to the env: the env calls it once per step with the true state snapshot and
the applied (clipped) action, so it records the state trajectory, the actions and the
candidate's reward terms without touching the env or the policy.
:class:`~agentic_rl.ppo.EvalResult` reports termination reasons as a histogram; each
episode's own reason is inferred from it where that is certain, and the few ambiguous
episodes are re-run alone (see :func:`infer_reasons`).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np

from agentic_rl.ppo import Policy, evaluate, load_policy
from agentic_rl.ppo.evaluate import EvalResult, PolicyLike
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


@dataclass
class _Track:
    """What the recorder saw of one episode."""

    states: list[np.ndarray]
    actions: list[np.ndarray] = field(default_factory=list)
    terms: list[Mapping[str, float]] = field(default_factory=list)
    counted_at_start: int | None = None
    escaped: int = 0


class _Recorder:
    """The reward callable handed to ``evaluate``: records every step, pays the candidate's
    terms. Ground truth never depends on the candidate's reward, so a reward that raises
    (or has exhausted its error budget) pays nothing on that step and evaluation goes on.

    Episode boundaries need no help from the env: ``SimTask`` passes the previous step's
    state object as ``prev_state``, so a ``prev_state`` that is not the last ``state`` seen
    is a fresh reset, and it is the new episode's first state.
    """

    def __init__(self, reward: Any | None) -> None:
        self.reward = reward
        self.tracks: list[_Track] = []
        self._last: Any = None

    def _counted(self) -> int | None:
        # rewards.RewardFunction counts every exception it sees, those it zeroes itself and
        # those it re-raises once over its error budget; a plain callable counts nothing.
        counts = getattr(self.reward, "error_counts", None)
        return sum(counts.values()) if isinstance(counts, dict) else None

    def __call__(
        self,
        state: Mapping[str, Any],
        action: np.ndarray,
        prev_state: Mapping[str, Any],
        task: Mapping[str, float],
    ) -> Mapping[str, float]:
        if prev_state is not self._last:
            self.tracks.append(_Track([_flat(prev_state)], counted_at_start=self._counted()))
        track = self.tracks[-1]
        self._last = state
        track.states.append(_flat(state))
        track.actions.append(np.array(action, dtype=np.float64))
        terms: Mapping[str, float] = {}
        if self.reward is not None:
            try:
                terms = self.reward(state, action, prev_state, task)
            except Exception:  # a broken reward must not abort the ground-truth evaluation
                track.escaped += 1
        track.terms.append(terms)
        return terms

    def errors(self) -> list[int]:
        """Steps of each recorded episode on which the reward raised."""
        marks = [t.counted_at_start for t in self.tracks] + [self._counted()]
        if any(m is None for m in marks):
            return [t.escaped for t in self.tracks]
        return [b - a for a, b in pairwise(marks)]  # type: ignore[operator]

    @staticmethod
    def terms_of(track: _Track) -> dict[str, np.ndarray]:
        names = list(dict.fromkeys(k for t in track.terms for k in t))
        return {n: np.array([float(t.get(n, 0.0)) for t in track.terms]) for n in names}


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


def infer_reasons(spec: TaskSpec, result: EvalResult) -> list[str | None]:
    """Each episode's termination reason from ``evaluate``'s histogram, where it is certain.

    Successes, failures at the time limit and earlier failures form three groups; a group
    whose episodes can only have one reason in the histogram gets it (truncation happens only
    at the time limit, so an early failure is never a timeout). Episodes left ``None`` are
    ambiguous (say both crashes and flips) and need running on their own.
    """
    hist = result.termination_reasons
    if len(hist) == 1:
        return [next(iter(hist))] * result.episodes
    by_name = {r.name: r for r in spec.termination_reasons}
    success = [n for n in hist if n in by_name and by_name[n].success]
    truncated = [n for n in hist if n in by_name and by_name[n].kind == "truncated"]
    early = [n for n in hist if n in by_name and by_name[n].kind == "terminated"]
    early = [n for n in early if not by_name[n].success]
    truncated = [n for n in truncated if not by_name[n].success]
    limit = spec.max_episode_steps
    groups = {
        "success": [i for i, ok in enumerate(result.successes) if ok],
        "at_limit": [
            i for i, ok in enumerate(result.successes) if not ok and result.lengths[i] >= limit
        ],
        "early": [
            i for i, ok in enumerate(result.successes) if not ok and result.lengths[i] < limit
        ],
    }
    names = {"success": success, "at_limit": truncated, "early": early}
    out: list[str | None] = [None] * result.episodes
    for group, members in groups.items():
        options = names[group]
        # at the limit, an episode may also have been terminated on its last step: only
        # certain when the single truncation reason accounts for every member
        if len(options) == 1 and (group != "at_limit" or hist[options[0]] == len(members)):
            for i in members:
                out[i] = options[0]
    return out


def run_episodes(
    policy: PolicyLike,
    spec: TaskSpec,
    seeds: Sequence[int],
    *,
    randomize: RandomizeArg = False,
    reward: Any | None = None,
) -> list[EpisodeRecord]:
    """Run one seeded, deterministic episode per seed and record it step by step.

    One :func:`~agentic_rl.ppo.evaluate` call runs them all in one env; an episode whose
    termination reason the histogram leaves ambiguous (see :func:`infer_reasons`) is run
    again on its own, which reproduces it exactly (seeded resets, deterministic policy).

    Args:
        policy: anything :func:`agentic_rl.ppo.evaluate` accepts (loaded once here).
        spec: the task's spec.
        seeds: reset seeds.
        randomize: ``False``, ``True`` or ``{param: (low, high)}`` physics randomization.
        reward: the candidate's reward callable (see :func:`compile_reward`), or ``None``.
    """
    policy = resolve_policy(policy)
    seeds = [int(s) for s in seeds]
    if not seeds:
        return []
    recorder = _Recorder(reward)
    result = evaluate(policy, spec.id, seeds=seeds, randomized=randomize, reward=recorder)  # type: ignore[arg-type]
    tracks = recorder.tracks
    if [len(t.actions) for t in tracks] != result.lengths:
        raise RuntimeError(
            f"recorded {[len(t.actions) for t in tracks]} steps per episode but evaluate ran "
            f"{result.lengths}; the env must pass the previous state object as prev_state"
        )
    reasons = infer_reasons(spec, result)
    errors = recorder.errors()
    dt = 1.0 / spec.control_hz
    out = []
    for i, seed in enumerate(seeds):
        if reasons[i] is None:
            out += run_episodes(policy, spec, [seed], randomize=randomize, reward=reward)
            continue
        track = tracks[i]
        out.append(
            EpisodeRecord(
                seed=seed,
                randomized=bool(randomize),
                success=result.successes[i],
                reason=reasons[i],  # type: ignore[arg-type]
                metrics=result.task_metrics[i],
                ret=result.returns[i],
                dt=dt,
                states=np.array(track.states),
                actions=np.array(track.actions),
                terms=recorder.terms_of(track),
                reward_errors=errors[i],
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
