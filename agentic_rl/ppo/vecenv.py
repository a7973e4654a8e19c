"""A synchronous vector env with same-step autoreset, per-episode seeds and exact replay.

Why not ``gymnasium.vector.SyncVectorEnv``? Three things PPO here needs that it does not give
cheaply:

* **explicit, same-step autoreset** with the final observation of every finished episode, for
  the time-limit bootstrap (Gymnasium 1.x defaults to next-step autoreset, where the step after
  a done is a reset step that a trainer must mask out; a classic source of silent bugs);
* **one recorded seed per episode**, drawn from the vector env's own generator, so that an env
  mid-episode can be rebuilt on resume by resetting with that seed and replaying the episode's
  actions (PyBullet worlds cannot be pickled, but they are deterministic);
* **no per-step info aggregation**: SyncVectorEnv merges every info dict into arrays on every
  step; at thousands of steps per second that costs more than our policy's forward pass. We
  keep only what training logs: per-episode reward-term sums, success, termination reason and
  task metrics.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np


@dataclass
class Episode:
    """Summary of one finished training episode."""

    ret: float
    length: int
    success: bool
    reason: str
    terms: dict[str, float] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)


class _Track:
    """Running statistics and replay record of the episode an env is in."""

    __slots__ = ("actions", "length", "ret", "seed", "terms")

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.ret = 0.0
        self.length = 0
        self.terms: dict[str, float] = {}
        self.actions: list[np.ndarray] = []


class VecEnv:
    """Step ``len(env_fns)`` envs in lockstep; finished envs reset within the same step.

    Args:
        env_fns: zero-argument factories, one per env.
        seed: seeds the generator that draws every episode's reset seed.
        record_actions: keep each episode's actions so :meth:`load_state_dict` can rebuild
            envs mid-episode (needed for exact resume; off for evaluation).
    """

    def __init__(
        self, env_fns: Sequence[Callable[[], gym.Env]], seed: int, record_actions: bool = True
    ) -> None:
        if not env_fns:
            raise ValueError("VecEnv needs at least one env factory")
        self.envs = [fn() for fn in env_fns]
        self.num_envs = len(self.envs)
        space = self.envs[0].action_space
        if not isinstance(space, gym.spaces.Box):
            raise TypeError(f"PPO here needs a continuous (Box) action space, got {space}")
        self.action_low = np.asarray(space.low, np.float64)
        self.action_high = np.asarray(space.high, np.float64)
        self.act_size = int(np.prod(space.shape))
        self.obs_size = int(np.prod(self.envs[0].observation_space.shape))
        self.seed_rng = np.random.default_rng(seed)
        self.record_actions = record_actions
        self.tracks: list[_Track] = []
        self.finished: list[Episode] = []
        #: Steps whose total reward was NaN/inf (replaced by 0 so training can go on).
        self.nonfinite_rewards = 0
        self.obs = np.zeros((self.num_envs, self.obs_size), np.float64)

    def _new_seed(self) -> int:
        return int(self.seed_rng.integers(0, 2**31 - 1))

    def reset(self) -> np.ndarray:
        """Start a fresh episode in every env; returns observations (num_envs, obs_size)."""
        self.tracks = []
        for i, env in enumerate(self.envs):
            seed = self._new_seed()
            obs, _ = env.reset(seed=seed)
            self.obs[i] = np.ravel(obs)
            self.tracks.append(_Track(seed))
        return self.obs.copy()

    def step(
        self, actions: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[int, np.ndarray]]:
        """Step every env with its (unclipped) action; actions are clipped to the bounds here.

        Returns:
            ``(obs, rewards, terminated, truncated, final_obs)``: ``obs`` holds reset
            observations for envs that just finished, whose last observations are in
            ``final_obs[i]`` (used to bootstrap the value at a time limit).
        """
        clipped = np.clip(actions, self.action_low, self.action_high)
        rewards = np.zeros(self.num_envs, np.float64)
        terminated = np.zeros(self.num_envs, bool)
        truncated = np.zeros(self.num_envs, bool)
        final_obs: dict[int, np.ndarray] = {}
        for i, env in enumerate(self.envs):
            track = self.tracks[i]
            if self.record_actions:
                track.actions.append(clipped[i].copy())
            obs, reward, term, trunc, info = env.step(clipped[i])
            reward = float(reward)
            if not math.isfinite(reward):
                self.nonfinite_rewards += 1
                reward = 0.0
            rewards[i] = reward
            terminated[i] = term
            truncated[i] = trunc
            track.ret += reward
            track.length += 1
            terms = info.get("reward_terms")
            if terms is None:
                terms = {"env": reward}
            for name, value in terms.items():
                track.terms[name] = track.terms.get(name, 0.0) + float(value)
            if term or trunc:
                final_obs[i] = np.ravel(obs).astype(np.float64)
                reason = info.get("termination_reason") or ("timeout" if trunc else "terminated")
                self.finished.append(
                    Episode(
                        ret=track.ret,
                        length=track.length,
                        success=bool(info.get("is_success", False)),
                        reason=str(reason),
                        terms=dict(track.terms),
                        metrics={k: float(v) for k, v in info.get("task_metrics", {}).items()},
                    )
                )
                seed = self._new_seed()
                obs, _ = env.reset(seed=seed)
                self.tracks[i] = _Track(seed)
            self.obs[i] = np.ravel(obs)
        return self.obs.copy(), rewards, terminated, truncated, final_obs

    def drain(self) -> list[Episode]:
        """Episodes finished since the last call."""
        out, self.finished = self.finished, []
        return out

    # ------------------------------------------------------------------ resume
    def state_dict(self) -> dict[str, Any]:
        """Everything needed to rebuild every env exactly where it is now."""
        if not self.record_actions:
            raise RuntimeError("VecEnv(record_actions=False) cannot be checkpointed")
        return {
            "seed_rng": self.seed_rng.bit_generator.state,
            "nonfinite_rewards": self.nonfinite_rewards,
            "obs": self.obs.copy(),
            "tracks": [
                {
                    "seed": t.seed,
                    "ret": t.ret,
                    "length": t.length,
                    "terms": dict(t.terms),
                    "actions": np.array(t.actions, np.float64).reshape(-1, self.act_size),
                }
                for t in self.tracks
            ],
        }

    def load_state_dict(self, state: dict[str, Any]) -> np.ndarray:
        """Rebuild every env mid-episode: reset with its episode seed and replay its actions.

        Returns:
            The current observations.

        Raises:
            RuntimeError: when the replayed observations differ from the recorded ones, i.e.
                the env is not deterministic given its seed and actions.
        """
        if len(state["tracks"]) != self.num_envs:
            raise ValueError(
                f"checkpoint has {len(state['tracks'])} envs, this run has {self.num_envs}; "
                "resume with the num_envs the run was started with"
            )
        self.seed_rng.bit_generator.state = state["seed_rng"]
        self.nonfinite_rewards = int(state["nonfinite_rewards"])
        self.tracks = []
        for i, (env, rec) in enumerate(zip(self.envs, state["tracks"], strict=True)):
            obs, _ = env.reset(seed=int(rec["seed"]))
            for a in rec["actions"]:
                obs = env.step(a)[0]
            self.obs[i] = np.ravel(obs)
            track = _Track(int(rec["seed"]))
            track.ret, track.length, track.terms = rec["ret"], rec["length"], dict(rec["terms"])
            track.actions = [a.copy() for a in rec["actions"]]
            self.tracks.append(track)
        if not np.allclose(self.obs, state["obs"], rtol=0.0, atol=1e-9):
            raise RuntimeError(
                "replaying the checkpoint's episodes did not reproduce the recorded observations; "
                "the env is not deterministic given (seed, actions), so exact resume is impossible"
            )
        self.finished = []
        return self.obs.copy()

    def close(self) -> None:
        """Close every env."""
        for env in self.envs:
            env.close()
