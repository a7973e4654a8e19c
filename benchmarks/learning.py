"""Learning benchmark: every task, reference reward, default budget, 100 seeded evaluations.

For each task: train PPO with the task's reference reward at its default budget (or
``--steps``), evaluate the deterministic policy on 100 held-out seeds, and report success
rate, task metrics, wall time and steps/s. Writes a markdown table into
``benchmarks/RESULTS.md`` between ``<!-- learning:begin -->`` and ``<!-- learning:end -->``
(other sections of that file are left alone).

    python benchmarks/learning.py [--tasks DroneHover ArmReach] [--steps 500000] [--json]

Targets: DroneHover >= 95% within 5 minutes on one core; DroneGates, DroneTrajectory and
ArmReach >= 90% at their default budgets.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from agentic_rl.ppo import DEFAULT_BUDGETS, evaluate, make_config, train
from agentic_rl.ppo.config import parse_overrides
from agentic_rl.ppo.envs import canonical_task_id

RESULTS = Path(__file__).with_name("RESULTS.md")
BEGIN, END = "<!-- learning:begin -->", "<!-- learning:end -->"

#: Success-rate targets of the issue, by task.
TARGETS: dict[str, float] = {
    "agentic_rl/DroneHover-v0": 0.95,
    "agentic_rl/DroneGates-v0": 0.90,
    "agentic_rl/DroneTrajectory-v0": 0.90,
    "agentic_rl/ArmReach-v0": 0.90,
}


def bench_task(
    task_id: str,
    steps: int | None,
    seed: int,
    episodes: int,
    reward: str,
    out: str,
    overrides: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Train and evaluate one task; returns one row of the results table."""
    cfg = make_config(
        task_id=task_id,
        total_steps=steps,
        seed=seed,
        progress=False,
        tensorboard=False,
        eval_episodes=0,
        **(overrides or {}),
    )
    t0 = time.perf_counter()
    result = train(
        cfg,
        task_id,
        reward=reward,
        overwrite=True,
        out_dir=f"{out}/{task_id.split('/')[-1]}_seed{seed}",
    )
    wall = time.perf_counter() - t0
    ev = evaluate(result.policy, task_id, seeds=range(2_000_000, 2_000_000 + episodes))
    target = TARGETS.get(task_id)
    return {
        "task": task_id,
        "steps": result.steps,
        "wall_s": wall,
        "steps_per_s": result.steps_per_second,
        "success_rate": ev.success_rate,
        "target": target,
        "met": None if target is None else ev.success_rate >= target,
        "termination_reasons": ev.termination_reasons,
        "metrics": ev.mean_metrics(),
        "run": result.out_dir,
    }


def markdown(rows: list[dict[str, Any]], meta: dict[str, Any]) -> str:
    """The results section as markdown."""
    lines = [
        BEGIN,
        "## PPO learning (reference reward)",
        "",
        f"`{meta['command']}` on {meta['date']}, {meta['machine']}, one torch thread, seed "
        f"{meta['seed']}, {meta['episodes']} evaluation episodes per task (held-out seeds, "
        "nominal physics). Wall times are noisy when other jobs share the machine.",
        "",
        "| task | steps | wall (s) | steps/s | success | target | met | endings | metrics |",
        "| --- | ---: | ---: | ---: | ---: | ---: | :---: | --- | --- |",
    ]
    for r in rows:
        target = "-" if r["target"] is None else f"{r['target']:.0%}"
        met = "-" if r["met"] is None else ("yes" if r["met"] else "**no**")
        endings = ", ".join(f"{k} {v}" for k, v in sorted(r["termination_reasons"].items()))
        metrics = ", ".join(f"{k} {v:.3g}" for k, v in r["metrics"].items() if k != "success")
        lines.append(
            f"| {r['task'].split('/')[-1]} | {r['steps']:,} | {r['wall_s']:.0f} | "
            f"{r['steps_per_s']:.0f} | {r['success_rate']:.0%} | {target} | {met} | {endings} | "
            f"{metrics} |"
        )
    lines.append(END)
    return "\n".join(lines)


def write_results(section: str, path: Path = RESULTS) -> None:
    """Replace the learning section of RESULTS.md (or append it), keeping other sections."""
    text = path.read_text() if path.exists() else "# Benchmark results\n"
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        tail = rest.split(END, 1)[1]
        text = head + section + tail
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    path.write_text(text)


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", nargs="+", default=list(DEFAULT_BUDGETS), help="task ids")
    parser.add_argument("--steps", type=int, default=None, help="override every task's budget")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--episodes", type=int, default=100)
    parser.add_argument("--reward", default="reference")
    parser.add_argument("--out", default="runs/bench/learning")
    parser.add_argument("--no-write", action="store_true", help="do not update RESULTS.md")
    parser.add_argument(
        "--set", dest="overrides", action="append", default=[], help="PPO config key=value"
    )
    parser.add_argument("--json", action="store_true", help="print the rows as JSON")
    args = parser.parse_args(argv)
    overrides = parse_overrides(args.overrides)
    rows = []
    for name in args.tasks:
        task_id = canonical_task_id(name)
        row = bench_task(
            task_id, args.steps, args.seed, args.episodes, args.reward, args.out, overrides
        )
        rows.append(row)
        if not args.json:
            print(
                f"{task_id}: {row['success_rate']:.0%} success after {row['steps']:,} steps, "
                f"{row['wall_s']:.0f} s ({row['steps_per_s']:.0f} steps/s) {row['termination_reasons']}",
                flush=True,
            )
    if not args.no_write:
        meta = {
            "command": "python benchmarks/learning.py "
            + " ".join(argv if argv is not None else sys.argv[1:]),
            "date": datetime.now(UTC).strftime("%Y-%m-%d"),
            "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
            "seed": args.seed,
            "episodes": args.episodes,
        }
        write_results(markdown(rows, meta))
    if args.json:
        print(json.dumps(rows, indent=2))
    return rows


if __name__ == "__main__":
    main()
