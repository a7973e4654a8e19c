"""Training an iteration's candidates through the executor, with successive halving.

With halving, the racers train to a rung (``rung_fraction`` of their planned steps); the
weaker half by training score stops there and its unused budget goes to the survivors, which
continue from their checkpoints. In an iteration with warm starts only the warm-started
candidates race: the control is the yardstick they are compared with at the same steps, and
the cold start, which would always lose at the rung to policies that started competent, is
there to leave a bad basin.
"""

from __future__ import annotations

import math
import resource
import time
from pathlib import Path
from typing import TYPE_CHECKING

import rewards
from agentic_rl import seeds, selection
from agentic_rl.executors import CandidateJob, CandidateResult, make_executor
from agentic_rl.loop import lineage
from agentic_rl.records import CandidateRecord, CandidateState
from agentic_rl.runstore import read_json, write_json

if TYPE_CHECKING:
    from agentic_rl.loop.core import RefineLoop

S = CandidateState

#: States of a candidate that still gets training steps.
_TRAINABLE = (S.ACCEPTED, S.CHECKED)


def train(loop: RefineLoop, i: int) -> None:
    """Train (or resume training) every accepted candidate of iteration ``i``."""
    cfg, current = loop.config, loop.current
    cands = current.candidates
    in_play = [c for c in cands if c.status not in (S.REJECTED, S.REFUSED)]
    # Halving compares like with like: with warm starts only the warm-started candidates race
    # (a cold start would always lose at the rung, and the control is the yardstick).
    warm = [c for c in in_play if c.lineage.start == "warm"]
    racers = warm or [c for c in in_play if c.lineage.start != "control"]
    halving = cfg.halving and len(racers) >= 2
    keep = math.ceil(len(racers) / 2) + (len(in_play) - len(racers))
    steps = (
        selection.survivor_steps(cfg.steps, len(in_play), cfg.rung_fraction, keep)
        if halving
        else cfg.steps
    )
    current.planned_steps = steps
    if halving:
        rung = int(steps * cfg.rung_fraction)
        first = [(c, rung) for c in racers if c.status in (*_TRAINABLE, S.TRAINING_RUNG)]
        first += [(c, None) for c in in_play if c not in racers and c.status in _TRAINABLE]
        if first:
            loop.console.print(
                f"iteration {i}: training {len(first)} candidates, the racers to the halving "
                f"rung ({rung:,} of {steps:,} steps)"
            )
            _run_jobs(loop, i, first, steps)
        paused = [c for c in cands if c.status == S.PAUSED]
        if paused:
            scores = {str(c.index): selection.rung_score(loop.spec, c.rung_row) for c in paused}
            survivors = selection.halving_survivors(scores)
            for c in paused:
                if str(c.index) in survivors:
                    c.status = S.SURVIVOR
                    continue
                c.status = S.STOPPED_EARLY
                c.error = (
                    f"stopped at the rung ({c.steps:,} steps): training score "
                    f"{scores[str(c.index)]:.3f} in the lower half; its budget went to the "
                    "survivors"
                )
                loop.console.print(f"{c.cid}: stopped early (successive halving)")
            loop.save()
    todo = [(c, None) for c in cands if c.status in (*_TRAINABLE, S.SURVIVOR, S.TRAINING)]
    if todo:
        noun = "candidate" if len(todo) == 1 else "candidates"
        loop.console.print(f"iteration {i}: training {len(todo)} {noun} to {steps:,} steps")
        _run_jobs(loop, i, todo, steps)
    current.stage = "select"
    loop.save()


