"""`train_candidate`: the one work unit every executor runs (serially, in a process, on Ray).

It trains PPO against an accepted reward program, optionally pausing at a halving rung, and
once training is complete evaluates the policy on held-out seeds (nominal and randomized
physics) and writes the candidate's diagnosis packet. Inputs and outputs are small pydantic
models, so the unit pickles cheaply and the driver reads big artifacts from the run folder.

The job carries the checked reward program (:class:`rewards.RewardProgram`: source, hash and
the smoke run's verdict), so the worker compiles it without repeating the smoke run, and a
resumed candidate is matched to its checkpoint by the program's hash, not by a path. Every
executor runs this unit inside a guarded child (:func:`agentic_rl.executors.guarded.run_job`),
where the reward program's calls are under the limits of :mod:`rewards.guard`.
"""

from __future__ import annotations

import math
import time
import traceback
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from agentic_rl import seeds
from rewards import RewardProgram


class CandidateJob(BaseModel):
    """What a worker needs to train and evaluate one candidate."""

    task_id: str
    task_path: str | None = Field(
        None,
        description="module:Class of a task named by its class path, so a worker that did not "
        "inherit the driver's environment (a Ray cluster node) loads it too.",
    )
    candidate: str = Field(description="Candidate id, e.g. 'i0/c2'.")
    out_dir: str = Field(description="The candidate folder; holds reward.py.")
    reward: RewardProgram | None = Field(
        None,
        description="The checked reward program (source, hash, smoke-run verdict); None: "
        "check out_dir/reward.py in the worker.",
    )
    ppo: dict[str, Any] = Field(description="Resolved PPO config.")
    stop_at: int | None = Field(None, description="Pause after this many steps (halving rung).")
    init_from: str | None = Field(
        None, description="Warm start: the parent's checkpoint.pt (ignored when resuming)."
    )
    randomize: bool | dict[str, tuple[float, float]] = False
    eval_episodes: int = 20
    eval_seed: int = seeds.EVALUATION.base
    randomized_episodes: int = 10
    plots: bool = True
    timeout: float = 1800.0
    memory_mb: int | None = Field(
        None, description="Address space the worker may add after start-up (None: default)."
    )
    #: Test hook: extra seconds to sleep before training (exercises timeouts in tests).
    sleep: float = 0.0


class CandidateResult(BaseModel):
    """What a worker sends back (large artifacts stay in ``out_dir``)."""

    candidate: str
    status: Literal["paused", "done", "failed", "timeout"]
    steps: int = 0
    wall_time: float = 0.0
    rung_row: dict[str, float] = Field(default_factory=dict, description="Last training log row.")
    success_rate: float | None = None
    randomized_success_rate: float | None = None
    task_metrics: dict[str, float] = Field(default_factory=dict)
    termination_reasons: dict[str, int] = Field(default_factory=dict)
    nonfinite: dict[str, int] = Field(default_factory=dict)
    task_error: bool = Field(False, description="Failed for an error in the task, not the reward.")
    traceback: str | None = Field(None, description="Traceback of the failure, if it raised.")
    packet_path: str | None = None
    packet_text: str | None = None
    error: str | None = None
    limit: str | None = Field(None, description="The sandbox limit that failed it, if any.")
    peak_rss_mb: float | None = Field(None, description="Peak resident memory of its worker.")


def train_candidate(job: CandidateJob) -> CandidateResult:
    """Train (or resume) one candidate; evaluate and diagnose it when training completes.

    Never raises for candidate-level failures (a reward that crashes, blows its budget or a
    training error): those come back as ``status="failed"`` with the reason, so the loop goes on.
    """
    import torch

    torch.set_num_threads(1)
    from agentic_rl.ppo import PPOConfig
    from agentic_rl.ppo import train as ppo_train

    start = time.perf_counter()
    out = Path(job.out_dir)
    if job.sleep:
        time.sleep(job.sleep)
    last_row: dict[str, float] = {}

    def on_update(trainer: Any, row: dict[str, float]) -> bool:
        last_row.clear()
        # finite numbers only: a metric is NaN while no episode has finished (DroneOrbit's
        # errors at the rung), and the result travels as JSON, where NaN becomes null
        last_row.update(
            {
                k: float(v)
                for k, v in row.items()
                if isinstance(v, (int, float)) and math.isfinite(v)
            }
        )
        return not (job.stop_at is not None and trainer.global_step >= job.stop_at)

    try:
        import sims

        sims.recall(job.task_id, job.task_path)  # a custom task's class, wherever this runs
        config = PPOConfig(**{**job.ppo, "eval_episodes": 0, "progress": False})
        result = ppo_train(
            config,
            job.task_id,
            reward=_reward(job),
            out_dir=out,
            randomize=job.randomize,
            resume=(out / "checkpoint.pt").exists(),
            callback=on_update,
            init_from=job.init_from,
        )
        if result.interrupted:
            return CandidateResult(
                candidate=job.candidate,
                status="paused",
                steps=result.steps,
                wall_time=time.perf_counter() - start,
                rung_row=dict(last_row),
                nonfinite=result.nonfinite_counts,
            )
        packet = _diagnose(job, Path(result.policy))
    except Exception as exc:  # the candidate failed, not the loop
        (out / "error.txt").write_text(traceback.format_exc())
        from sims.errors import TaskError

        return CandidateResult(
            candidate=job.candidate,
            task_error=isinstance(exc, TaskError),
            traceback=traceback.format_exc(),
            status="failed",
            wall_time=time.perf_counter() - start,
            rung_row=dict(last_row),
            error=f"{type(exc).__name__}: {exc}",
            limit=getattr(exc, "limit", None),
        )
    nominal = packet.nominal
    return CandidateResult(
        candidate=job.candidate,
        status="done",
        steps=result.steps,
        wall_time=time.perf_counter() - start,
        rung_row=dict(last_row),
        success_rate=nominal.success_rate,
        randomized_success_rate=packet.randomized.success_rate if packet.randomized else None,
        task_metrics={k: v.mean for k, v in nominal.metrics.items()},
        termination_reasons=nominal.termination_reasons,
        nonfinite=result.nonfinite_counts,
        packet_path=str(out / "packet.json"),
        packet_text=(out / "packet.txt").read_text(),
    )


def train_candidate_json(job_json: str) -> str:
    """:func:`train_candidate` on a JSON job, returning JSON (what guarded children run)."""
    return train_candidate(CandidateJob.model_validate_json(job_json)).model_dump_json()


def _reward(job: CandidateJob) -> Any:
    """The job's reward as the callable training uses (the checked program, compiled here)."""
    if job.reward is None:
        return str(Path(job.out_dir) / "reward.py")  # checked (smoke run) by the trainer
    import rewards
    import sims

    return rewards.compile_program(
        job.reward.source,
        sims.get_spec(job.task_id),
        program=job.reward,
        budget_us=job.reward.budget_us,
    )


def _diagnose(job: CandidateJob, policy: Path) -> Any:
    from agentic_rl.diagnostics import diagnose

    return diagnose(
        job.task_id,
        policy,
        Path(job.out_dir),
        candidate=job.candidate,
        reward_source=job.reward.source
        if job.reward is not None
        else (Path(job.out_dir) / "reward.py").read_text(),
        episodes=job.eval_episodes,
        seed=job.eval_seed,
        randomized_episodes=job.randomized_episodes,
        randomize=True,
        out_dir=Path(job.out_dir),
        plots=job.plots,
    )
