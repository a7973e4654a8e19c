"""`train()`: one PPO run in a run folder, as a sequence of named steps.

Reading order, as :func:`train` calls them: :func:`prepare_run_folder` (refuse or clear an
existing run), :func:`load_resume_state` (the checkpoint to continue, checked against this
run's config, reward and randomization), :func:`start_trainer` (a :class:`PPO`, restored or
warm-started), :func:`write_run_config` (``config.json``), :func:`run_updates` (the
rollout/update loop with logging, checkpoints and the callback) and :func:`finish_run`
(policy, final evaluation, :class:`TrainResult`). The algorithm itself is in
:mod:`agentic_rl.ppo.trainer`.
"""

from __future__ import annotations

import json
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch

from agentic_rl.ppo.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from agentic_rl.ppo.config import PPOConfig
from agentic_rl.ppo.envs import (
    RewardArg,
    canonical_task_id,
    describe_reward,
    load_reward,
    recorded_task_path,
)
from agentic_rl.ppo.evaluate import EvalResult, evaluate
from agentic_rl.ppo.guarded import needs_guard, train_guarded
from agentic_rl.ppo.logger import Logger, progress_bar
from agentic_rl.ppo.trainer import PPO, nonfinite_counts

#: Config fields that do not change a run's numbers, so they may differ on resume.
_COSMETIC_FIELDS = {"progress", "tensorboard", "checkpoint_every"}

#: Files a fresh run writes; ``overwrite`` removes them from an old run first.
_RUN_FILES = ("checkpoint.pt", "train.csv", "policy.npz", "eval.json")

Callback = Callable[[PPO, dict[str, float]], "bool | None"]


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
    #: CPU seconds of the training process (resumed runs include the earlier part).
    cpu_time: float = 0.0


@dataclass
class _Clock:
    """Wall and CPU time of a run, carried across resumes."""

    wall_before: float = 0.0
    cpu_before: float = 0.0
    start: float = field(default_factory=time.perf_counter)
    cpu_start: float = field(default_factory=time.process_time)

    def wall(self) -> float:
        return self.wall_before + time.perf_counter() - self.start

    def cpu(self) -> float:
        # CPU seconds of this process: on a shared machine this, not wall time, is what a
        # run would take on a core of its own.
        return self.cpu_before + time.process_time() - self.cpu_start


