"""Generalized Advantage Estimation (Schulman et al., 2016), numpy."""

from __future__ import annotations

import numpy as np


def compute_gae(
    rewards: np.ndarray,
    values: np.ndarray,
    dones: np.ndarray,
    last_values: np.ndarray,
    gamma: float,
    gae_lambda: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Advantages and value targets for a rollout of shape (steps, envs).

    Conventions: ``dones[t]`` is True when the episode ended *at* step ``t`` (terminated or
    truncated), so no value flows back across it. A time-limit truncation is not a real end:
    the caller bootstraps it by adding ``gamma * V(final_obs)`` to ``rewards[t]`` before calling
    (the same approach as SB3), which keeps this recursion simple and exact.

    Args:
        rewards: rewards, (T, N).
        values: value estimates of the observations the actions were taken in, (T, N).
        dones: episode-ended flags, (T, N).
        last_values: values of the observations after the last step, (N,).
        gamma: discount factor.
        gae_lambda: GAE lambda (1 gives Monte-Carlo returns, 0 one-step TD).

    Returns:
        ``(advantages, returns)``, each (T, N), with ``returns = advantages + values``.
    """
    steps = rewards.shape[0]
    advantages = np.zeros_like(rewards, dtype=np.float64)
    last_gae = np.zeros(rewards.shape[1:], np.float64)
    not_done = 1.0 - dones.astype(np.float64)
    for t in reversed(range(steps)):
        next_values = last_values if t == steps - 1 else values[t + 1]
        delta = rewards[t] + gamma * next_values * not_done[t] - values[t]
        last_gae = delta + gamma * gae_lambda * not_done[t] * last_gae
        advantages[t] = last_gae
    return advantages, advantages + values
