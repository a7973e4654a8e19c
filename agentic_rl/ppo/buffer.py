"""Preallocated numpy rollout storage and minibatch iteration."""

from __future__ import annotations

from collections.abc import Iterator
from typing import NamedTuple

import numpy as np
import torch

from agentic_rl.ppo.gae import compute_gae


class Minibatch(NamedTuple):
    """One minibatch of flattened rollout samples as float32 torch tensors."""

    obs: torch.Tensor
    actions: torch.Tensor
    logprobs: torch.Tensor
    advantages: torch.Tensor
    returns: torch.Tensor
    values: torch.Tensor


class RolloutBuffer:
    """Fixed-size (steps, envs) storage filled by the rollout, read by the update.

    Args:
        num_steps: steps per env per rollout.
        num_envs: parallel envs.
        obs_size: length of a (normalized) observation.
        act_size: length of an action.
    """

    def __init__(self, num_steps: int, num_envs: int, obs_size: int, act_size: int) -> None:
        shape = (num_steps, num_envs)
        self.obs = np.zeros((*shape, obs_size), np.float32)
        self.actions = np.zeros((*shape, act_size), np.float32)
        self.logprobs = np.zeros(shape, np.float32)
        self.rewards = np.zeros(shape, np.float64)
        self.dones = np.zeros(shape, bool)
        self.values = np.zeros(shape, np.float64)
        self.advantages = np.zeros(shape, np.float64)
        self.returns = np.zeros(shape, np.float64)

    def compute_returns(self, last_values: np.ndarray, gamma: float, gae_lambda: float) -> None:
        """Fill ``advantages`` and ``returns`` with GAE."""
        self.advantages, self.returns = compute_gae(
            self.rewards, self.values, self.dones, last_values, gamma, gae_lambda
        )

    def flat_arrays(self) -> tuple[np.ndarray, ...]:
        """The rollout flattened to (steps*envs, ...) float32 arrays, in the order the update's
        loss takes them: obs, actions, log-probabilities, advantages, returns, values."""
        n = self.rewards.size
        return (
            self.obs.reshape(n, -1),
            self.actions.reshape(n, -1),
            self.logprobs.reshape(n),
            self.advantages.reshape(n).astype(np.float32),
            self.returns.reshape(n).astype(np.float32),
            self.values.reshape(n).astype(np.float32),
        )

    def as_tensors(self) -> Minibatch:
        """The whole rollout, flattened to (steps*envs, ...) float32 tensors (no copies of obs)."""
        return Minibatch(*(torch.from_numpy(a) for a in self.flat_arrays()))


def iterate_minibatches(
    batch: Minibatch, num_minibatches: int, rng: np.random.Generator
) -> Iterator[Minibatch]:
    """Yield ``batch`` in ``num_minibatches`` shuffled, equal-size minibatches."""
    n = batch.obs.shape[0]
    size = n // num_minibatches
    order = torch.from_numpy(rng.permutation(n))
    for start in range(0, size * num_minibatches, size):
        idx = order[start : start + size]
        yield Minibatch(*(t[idx] for t in batch))
