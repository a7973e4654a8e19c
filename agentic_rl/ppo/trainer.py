"""PPO for continuous control, CleanRL style: readable top to bottom, fast on one CPU core.

Reading order: :class:`PPO` holds the state (envs, networks, optimizer, normalizers, RNGs);
:meth:`PPO.collect_rollout` steps the envs with a numpy copy of the networks;
:meth:`PPO.update` runs the clipped-surrogate epochs on hand-derived gradients
(:mod:`agentic_rl.ppo.fused`); :func:`agentic_rl.ppo.run.train` is the plain, picklable entry
point that adds the run folder, logs, checkpoints, resume and evaluation.

Implementation details (Huang et al., "The 37 implementation details of PPO"): orthogonal init,
Adam eps 1e-5, linear LR anneal, GAE, per-minibatch advantage normalization, clipped
surrogate, optional value clipping, global grad-norm clip, separate actor/critic MLPs,
state-independent log-std, unclipped actions stored, observation normalization, reward
scaling by the return's std (mandatory), value bootstrap on time-limit truncation, optional
target-KL early stop.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch
from threadpoolctl import threadpool_limits

from agentic_rl.ppo.buffer import RolloutBuffer
from agentic_rl.ppo.checkpoint import CheckpointError, load_checkpoint
from agentic_rl.ppo.config import PPOConfig
from agentic_rl.ppo.envs import (
    env_factory,
    recorded_task_path,
)
from agentic_rl.ppo.fused import FlatAdam, FlatParams, FusedPPOLoss, clip_grad_norm
from agentic_rl.ppo.networks import ActorCritic, Policy
from agentic_rl.ppo.normalize import ObsNormalizer, RewardScaler
from agentic_rl.ppo.vecenv import Episode, VecEnv

#: Finished episodes the ``rollout/*`` statistics average over (as SB3's ``stats_window_size``).
STATS_WINDOW = 100


class PPO:
    """The state of one PPO run and its two phases, rollout and update.

    Args:
        config: hyperparameters.
        task_id: the task (canonicalized by the caller or here).
        reward_fn: reward callable handed to every env (``None``: the task's sparse reward).
        randomize: domain randomization argument handed to every env.
    """

    def __init__(
        self,
        config: PPOConfig,
        task_id: str,
        reward_fn: Callable[..., Any] | None = None,
        randomize: Any = False,
    ) -> None:
        # One thread: the update's matrices are small, so extra threads only add sync costs,
        # and the loop runs several trainers side by side, one per core.
        torch.set_num_threads(1)
        # The same for numpy's BLAS (rollout forward passes and the fused update): with more
        # threads OpenBLAS spin-waits, and a 128x64 matmul costs ~70x more CPU on a busy core.
        threadpool_limits(1, user_api="blas")
        torch.manual_seed(config.seed)
        self.config = config
        self.task_id = task_id
        self.reward_fn = reward_fn
        self.rng = np.random.default_rng(config.seed)
        make = env_factory(task_id, reward_fn=reward_fn, randomize=randomize)
        self.venv = VecEnv([make] * config.num_envs, seed=config.seed)
        obs_size, act_size = self.venv.obs_size, self.venv.act_size
        self.model = ActorCritic(
            obs_size, act_size, config.hidden_sizes, config.activation, config.init_log_std
        )
        # The update runs on hand-derived gradients over one flat buffer (see fused.py); the
        # module's parameters are views into it, so checkpoints and export see every step.
        self.flat = FlatParams(self.model)
        self.optimizer = FlatAdam(self.flat, config.learning_rate, config.adam_eps)
        self.loss = FusedPPOLoss(
            self.model,
            self.flat,
            config.clip_coef,
            config.ent_coef,
            config.vf_coef,
            config.clip_vloss,
            config.norm_adv,
            bounds=(self.venv.action_low, self.venv.action_high, config.bounds_coef),
        )
        self.obs_norm = ObsNormalizer(obs_size, config.clip_obs, enabled=config.norm_obs)
        self.reward_scaler = RewardScaler(config.num_envs, config.gamma, config.clip_reward)
        self.buffer = RolloutBuffer(config.num_steps, config.num_envs, obs_size, act_size)
        self.global_step = 0
        self.update_idx = 0
        self.episodes: deque[Episode] = deque(maxlen=STATS_WINDOW)
        self.episodes_total = 0
        self.next_obs = self.venv.reset()
        self.obs_norm(self.next_obs, update=True)

    # ------------------------------------------------------------------ rollout
    def collect_rollout(self) -> list[Episode]:
        """Fill the buffer with ``num_steps`` steps of every env; returns finished episodes."""
        cfg, buf = self.config, self.buffer
        net = self.model.numpy()
        obs = self.obs_norm(self.next_obs)
        for t in range(cfg.num_steps):
            actions, logprobs, values = net.act(obs, self.rng)
            buf.obs[t] = obs
            buf.actions[t] = actions
            buf.logprobs[t] = logprobs
            buf.values[t] = values
            raw_next, rewards, terminated, truncated, final_obs = self.venv.step(actions)
            dones = terminated | truncated
            rewards = self.reward_scaler(rewards, dones)
            for i, last in final_obs.items():
                # A time limit is not a failure: the episode could have gone on, so bootstrap
                # with the value of the state it was cut in. Terminations get no bootstrap.
                if truncated[i] and not terminated[i]:
                    rewards[i] += cfg.gamma * net.value(self.obs_norm(last[None]))[0]
            buf.rewards[t] = rewards
            buf.dones[t] = dones
            self.next_obs = raw_next
            obs = self.obs_norm(raw_next, update=True)
        self.global_step += cfg.batch_size
        buf.compute_returns(net.value(obs), cfg.gamma, cfg.gae_lambda)
        finished = self.venv.drain()
        self.episodes.extend(finished)
        self.episodes_total += len(finished)
        return finished

    # ------------------------------------------------------------------ update
    def learning_rate(self) -> float:
        """Learning rate of the current update (linear anneal to 0 over the run)."""
        cfg = self.config
        if not cfg.anneal_lr:
            return cfg.learning_rate
        return cfg.learning_rate * (1.0 - self.update_idx / cfg.num_updates)

    def update(self) -> dict[str, float]:
        """Run the PPO epochs on the buffer; returns ``train/*`` statistics."""
        cfg = self.config
        lr = self.learning_rate()
        self.optimizer.lr = lr
        loss, flat, optimizer = self.loss, self.flat, self.optimizer
        data = self.buffer.flat_arrays()
        n = data[0].shape[0]
        size = n // cfg.num_minibatches
        stats = np.zeros((cfg.update_epochs * cfg.num_minibatches, 6))
        row = 0
        epochs_run = 0
        for _ in range(cfg.update_epochs):
            epochs_run += 1
            # One gather per array and epoch; minibatches are then contiguous slices.
            order = self.rng.permutation(n)
            shuffled = [a[order] for a in data]
            for start in range(0, size * cfg.num_minibatches, size):
                stats[row] = loss(*(a[start : start + size] for a in shuffled))
                row += 1
                clip_grad_norm(flat.grad, cfg.max_grad_norm)
                optimizer.step()
            if (
                cfg.target_kl is not None
                and stats[row - cfg.num_minibatches : row, 3].mean() > cfg.target_kl
            ):
                break
        stats = stats[:row]
        last = stats[row - cfg.num_minibatches : row]
        self.update_idx += 1
        returns, values = self.buffer.returns.ravel(), self.buffer.values.ravel()
        var = np.var(returns)
        explained = float("nan") if var == 0 else float(1.0 - np.var(returns - values) / var)
        return {
            "train/policy_loss": float(stats[:, 0].mean()),
            "train/value_loss": float(stats[:, 1].mean()),
            "train/entropy": float(stats[:, 2].mean()),
            "train/approx_kl": float(last[:, 3].mean()),
            "train/old_approx_kl": float(last[:, 4].mean()),
            "train/clip_fraction": float(stats[:, 5].mean()),
            "train/explained_variance": explained,
            "train/learning_rate": lr,
            "train/std": float(self.model.log_std.detach().exp().mean()),
            "train/epochs": float(epochs_run),
            "train/reward_scale": self.reward_scaler.scale,
        }

    # ------------------------------------------------------------------ stats and policy
    def rollout_stats(self) -> dict[str, float]:
        """``rollout/*``, ``reward/*`` and ``metrics/*`` over the last finished episodes."""
        eps = list(self.episodes)
        if not eps:
            return {}
        out = {
            "rollout/ep_return_mean": float(np.mean([e.ret for e in eps])),
            "rollout/ep_len_mean": float(np.mean([e.length for e in eps])),
            "rollout/success_rate": float(np.mean([e.success for e in eps])),
            "rollout/episodes": float(self.episodes_total),
        }
        for key in sorted({k for e in eps for k in e.terms}):
            out[f"reward/{key}"] = float(np.mean([e.terms.get(key, 0.0) for e in eps]))
        for key in sorted({k for e in eps for k in e.metrics}):
            out[f"metrics/{key}"] = float(
                np.mean([e.metrics[key] for e in eps if key in e.metrics])
            )
        for reason in sorted({e.reason for e in eps}):
            out[f"rollout/end_{reason}"] = float(np.mean([e.reason == reason for e in eps]))
        for term, count in nonfinite_counts(self.reward_fn).items():
            out[f"reward/nonfinite/{term}"] = float(count)
        out["reward/nonfinite_total"] = float(self.venv.nonfinite_rewards)
        return out

    def policy(self) -> Policy:
        """The current deterministic policy with its observation statistics (for export)."""
        from agentic_rl.ppo.networks import linear_params

        return Policy(
            linear_params(self.model.actor),
            self.model.activation,
            self.obs_norm.rms.mean if self.obs_norm.enabled else np.zeros(self.venv.obs_size),
            self.obs_norm.std if self.obs_norm.enabled else np.ones(self.venv.obs_size),
            self.obs_norm.clip if self.obs_norm.enabled else np.inf,
            self.venv.action_low,
            self.venv.action_high,
        )

    # ------------------------------------------------------------------ checkpoints
    def state_dict(self) -> dict[str, Any]:
        """Everything :meth:`load_state_dict` needs to continue exactly from here."""
        return {
            "config": self.config.model_dump(mode="json"),
            "task_id": self.task_id,
            "task_path": recorded_task_path(self.task_id),
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "obs_norm": self.obs_norm.state_dict(),
            "reward_scaler": self.reward_scaler.state_dict(),
            "rng": self.rng.bit_generator.state,
            "torch_rng": torch.get_rng_state(),
            "venv": self.venv.state_dict(),
            "next_obs": self.next_obs.copy(),
            "global_step": self.global_step,
            "update_idx": self.update_idx,
            "episodes": [asdict(e) for e in self.episodes],
            "episodes_total": self.episodes_total,
            "nonfinite_counts": nonfinite_counts(self.reward_fn),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a state written by :meth:`state_dict` (envs are rebuilt by replay)."""
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.obs_norm.load_state_dict(state["obs_norm"])
        self.reward_scaler.load_state_dict(state["reward_scaler"])
        self.rng.bit_generator.state = state["rng"]
        torch.set_rng_state(state["torch_rng"])
        self.next_obs = self.venv.load_state_dict(state["venv"])
        self.global_step = int(state["global_step"])
        self.update_idx = int(state["update_idx"])
        self.episodes = deque((Episode(**e) for e in state["episodes"]), maxlen=STATS_WINDOW)
        self.episodes_total = int(state["episodes_total"])
        counts = getattr(self.reward_fn, "nonfinite_counts", None)
        if isinstance(counts, dict):
            # Replay re-counted the current episodes' steps; the checkpoint's totals are right.
            counts.clear()
            counts.update(state["nonfinite_counts"])

    def warm_start(self, state: dict[str, Any]) -> None:
        """Continue from another run's policy under this run's reward (a warm start).

        Loads the actor, critic and observation normalizer of a checkpoint written by
        :meth:`state_dict`. The optimizer, reward scaling, counters and RNGs stay fresh: the
        reward is new, so its scale must be learned again and the learning-rate schedule
        starts over for this run's own budget.

        Raises:
            CheckpointError: if the checkpoint's networks do not fit this run's.
        """
        mine = self.model.state_dict()
        theirs = state["model"]
        if set(mine) != set(theirs) or any(mine[k].shape != theirs[k].shape for k in mine):
            raise CheckpointError(
                "cannot warm-start: the parent checkpoint's networks have other shapes "
                "(different task, observation size or hidden_sizes)"
            )
        self.model.load_state_dict(theirs)  # copies in place: the flat buffer sees it
        self.obs_norm.load_state_dict(state["obs_norm"])

    def close(self) -> None:
        self.venv.close()


def nonfinite_counts(reward_fn: Any) -> dict[str, int]:
    """The reward callable's per-term count of NaN/inf values it replaced, if it keeps one."""
    counts = getattr(reward_fn, "nonfinite_counts", None)
    return {str(k): int(v) for k, v in counts.items()} if isinstance(counts, dict) else {}


def policy_from_checkpoint(path: str | Path) -> Policy:
    """The deterministic :class:`Policy` stored in a checkpoint (file or run folder)."""
    state = load_checkpoint(path)
    cfg = PPOConfig(**state["config"])
    model = ActorCritic(
        len(state["obs_norm"]["rms"]["mean"]),
        int(state["model"]["log_std"].numel()),
        cfg.hidden_sizes,
        cfg.activation,
    )
    model.load_state_dict(state["model"])
    obs_norm = ObsNormalizer(len(state["obs_norm"]["rms"]["mean"]))
    obs_norm.load_state_dict(state["obs_norm"])
    from agentic_rl.ppo.networks import linear_params

    size = obs_norm.rms.mean.size
    return Policy(
        linear_params(model.actor),
        cfg.activation,
        obs_norm.rms.mean if obs_norm.enabled else np.zeros(size),
        obs_norm.std if obs_norm.enabled else np.ones(size),
        obs_norm.clip if obs_norm.enabled else np.inf,
        np.asarray(state["action_low"]),
        np.asarray(state["action_high"]),
    )
