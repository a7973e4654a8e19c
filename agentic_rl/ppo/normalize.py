"""Running statistics for observation normalization and reward scaling (numpy, float64).

Both normalizers expose ``state_dict``/``load_state_dict`` so checkpoints restore them exactly,
and the observation statistics travel with the policy for export (ONNX, ROS).
"""

from __future__ import annotations

from typing import Any

import numpy as np


class RunningMeanStd:
    """Mean and variance of a stream of batches (Chan et al.'s parallel update).

    Args:
        shape: shape of one sample.
        epsilon: pseudo-count of the initial (mean 0, var 1) prior; keeps early estimates sane.
    """

    def __init__(self, shape: tuple[int, ...] = (), epsilon: float = 1e-4) -> None:
        self.mean = np.zeros(shape, np.float64)
        self.var = np.ones(shape, np.float64)
        self.count = float(epsilon)

    def update(self, batch: np.ndarray) -> None:
        """Fold a batch of samples (leading axis = samples) into the statistics."""
        batch = np.asarray(batch, np.float64)
        b_count = batch.shape[0]
        # np.mean/np.var's own arithmetic (sum / n; sum of squared deviations / n), without
        # their Python-level dispatch: this runs on every rollout step.
        b_mean = batch.sum(axis=0) / b_count
        dev = batch - b_mean
        dev *= dev
        b_var = dev.sum(axis=0) / b_count
        delta = b_mean - self.mean
        total = self.count + b_count
        self.mean = self.mean + delta * (b_count / total)
        m2 = self.var * self.count + b_var * b_count + delta**2 * (self.count * b_count / total)
        self.var = m2 / total
        self.count = total

    def state_dict(self) -> dict[str, Any]:
        return {"mean": self.mean.copy(), "var": self.var.copy(), "count": self.count}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.mean = np.array(state["mean"], np.float64)
        self.var = np.array(state["var"], np.float64)
        self.count = float(state["count"])


class ObsNormalizer:
    """``clip((obs - mean) / sqrt(var + eps), -clip, clip)`` with running statistics.

    Args:
        size: observation length.
        clip: bound on normalized values.
        enabled: when False, observations pass through unchanged (statistics still exist so
            exported bundles always carry a mean and std).
    """

    EPS = 1e-8

    def __init__(self, size: int, clip: float = 10.0, enabled: bool = True) -> None:
        self.rms = RunningMeanStd((size,))
        self.clip = float(clip)
        self.enabled = enabled

    def __call__(self, obs: np.ndarray, update: bool = False) -> np.ndarray:
        """Normalize ``obs`` (batch or single); ``update=True`` first folds it into the stats."""
        if not self.enabled:
            return np.asarray(obs, np.float64)
        if update:
            self.rms.update(np.atleast_2d(obs))
        return np.clip((obs - self.rms.mean) / self.std, -self.clip, self.clip)

    @property
    def std(self) -> np.ndarray:
        return np.sqrt(self.rms.var + self.EPS)

    def state_dict(self) -> dict[str, Any]:
        return {"rms": self.rms.state_dict(), "clip": self.clip, "enabled": self.enabled}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.rms.load_state_dict(state["rms"])
        self.clip = float(state["clip"])
        self.enabled = bool(state["enabled"])


class RewardScaler:
    """Divide rewards by the running std of the discounted return (as in ``NormalizeReward``).

    Reward programs written by a designer arrive at any scale (a term of 1e3 next to one of
    1e-3); scaling by the return's spread keeps value targets and advantages near unit size so
    one set of PPO hyperparameters works for every candidate. The mean is not subtracted:
    shifting rewards would change which behaviours are preferred when episodes end early.

    Args:
        num_envs: one running return per env.
        gamma: discount used for the running return.
        clip: bound on scaled rewards.
    """

    EPS = 1e-8

    def __init__(self, num_envs: int, gamma: float, clip: float = 10.0) -> None:
        self.rms = RunningMeanStd(())
        self.returns = np.zeros(num_envs, np.float64)
        self.gamma = float(gamma)
        self.clip = float(clip)

    def __call__(self, rewards: np.ndarray, dones: np.ndarray) -> np.ndarray:
        """Scale one step of rewards from every env; ``dones`` resets that env's return."""
        self.returns = self.returns * self.gamma + rewards
        self.rms.update(self.returns)
        scaled = np.clip(rewards / np.sqrt(self.rms.var + self.EPS), -self.clip, self.clip)
        self.returns[dones] = 0.0
        return scaled

    @property
    def scale(self) -> float:
        """The divisor currently applied to raw rewards."""
        return float(np.sqrt(self.rms.var + self.EPS))

    def state_dict(self) -> dict[str, Any]:
        return {"rms": self.rms.state_dict(), "returns": self.returns.copy()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.rms.load_state_dict(state["rms"])
        self.returns = np.array(state["returns"], np.float64)
