"""Actor and critic MLPs (torch, for the update) and their numpy twins (for rollouts and export).

The actor is a plain MLP that outputs the action mean, with a state-independent log-std
parameter; the critic is a separate MLP (no shared trunk, so value-loss gradients never disturb
the policy features). Rollouts run the numpy copy: for 64-unit layers and a handful of envs a
numpy forward pass takes microseconds, while a torch call costs tens of microseconds of
dispatch overhead, which at thousands of steps per second is a large share of the run.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

LOG_2PI = math.log(2.0 * math.pi)

_ACTIVATIONS: dict[str, type[nn.Module]] = {"tanh": nn.Tanh, "relu": nn.ReLU}


def _layer(n_in: int, n_out: int, gain: float) -> nn.Linear:
    # Orthogonal init with zero bias: the CleanRL/openai-baselines setting PPO was tuned with.
    layer = nn.Linear(n_in, n_out)
    nn.init.orthogonal_(layer.weight, gain)
    nn.init.zeros_(layer.bias)
    return layer


def mlp(
    n_in: int, hidden: Sequence[int], n_out: int, activation: str, out_gain: float
) -> nn.Sequential:
    """An MLP with orthogonal init: sqrt(2) gain on hidden layers, ``out_gain`` on the output."""
    act = _ACTIVATIONS[activation]
    layers: list[nn.Module] = []
    for h in hidden:
        layers += [_layer(n_in, h, math.sqrt(2.0)), act()]
        n_in = h
    layers.append(_layer(n_in, n_out, out_gain))
    return nn.Sequential(*layers)


class ActorCritic(nn.Module):
    """Gaussian policy with separate actor and critic MLPs and a state-independent log-std.

    Args:
        obs_size: length of the (normalized) observation.
        act_size: length of the action.
        hidden_sizes: hidden layer widths, the same for actor and critic.
        activation: ``"tanh"`` or ``"relu"``.
        init_log_std: initial log standard deviation of every action component.
    """

    def __init__(
        self,
        obs_size: int,
        act_size: int,
        hidden_sizes: Sequence[int] = (64, 64),
        activation: str = "tanh",
        init_log_std: float = 0.0,
    ) -> None:
        super().__init__()
        if activation not in _ACTIVATIONS:
            raise ValueError(
                f"activation must be one of {sorted(_ACTIVATIONS)}, got {activation!r}"
            )
        self.activation = activation
        # Output gains 0.01 (actor: near-zero initial means, so early actions are pure
        # exploration noise) and 1.0 (critic), as in CleanRL's ppo_continuous_action.
        self.actor = mlp(obs_size, hidden_sizes, act_size, activation, 0.01)
        self.critic = mlp(obs_size, hidden_sizes, 1, activation, 1.0)
        self.log_std = nn.Parameter(torch.full((act_size,), float(init_log_std)))

    def value(self, obs: torch.Tensor) -> torch.Tensor:
        """State values, shape (batch,)."""
        return self.critic(obs).squeeze(-1)

    def evaluate_actions(
        self, obs: torch.Tensor, actions: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Log-probabilities of ``actions``, entropies and values, each of shape (batch,)."""
        mean = self.actor(obs)
        log_std = self.log_std.expand_as(mean)
        # Diagonal Gaussian written out (not torch.distributions) so it matches the numpy
        # rollout formula term for term; the ratio on the first minibatch is then exactly 1.
        logprob = (-0.5 * ((actions - mean) / log_std.exp()) ** 2 - log_std - 0.5 * LOG_2PI).sum(-1)
        entropy = (0.5 + 0.5 * LOG_2PI + log_std).sum(-1)
        return logprob, entropy, self.value(obs)

    def numpy(self) -> NumpyActorCritic:
        """A numpy copy of the current weights for rollouts."""
        return NumpyActorCritic(
            actor=linear_params(self.actor),
            critic=linear_params(self.critic),
            log_std=self.log_std.detach().numpy().astype(np.float64),
            activation=self.activation,
        )


def linear_params(net: nn.Sequential) -> list[tuple[np.ndarray, np.ndarray]]:
    """(W^T, b) of every Linear layer, float64, ready for ``x @ W + b``."""
    return [
        (m.weight.detach().numpy().T.astype(np.float64), m.bias.detach().numpy().astype(np.float64))
        for m in net
        if isinstance(m, nn.Linear)
    ]


