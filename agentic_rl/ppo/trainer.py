"""PPO for continuous control, CleanRL style: readable top to bottom, fast on one CPU core.

Reading order: :class:`PPO` holds the state (envs, networks, optimizer, normalizers, RNGs);
:meth:`PPO.collect_rollout` steps the envs with a numpy copy of the networks;
:meth:`PPO.update` runs the clipped-surrogate epochs in torch; :func:`train` is the plain,
picklable entry point that adds the run folder, logs, checkpoints, resume and evaluation.

Implementation details (Huang et al., "The 37 implementation details of PPO"): orthogonal init,
Adam eps 1e-5, linear LR anneal, GAE, per-minibatch advantage normalization, clipped
surrogate, optional value clipping, global grad-norm clip, separate actor/critic MLPs,
state-independent log-std, unclipped actions stored, observation normalization, reward
scaling by the return's std (mandatory), value bootstrap on time-limit truncation, optional
target-KL early stop.
"""

from __future__ import annotations

import json
import platform
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch
from threadpoolctl import threadpool_limits

from agentic_rl.ppo.buffer import RolloutBuffer
from agentic_rl.ppo.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from agentic_rl.ppo.config import PPOConfig
from agentic_rl.ppo.envs import (
    RewardArg,
    canonical_task_id,
    describe_reward,
    env_factory,
    load_reward,
)
from agentic_rl.ppo.evaluate import EvalResult, evaluate
from agentic_rl.ppo.fused import FlatAdam, FlatParams, FusedPPOLoss, clip_grad_norm
from agentic_rl.ppo.logger import Logger, progress_bar
from agentic_rl.ppo.networks import ActorCritic, Policy
from agentic_rl.ppo.normalize import ObsNormalizer, RewardScaler
from agentic_rl.ppo.vecenv import Episode, VecEnv

#: Finished episodes the ``rollout/*`` statistics average over (as SB3's ``stats_window_size``).
STATS_WINDOW = 100

#: Config fields that do not change a run's numbers, so they may differ on resume.
_COSMETIC_FIELDS = {"progress", "tensorboard", "checkpoint_every"}


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


@dataclass
class TrainResult:
    """Small, picklable summary of a training run (what a process pool sends back)."""

    task_id: str
    reward: str
    seed: int
    steps: int
    updates: int
    wall_time: float
    steps_per_second: float
    success_rate: float
    train_success_rate: float
    task_metrics: dict[str, float] = field(default_factory=dict)
    termination_reasons: dict[str, int] = field(default_factory=dict)
    nonfinite_counts: dict[str, int] = field(default_factory=dict)
    interrupted: bool = False
    out_dir: str = ""
    checkpoint: str = ""
    policy: str = ""
    csv: str = ""
    config: str = ""
    eval: dict[str, Any] | None = None


def _versions() -> dict[str, str]:
    import gymnasium
    import pybullet

    return {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "torch": torch.__version__,
        "gymnasium": gymnasium.__version__,
        "pybullet": str(getattr(pybullet, "__version__", "unknown")),
    }


def _jsonable(randomize: Any) -> Any:
    """The ``randomize`` argument as JSON data (bool, or {param: [low, high]})."""
    if randomize is None or isinstance(randomize, bool):
        return bool(randomize)
    return {str(k): [float(v) for v in rng] for k, rng in dict(randomize).items()}


def _check_resume_config(saved: dict[str, Any], config: PPOConfig, path: Path) -> None:
    mine = config.model_dump(mode="json")
    diff = sorted(
        k
        for k in mine
        if k not in _COSMETIC_FIELDS and json.dumps(mine[k]) != json.dumps(saved.get(k))
    )
    if diff:
        changes = ", ".join(f"{k}: {saved.get(k)!r} -> {mine[k]!r}" for k in diff)
        raise CheckpointError(
            f"cannot resume {path} with a different config ({changes}); an exact resume needs "
            "the config the run was started with (see its config.json)"
        )


def train(
    config: PPOConfig,
    task_id: str,
    reward: RewardArg = None,
    out_dir: str | Path | None = None,
    *,
    randomize: Any = False,
    resume: bool | str | Path = False,
    overwrite: bool = False,
    callback: Callable[[PPO, dict[str, float]], bool | None] | None = None,
) -> TrainResult:
    """Train a PPO policy on a task and evaluate it; a plain function for process pools.

    Writes to ``out_dir``: ``config.json`` (resolved config, task, reward, versions),
    ``train.csv`` and ``tb/`` (logs), ``checkpoint.pt`` (every ``checkpoint_every`` updates and
    at the end), ``policy.npz`` (the deterministic policy with observation statistics) and
    ``eval.json`` (the final evaluation).

    Args:
        config: hyperparameters (see :func:`agentic_rl.ppo.config.make_config` for presets).
        task_id: task name, e.g. ``"DroneHover"``.
        reward: ``None``/``"sparse"``, ``"reference"``, a reward-program path or a callable.
        out_dir: run folder; default ``runs/train/<task>/<timestamp>``.
        randomize: domain randomization for training envs (evaluation uses nominal physics).
        resume: ``True`` to continue from ``out_dir/checkpoint.pt``, or a checkpoint path.
            The run continues to exactly the result an uninterrupted run would reach.
        overwrite: start afresh in an ``out_dir`` that already holds a run (its outputs are
            replaced); without it such a folder is refused, so no run is clobbered by mistake.
        callback: called after every update with the trainer and the logged row; returning
            ``False`` stops training early (the result is then marked ``interrupted``).

    Returns:
        A :class:`TrainResult`.
    """
    task_id = canonical_task_id(task_id)
    if out_dir is None:
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        out_dir = Path("runs") / "train" / task_id.split("/")[-1] / stamp
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if not resume and (out / "checkpoint.pt").exists():
        if not overwrite:
            raise FileExistsError(
                f"{out} already holds a run; pass resume=True (--resume) to continue it, "
                "overwrite=True (--overwrite) to replace it, or choose another folder"
            )
        for name in ("checkpoint.pt", "train.csv", "policy.npz", "eval.json"):
            (out / name).unlink(missing_ok=True)
        for events in (out / "tb").glob("events.out.tfevents.*"):
            events.unlink()
    state = None
    if resume:
        ckpt = out / "checkpoint.pt" if resume is True else Path(resume)
        state = load_checkpoint(ckpt)
        _check_resume_config(state["config"], config, ckpt)
        if state["task_id"] != task_id:
            raise CheckpointError(f"{ckpt} is a {state['task_id']} run, not {task_id}")
        for what, saved, now in (
            ("reward", state.get("reward"), describe_reward(reward)),
            ("randomize", state.get("randomize"), _jsonable(randomize)),
        ):
            if json.dumps(saved) != json.dumps(now):
                raise CheckpointError(
                    f"{ckpt} was trained with {what}={saved!r}, not {now!r}; resume with the "
                    f"same {what} (see its config.json)"
                )
    reward_fn = load_reward(task_id, reward)
    trainer = PPO(config, task_id, reward_fn, randomize)
    if state is not None:
        try:
            trainer.load_state_dict(state)
        except Exception:
            trainer.close()  # release the physics clients before reporting the failure
            raise
    config_path = out / "config.json"
    config_path.write_text(
        json.dumps(
            {
                "ppo": config.model_dump(mode="json"),
                "task_id": task_id,
                "reward": describe_reward(reward),
                "randomize": _jsonable(randomize),
                "versions": _versions(),
            },
            indent=2,
        )
    )
    logger = Logger(
        out, config.tensorboard, resume_step=None if state is None else trainer.global_step
    )
    ckpt_path = out / "checkpoint.pt"
    wall_before = float(state["wall_time"]) if state is not None else 0.0
    # CPU seconds of this process: on a shared machine this, not wall time, is what a run
    # would take on a core of its own.
    cpu_before = float(state.get("cpu_time", 0.0)) if state is not None else 0.0

    def save() -> None:
        extra = {
            "wall_time": wall_before + (time.perf_counter() - start),
            "cpu_time": cpu_before + (time.process_time() - cpu_start),
            "action_low": trainer.venv.action_low,
            "action_high": trainer.venv.action_high,
            "reward": describe_reward(reward),
            "randomize": _jsonable(randomize),
        }
        save_checkpoint(ckpt_path, {**trainer.state_dict(), **extra})

    start = time.perf_counter()
    cpu_start = time.process_time()
    start_step = trainer.global_step
    interrupted = False
    try:
        with progress_bar(disable=not config.progress) as bar:
            task = bar.add_task(
                task_id.split("/")[-1],
                total=config.num_updates * config.batch_size,
                completed=trainer.global_step,
                sps=0.0,
                success="-",
            )
            while trainer.update_idx < config.num_updates:
                t0 = time.perf_counter()
                trainer.collect_rollout()
                t1 = time.perf_counter()
                for key, value in trainer.update().items():
                    logger.record(key, value)
                t2 = time.perf_counter()
                elapsed = t2 - start
                sps = (trainer.global_step - start_step) / max(elapsed, 1e-9)
                rollout = trainer.rollout_stats()
                for key, value in rollout.items():
                    logger.record(key, value)
                logger.record("time/fps", sps)
                logger.record("time/rollout_s", t1 - t0)
                logger.record("time/update_s", t2 - t1)
                logger.record("time/wall_s", wall_before + elapsed)
                logger.record("time/cpu_s", cpu_before + time.process_time() - cpu_start)
                logger.record("time/updates", trainer.update_idx)
                row = logger.dump(trainer.global_step)
                success = rollout.get("rollout/success_rate")
                bar.update(
                    task,
                    completed=trainer.global_step,
                    sps=sps,
                    success="-" if success is None else f"{success:.0%}",
                )
                last = trainer.update_idx == config.num_updates
                if last or trainer.update_idx % config.checkpoint_every == 0:
                    save()
                if callback is not None and callback(trainer, row) is False:
                    interrupted = not last
                    if interrupted:
                        save()
                    break
        wall = wall_before + (time.perf_counter() - start)
        policy = trainer.policy()
        policy_path = policy.save(out / "policy.npz")
        train_success = float(trainer.rollout_stats().get("rollout/success_rate", 0.0))
        evaluation: EvalResult | None = None
        if config.eval_episodes > 0 and not interrupted:
            seeds = range(config.eval_seed, config.eval_seed + config.eval_episodes)
            evaluation = evaluate(policy, task_id, seeds=seeds)
            (out / "eval.json").write_text(json.dumps(evaluation.to_dict(), indent=2))
        return TrainResult(
            task_id=task_id,
            reward=describe_reward(reward),
            seed=config.seed,
            steps=trainer.global_step,
            updates=trainer.update_idx,
            wall_time=wall,
            steps_per_second=(trainer.global_step - start_step) / max(wall - wall_before, 1e-9),
            success_rate=evaluation.success_rate if evaluation else float("nan"),
            train_success_rate=train_success,
            task_metrics=evaluation.mean_metrics() if evaluation else {},
            termination_reasons=evaluation.termination_reasons if evaluation else {},
            nonfinite_counts=nonfinite_counts(reward_fn),
            interrupted=interrupted,
            out_dir=str(out),
            checkpoint=str(ckpt_path),
            policy=str(policy_path),
            csv=str(logger.path),
            config=str(config_path),
            eval=evaluation.to_dict() if evaluation else None,
        )
    finally:
        logger.close()
        trainer.close()
