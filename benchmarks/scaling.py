"""Throughput of the same refine on the ``process`` and ``ray`` executors, 1 and 2 workers.

Issue 8 targets: Ray overhead per candidate < 2 s, and throughput within 10 % of ``process`` at
equal workers on this machine. Measured in one run:

* **refine**: the same seeded ``RefineLoop`` (offline designer, successive halving on, no
  export/video) for each executor x workers; throughput is candidates per hour of loop wall
  time. Ratios are against ``process`` at the same workers (the baseline) and against 1 worker
  of the same executor (scaling). Each ``ray`` configuration gets a fresh local Ray sized like
  the CLI sizes it; its start-up is timed on its own and left out of the throughput (it is paid
  once per driver, not per candidate), with an "incl. start" figure beside it.
* **overhead**: per candidate, the time from submission to result minus the work unit's own
  ``wall_time`` (process spawn and imports, or Ray scheduling and a warm or cold worker), over a
  cold and then a warm batch of ``workers`` small candidates submitted at once, on a fresh
  Ray; before them, ``workers`` empty tasks time Ray's own share of a cold start.

Usage: ``python benchmarks/scaling.py [--json] [--iterations 1] [--candidates 4]
[--steps 4096] [--workers 1 2]``
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from rich.console import Console

import rewards
from agentic_rl.cli.console import make_console
from agentic_rl.config import RefineConfig
from agentic_rl.executors import CandidateJob, make_executor
from agentic_rl.loop import RefineLoop
from agentic_rl.ppo import make_config

TARGET_OVERHEAD_S = 2.0
TARGET_RATIO = 0.9
TASK = "agentic_rl/DroneHover-v0"
PPO = {"num_envs": 8, "num_steps": 128, "update_epochs": 2, "tensorboard": False}


def _refine(executor: str, workers: int, args: argparse.Namespace, out: Path) -> dict[str, Any]:
    cfg = RefineConfig(
        task=TASK,
        iterations=args.iterations,
        candidates=args.candidates,
        steps=args.steps,
        seeds=5,
        randomized_seeds=2,
        reeval_seeds=0,
        workers=workers,
        executor=executor,
        export=False,
        video=False,
        seed=args.seed,
        ppo=PPO,
        out=str(out),
    )
    loop = RefineLoop.start(cfg, Console(quiet=True))
    t0 = time.perf_counter()
    loop.run()
    wall = time.perf_counter() - t0
    trained = sum(
        c.status in ("trained", "stopped_early")
        for it in loop.manifest.iterations
        for c in it.candidates
    )
    picks = [it.best_index for it in loop.manifest.iterations]
    return {"wall_s": wall, "candidates": trained, "best_per_iteration": picks}


def _jobs(root: Path, name: str, n: int) -> list[CandidateJob]:
    ppo = make_config(
        task_id=TASK,
        total_steps=2048,
        num_envs=4,
        num_steps=64,
        update_epochs=1,
        tensorboard=False,
    ).model_dump(mode="json")
    jobs = []
    for k in range(n):
        d = root / name / f"cand_{k}"
        d.mkdir(parents=True)
        (d / "reward.py").write_text(rewards.reference_source(TASK))
        jobs.append(
            CandidateJob(
                task_id=TASK,
                candidate=f"{name}/c{k}",
                out_dir=str(d),
                ppo=ppo,
                eval_episodes=2,
                randomized_episodes=0,
                plots=False,
            )
        )
    return jobs


def _overhead(executor: str, workers: int, root: Path, batch: str) -> list[float]:
    """Per-candidate overhead of one batch of ``workers`` jobs submitted together."""
    jobs = _jobs(root, f"{executor}_{batch}", workers)
    t0 = time.perf_counter()
    out = []
    for result in make_executor(executor, workers).run(jobs):
        if result.status != "done":
            raise RuntimeError(f"{result.candidate} {result.status}: {result.error}")
        out.append(time.perf_counter() - t0 - result.wall_time)
    return out


def _noop() -> None:
    return None


def _ray_noop(workers: int) -> float:
    """Seconds for ``workers`` empty tasks on a fresh Ray: Ray's own share of a cold start."""
    import ray

    task = ray.remote(num_cpus=1)(_noop)
    t0 = time.perf_counter()
    ray.get([task.remote() for _ in range(workers)])
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true", help="print results as JSON")
    ap.add_argument("--iterations", type=int, default=1)
    ap.add_argument("--candidates", type=int, default=4)
    ap.add_argument("--steps", type=int, default=4096, help="PPO steps per candidate")
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    from agentic_rl.executors.ray_executor import RayExecutor, shutdown_local

    rows: list[dict[str, Any]] = []
    overheads: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for executor in ("process", "ray"):
            for workers in args.workers:
                start_s = 0.0
                if executor == "ray":
                    t0 = time.perf_counter()
                    RayExecutor(workers).connect()  # a fresh local Ray with `workers` CPUs
                    start_s = time.perf_counter() - t0
                try:
                    row = _refine(executor, workers, args, root / f"{executor}{workers}")
                finally:
                    shutdown_local()
                row.update(executor=executor, workers=workers, start_s=start_s)
                row["per_hour"] = row["candidates"] / row["wall_s"] * 3600
                row["per_hour_incl_start"] = row["candidates"] / (row["wall_s"] + start_s) * 3600
                rows.append(row)
            # overhead on its own fresh Ray, so "cold" means workers that never ran a candidate
            w = max(args.workers)
            try:
                noop = None
                if executor == "ray":
                    RayExecutor(w).connect()
                    noop = _ray_noop(w)
                cold = _overhead(executor, w, root, "cold")
                warm = _overhead(executor, w, root, "warm")
            finally:
                shutdown_local()
            overheads[executor] = {
                "cold_mean_s": statistics.mean(cold),
                "warm_mean_s": statistics.mean(warm),
            }
            if noop is not None:
                overheads[executor]["empty_task_cold_s"] = noop

    def find(executor: str, workers: int) -> dict[str, Any]:
        return next(r for r in rows if r["executor"] == executor and r["workers"] == workers)

    base_w = min(args.workers)
    for row in rows:
        base = find("process", row["workers"])
        row["vs_process"] = row["per_hour"] / base["per_hour"]
        row["vs_process_incl_start"] = row["per_hour_incl_start"] / base["per_hour"]
        row["vs_1_worker"] = row["per_hour"] / find(row["executor"], base_w)["per_hour"]
    ray_rows = [r for r in rows if r["executor"] == "ray"]
    same_picks = all(
        r["best_per_iteration"] == find("process", r["workers"])["best_per_iteration"]
        for r in ray_rows
    )
    report = {
        "task": TASK,
        "iterations": args.iterations,
        "candidates": args.candidates,
        "steps": args.steps,
        "rows": rows,
        "overhead": overheads,
        "same_selections": same_picks,
        "target_overhead_s": TARGET_OVERHEAD_S,
        "target_ratio": TARGET_RATIO,
        # warm: every candidate after a worker's first; cold: a worker's first candidate,
        # which also pays the imports (torch, PyBullet, ...) that `process` pays every time
        "overhead_ok_warm": overheads["ray"]["warm_mean_s"] < TARGET_OVERHEAD_S,
        "overhead_ok_cold": overheads["ray"]["cold_mean_s"] < TARGET_OVERHEAD_S,
        "ratio_ok": all(r["vs_process"] >= TARGET_RATIO for r in ray_rows),
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return
    from rich.table import Table

    table = Table(
        title=f"refine throughput, {TASK}: {args.iterations} iteration(s) x "
        f"{args.candidates} candidates x {args.steps:,} steps"
    )
    for col in (
        "executor",
        "workers",
        "wall s",
        "cand/h",
        "vs process",
        "vs 1 worker",
        "start s",
        "incl. start",
    ):
        table.add_column(col)
    for r in rows:
        ok = "green" if r["vs_process"] >= TARGET_RATIO else "red"
        ray_row = r["executor"] == "ray"
        table.add_row(
            r["executor"],
            str(r["workers"]),
            f"{r['wall_s']:.1f}",
            f"{r['per_hour']:.0f}",
            f"[{ok}]{r['vs_process']:.2f}[/]" if ray_row else "1.00 (base)",
            f"{r['vs_1_worker']:.2f}",
            f"{r['start_s']:.1f}" if ray_row else "",
            f"{r['vs_process_incl_start']:.2f}" if ray_row else "",
        )
    console = make_console()
    console.print(table)
    w = max(args.workers)
    for name, o in overheads.items():
        extra = ""
        if "empty_task_cold_s" in o:
            extra = (
                f"; an empty task on a fresh worker {o['empty_task_cold_s']:.2f} s (target < 2 s)"
            )
        console.print(
            f"overhead per candidate, {name}, {w} workers: cold batch {o['cold_mean_s']:.2f} s, "
            f"warm batch {o['warm_mean_s']:.2f} s{extra}"
        )
    console.print(f"same selections on both executors: {same_picks}")


if __name__ == "__main__":
    main()