def _versions() -> dict[str, str]:
    from importlib import metadata

    import gymnasium

    try:  # from the package metadata: importing pybullet here would print its banner
        bullet = metadata.version("pybullet")
    except metadata.PackageNotFoundError:
        bullet = "unknown"
    return {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "torch": torch.__version__,
        "gymnasium": gymnasium.__version__,
        "pybullet": bullet,
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


# ---------------------------------------------------------------------- the steps of train()
def prepare_run_folder(
    out_dir: str | Path | None, task_id: str, resume: bool | str | Path, overwrite: bool
) -> Path:
    """Create the run folder (default ``runs/train/<task>/<timestamp>``).

    Raises:
        FileExistsError: when it already holds a run and neither ``resume`` nor
            ``overwrite`` is given (no run is clobbered by mistake).
    """
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
        for name in _RUN_FILES:
            (out / name).unlink(missing_ok=True)
        for events in (out / "tb").glob("events.out.tfevents.*"):
            events.unlink()
    return out


def load_resume_state(
    out: Path,
    resume: bool | str | Path,
    config: PPOConfig,
    task_id: str,
    reward: RewardArg,
    randomize: Any,
) -> dict[str, Any] | None:
    """The checkpoint to continue from (``None`` for a fresh run), checked to be this run's.

    Raises:
        CheckpointError: when the checkpoint is missing or was written with another config,
            task, reward or randomization (an exact resume needs the same ones).
    """
    if not resume:
        return None
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
    return state


def start_trainer(
    config: PPOConfig,
    task_id: str,
    reward_fn: Callable[..., Any] | None,
    randomize: Any,
    state: dict[str, Any] | None,
    init_from: str | Path | None,
) -> PPO:
    """A :class:`PPO` restored from ``state``, warm-started from ``init_from``, or fresh."""
    trainer = PPO(config, task_id, reward_fn, randomize)
    try:
        if state is not None:
            trainer.load_state_dict(state)
        elif init_from is not None:
            parent = load_checkpoint(init_from)
            if parent["task_id"] != task_id:
                raise CheckpointError(f"{init_from} is a {parent['task_id']} run, not {task_id}")
            trainer.warm_start(parent)
    except Exception:
        trainer.close()  # release the physics clients before reporting the failure
        raise
    return trainer


def write_run_config(
    out: Path,
    config: PPOConfig,
    task_id: str,
    reward: RewardArg,
    randomize: Any,
    init_from: str | Path | None,
) -> Path:
    """Write ``config.json``: everything needed to reproduce or resume the run."""
    path = out / "config.json"
    path.write_text(
        json.dumps(
            {
                "ppo": config.model_dump(mode="json"),
                "task_id": task_id,
                "task_path": recorded_task_path(task_id),
                "reward": describe_reward(reward),
                "randomize": _jsonable(randomize),
                "init_from": None if init_from is None else str(init_from),
                "versions": _versions(),
            },
            indent=2,
        )
    )
    return path


def save_run_checkpoint(
    trainer: PPO, path: Path, clock: _Clock, reward: RewardArg, randomize: Any
) -> None:
    """Write the trainer's full state plus what resume checks and export need."""
    extra = {
        "wall_time": clock.wall(),
        "cpu_time": clock.cpu(),
        "action_low": trainer.venv.action_low,
        "action_high": trainer.venv.action_high,
        "reward": describe_reward(reward),
        "randomize": _jsonable(randomize),
    }
    save_checkpoint(path, {**trainer.state_dict(), **extra})


def log_update(
    logger: Logger,
    trainer: PPO,
    train_stats: dict[str, float],
    clock: _Clock,
    sps: float,
    rollout_s: float,
    update_s: float,
) -> dict[str, float]:
    """Record one update's ``train/*``, ``rollout/*`` and ``time/*`` values; returns the row."""
    for key, value in train_stats.items():
        logger.record(key, value)
    for key, value in trainer.rollout_stats().items():
        logger.record(key, value)
    logger.record("time/fps", sps)
    logger.record("time/rollout_s", rollout_s)
    logger.record("time/update_s", update_s)
    logger.record("time/wall_s", clock.wall())
    logger.record("time/cpu_s", clock.cpu())
    logger.record("time/updates", trainer.update_idx)
    return logger.dump(trainer.global_step)


def run_updates(
    trainer: PPO,
    logger: Logger,
    clock: _Clock,
    save: Callable[[], None],
    callback: Callback | None,
) -> bool:
    """Alternate rollouts and updates until the budget is spent or the callback stops.

    Checkpoints every ``checkpoint_every`` updates, at the end and when stopped early.

    Returns:
        Whether the callback stopped the run before its budget was spent.
    """
    config = trainer.config
    start_step = trainer.global_step
    with progress_bar(disable=not config.progress) as bar:
        task = bar.add_task(
            trainer.task_id.split("/")[-1],
            total=config.num_updates * config.batch_size,
            completed=trainer.global_step,
            sps=0.0,
            success="-",
        )
        while trainer.update_idx < config.num_updates:
            t0 = time.perf_counter()
            trainer.collect_rollout()
            t1 = time.perf_counter()
            train_stats = trainer.update()
            t2 = time.perf_counter()
            sps = (trainer.global_step - start_step) / max(t2 - clock.start, 1e-9)
            row = log_update(logger, trainer, train_stats, clock, sps, t1 - t0, t2 - t1)
            success = row.get("rollout/success_rate")
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
                if not last:
                    save()
                return not last
    return False


def finish_run(
    trainer: PPO,
    out: Path,
    reward: RewardArg,
    clock: _Clock,
    start_step: int,
    interrupted: bool,
    paths: dict[str, str],
) -> TrainResult:
    """Save the deterministic policy, evaluate it on held-out seeds, and summarize the run."""
    config, task_id = trainer.config, trainer.task_id
    wall = clock.wall()
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
        steps_per_second=(trainer.global_step - start_step) / max(wall - clock.wall_before, 1e-9),
        success_rate=evaluation.success_rate if evaluation else float("nan"),
        train_success_rate=train_success,
        task_metrics=evaluation.mean_metrics() if evaluation else {},
        termination_reasons=evaluation.termination_reasons if evaluation else {},
        nonfinite_counts=nonfinite_counts(trainer.reward_fn),
        interrupted=interrupted,
        out_dir=str(out),
        checkpoint=paths["checkpoint"],
        policy=str(policy_path),
        csv=paths["csv"],
        config=paths["config"],
        eval=evaluation.to_dict() if evaluation else None,
        cpu_time=clock.cpu(),
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
    callback: Callback | None = None,
    init_from: str | Path | None = None,
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
            A reward program may be model-written, so the whole run then happens in a guarded
            child under a refine candidate's limits (:mod:`agentic_rl.ppo.guarded`), which
            raises :class:`~agentic_rl.ppo.guarded.GuardedRunError` naming a limit it hit.
        out_dir: run folder; default ``runs/train/<task>/<timestamp>``.
        randomize: domain randomization for training envs (evaluation uses nominal physics).
        resume: ``True`` to continue from ``out_dir/checkpoint.pt``, or a checkpoint path.
            The run continues to exactly the result an uninterrupted run would reach.
        overwrite: start afresh in an ``out_dir`` that already holds a run (its outputs are
            replaced); without it such a folder is refused, so no run is clobbered by mistake.
        callback: called after every update with the trainer and the logged row (not with a
            reward program, which trains in a child; see ``reward``); returning
            ``False`` stops training early (the result is then marked ``interrupted``).
        init_from: warm start: a checkpoint (file or run folder) whose actor, critic and
            observation normalizer this run starts from (see :meth:`PPO.warm_start`).
            Ignored when resuming: the run's own checkpoint already holds them.

    Returns:
        A :class:`TrainResult`.
    """
    if needs_guard(reward):  # a reward program never runs outside limits
        return train_guarded(
            config,
            task_id,
            reward=reward,
            out_dir=out_dir,
            randomize=randomize,
            resume=resume,
            overwrite=overwrite,
            callback=callback,
            init_from=init_from,
        )
    task_id = canonical_task_id(task_id)
    out = prepare_run_folder(out_dir, task_id, resume, overwrite)
    state = load_resume_state(out, resume, config, task_id, reward, randomize)
    trainer = start_trainer(
        config, task_id, load_reward(task_id, reward), randomize, state, init_from
    )
    config_path = write_run_config(out, config, task_id, reward, randomize, init_from)
    resumed = state is not None
    logger = Logger(out, config.tensorboard, resume_step=trainer.global_step if resumed else None)
    clock = _Clock(
        wall_before=float(state["wall_time"]) if resumed else 0.0,
        cpu_before=float(state.get("cpu_time", 0.0)) if resumed else 0.0,
    )
    ckpt_path = out / "checkpoint.pt"
    start_step = trainer.global_step
    try:
        interrupted = run_updates(
            trainer,
            logger,
            clock,
            lambda: save_run_checkpoint(trainer, ckpt_path, clock, reward, randomize),
            callback,
        )
        paths = {"checkpoint": str(ckpt_path), "csv": str(logger.path), "config": str(config_path)}
        return finish_run(trainer, out, reward, clock, start_step, interrupted, paths)
    finally:
        logger.close()
        trainer.close()