def _run_jobs(
    loop: RefineLoop, i: int, work: list[tuple[CandidateRecord, int | None]], steps: int
) -> None:
    cfg = loop.config
    jobs = []
    for c, stop_at in work:
        c.status = S.TRAINING_RUNG if stop_at is not None else S.TRAINING
        jobs.append(job(loop, c, steps, stop_at))
    loop.save()
    busy = min(cfg.workers, len(jobs))
    wall0, cpu0 = time.monotonic(), cpu_seconds()
    if loop.executor is None:  # one per run: a Ray cluster starts once, not per batch
        loop.executor = make_executor(cfg.executor, cfg.workers, loop.store.lock_fds)
    for result in loop.executor.run(jobs):
        record_result(loop, result)
    # CPU utilisation of the training phase: CPU seconds of this process and its finished
    # workers over the wall time of the cores it could use
    usage = loop.manifest.training_cpu
    usage.cpu_s += cpu_seconds() - cpu0
    usage.core_s += (time.monotonic() - wall0) * busy
    loop.save()


def job(loop: RefineLoop, c: CandidateRecord, steps: int, stop_at: int | None) -> CandidateJob:
    """The work unit that trains candidate ``c`` (and evaluates it on selection seeds)."""
    cfg = loop.config
    from agentic_rl.ppo import make_config

    ppo = make_config(
        task_id=cfg.task,
        total_steps=steps,
        seed=seeds.training(cfg.seed, c.iteration, c.index),
        **cfg.ppo,
    )
    checked = Path(c.run_dir) / "reward.json"
    return CandidateJob(
        task_id=cfg.task,
        task_path=cfg.task_path,
        candidate=c.cid,
        out_dir=c.run_dir,
        reward=rewards.RewardProgram.model_validate(read_json(checked))
        if checked.exists()
        else None,
        ppo=ppo.model_dump(mode="json"),
        stop_at=stop_at,
        init_from=c.lineage.init_checkpoint,
        randomize=loop.current.randomize,
        eval_episodes=cfg.seeds,
        eval_seed=seeds.SELECTION.first(cfg.seed),
        randomized_episodes=cfg.randomized_seeds,
        timeout=cfg.candidate_timeout,
    )


def record_result(loop: RefineLoop, result: CandidateResult) -> None:
    """Fold one worker result into its candidate's record (and save the manifest)."""
    c = next(c for c in loop.current.candidates if c.cid == result.candidate)
    c.steps = result.steps
    c.wall_time += result.wall_time
    c.rung_row = dict(result.rung_row)
    c.error = result.error
    c.lineage.steps = lineage.lineage_steps(c, loop.manifest, result.steps)
    # the worker's result plus where its policy came from (cold, warm from, control of)
    write_json(
        Path(c.run_dir) / "result.json",
        {**result.model_dump(mode="json"), "lineage": c.lineage.model_dump(mode="json")},
    )
    if result.status == "done":
        c.status = S.TRAINED
        c.success_rate = result.success_rate
        c.randomized_success_rate = result.randomized_success_rate
        c.task_metrics = dict(result.task_metrics)
        c.score = selection.score(
            loop.spec,
            result.success_rate or 0.0,
            result.task_metrics,
            result.randomized_success_rate,
        )
        c.packet_path = result.packet_path
        c.packet_text = result.packet_text
        rand = result.randomized_success_rate
        loop.console.print(
            f"{result.candidate} ({_start_note(c)}): [green]done[/] success "
            f"{result.success_rate:.0%} nominal"
            + (f", {rand:.0%} randomized" if rand is not None else "")
            + f" ({result.steps:,} steps, {result.wall_time:.0f} s)"
        )
    elif result.status == "paused":
        c.status = S.PAUSED
        sr = result.rung_row.get("rollout/success_rate")
        shown = "no episode finished yet" if sr is None else f"training success {sr:.0%}"
        loop.console.print(f"{result.candidate}: at the rung ({result.steps:,} steps), {shown}")
    else:
        c.status = S.FAILED if result.status == "failed" else S.TIMEOUT
        loop.console.print(f"{result.candidate}: [red]{result.status}[/] {result.error}")
    loop.save()


def _start_note(c: CandidateRecord) -> str:
    if c.lineage.start == "cold":
        return "cold start"
    what = "control" if c.lineage.start == "control" else "warm"
    return f"{what} from {c.lineage.warm_from}"


def cpu_seconds() -> float:
    """User + system CPU seconds of this process and its reaped children (workers)."""
    me, kids = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime
