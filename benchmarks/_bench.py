"""What the training benchmarks share: train one policy quietly and measure what it cost.

Benchmarks run as scripts (``python benchmarks/learning.py``), so they import this module by
its bare name from their own folder.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, NamedTuple

from agentic_rl.ppo import PPOConfig, TrainResult, make_config, train


class Timed(NamedTuple):
    """A benchmark's training run: its result, its config and what it cost."""

    result: TrainResult
    config: PPOConfig
    wall_s: float
    cpu_s: float


def train_timed(
    task_id: str,
    steps: int | None,
    seed: int,
    out_dir: str | Path,
    *,
    reward: Any = "reference",
    overrides: dict[str, Any] | None = None,
    **train_kwargs: Any,
) -> Timed:
    """Train without progress bar, TensorBoard or the trainer's own evaluation (benchmarks
    evaluate on seeds of their own), overwriting ``out_dir``.

    Returns:
        The result, the config, wall seconds and CPU seconds of this process.
    """
    cfg = make_config(
        task_id=task_id,
        total_steps=steps,
        seed=seed,
        progress=False,
        tensorboard=False,
        eval_episodes=0,
        **(overrides or {}),
    )
    t0, c0 = time.perf_counter(), time.process_time()
    result = train(cfg, task_id, reward=reward, overwrite=True, out_dir=out_dir, **train_kwargs)
    return Timed(result, cfg, time.perf_counter() - t0, time.process_time() - c0)