def forward_numpy(
    params: list[tuple[np.ndarray, np.ndarray]], x: np.ndarray, activation: str
) -> np.ndarray:
    """Run an MLP given as (W^T, b) pairs on a batch ``x``."""
    act = np.tanh if activation == "tanh" else (lambda v: np.maximum(v, 0.0))
    for w, b in params[:-1]:
        x = act(x @ w + b)
    w, b = params[-1]
    return x @ w + b


class NumpyActorCritic:
    """Numpy snapshot of an :class:`ActorCritic`, used to act during rollouts."""

    def __init__(
        self,
        actor: list[tuple[np.ndarray, np.ndarray]],
        critic: list[tuple[np.ndarray, np.ndarray]],
        log_std: np.ndarray,
        activation: str,
    ) -> None:
        self.actor = actor
        self.critic = critic
        self.log_std = log_std
        self.std = np.exp(log_std)
        self.activation = activation
        self._logprob_const = -float(log_std.sum()) - 0.5 * LOG_2PI * log_std.size

    def act(
        self, obs: np.ndarray, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Sample actions for a batch of normalized observations.

        Returns:
            (actions, log-probabilities, values); actions are unclipped samples, which is what
            PPO must store (clipping before storing would bias the log-probability ratio).
        """
        mean = forward_numpy(self.actor, obs, self.activation)
        noise = rng.standard_normal(mean.shape)
        actions = mean + self.std * noise
        logprob = self._logprob_const - 0.5 * (noise**2).sum(-1)
        return actions, logprob, self.value(obs)

    def value(self, obs: np.ndarray) -> np.ndarray:
        """State values of a batch of normalized observations, shape (batch,)."""
        return forward_numpy(self.critic, obs, self.activation)[..., 0]


class Policy:
    """A deployable deterministic policy: observation normalizer + actor MLP + action clip.

    This is everything a robot needs (numpy only): ``act(obs)`` normalizes the raw observation
    with the training statistics, runs the actor and clips to the action bounds.

    Args:
        actor: (W^T, b) pairs of the actor MLP.
        activation: hidden activation name.
        obs_mean: observation mean used in training.
        obs_std: observation std used in training (already including epsilon).
        clip_obs: bound on normalized observations.
        action_low: lower action bound per component.
        action_high: upper action bound per component.
    """

    def __init__(
        self,
        actor: list[tuple[np.ndarray, np.ndarray]],
        activation: str,
        obs_mean: np.ndarray,
        obs_std: np.ndarray,
        clip_obs: float,
        action_low: np.ndarray,
        action_high: np.ndarray,
    ) -> None:
        self.actor = actor
        self.activation = activation
        self.obs_mean = np.asarray(obs_mean, np.float64)
        self.obs_std = np.asarray(obs_std, np.float64)
        self.clip_obs = float(clip_obs)
        self.action_low = np.asarray(action_low, np.float64)
        self.action_high = np.asarray(action_high, np.float64)

    def act(self, obs: np.ndarray) -> np.ndarray:
        """Deterministic action (the Gaussian mean) for one observation or a batch."""
        x = np.clip(
            (np.asarray(obs, np.float64) - self.obs_mean) / self.obs_std,
            -self.clip_obs,
            self.clip_obs,
        )
        return np.clip(
            forward_numpy(self.actor, x, self.activation), self.action_low, self.action_high
        )

    __call__ = act

    def to_arrays(self) -> dict[str, Any]:
        """Flat arrays for ``np.savez`` (``W0, b0, W1, ...`` with W as (in, out))."""
        out: dict[str, Any] = {
            "obs_mean": self.obs_mean,
            "obs_std": self.obs_std,
            "clip_obs": np.float64(self.clip_obs),
            "action_low": self.action_low,
            "action_high": self.action_high,
            "activation": np.array(self.activation),
        }
        for i, (w, b) in enumerate(self.actor):
            out[f"W{i}"] = w
            out[f"b{i}"] = b
        return out

    def save(self, path: str | Path) -> Path:
        """Write the policy as an ``.npz`` file (the numpy fallback of a PolicyBundle)."""
        path = Path(path)
        np.savez(path, **self.to_arrays())
        return path

    @classmethod
    def load(cls, path: str | Path) -> Policy:
        """Read a policy written by :meth:`save`."""
        with np.load(path) as data:
            n = sum(1 for k in data.files if k.startswith("W"))
            actor = [(data[f"W{i}"], data[f"b{i}"]) for i in range(n)]
            return cls(
                actor,
                str(data["activation"]),
                data["obs_mean"],
                data["obs_std"],
                float(data["clip_obs"]),
                data["action_low"],
                data["action_high"],
            )
