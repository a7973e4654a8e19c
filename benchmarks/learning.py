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
import csv
import json
import os
import platform
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from _bench import train_timed

from agentic_rl.ppo import DEFAULT_BUDGETS, evaluate
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
    result, wall, cpu = train_timed(
        task_id,
        steps,
        seed,
        f"{out}/{task_id.split('/')[-1]}_seed{seed}",
        reward=reward,
        overrides=overrides,
    )
    ev = evaluate(result.policy, task_id, seeds=range(2_000_000, 2_000_000 + episodes))
    target = TARGETS.get(task_id)
    return {
        "task": task_id,
        "steps": result.steps,
        "wall_s": wall,
        "steps_per_s": result.steps_per_second,
        "cpu_s": cpu,
        "cpu_steps_per_s": result.steps / cpu,
        "cpu_s_to_target": time_to_success(Path(result.csv), target or 0.9),
        "success_rate": ev.success_rate,
        "target": target,
        "met": None if target is None else ev.success_rate >= target,
        "termination_reasons": ev.termination_reasons,
        "metrics": ev.mean_metrics(),
        "run": result.out_dir,
    }


def time_to_success(csv_path: Path, level: float) -> float | None:
    """CPU seconds until the training success rate (last 100 episodes) first reached ``level``."""
    with csv_path.open(newline="") as f:
        for row in csv.DictReader(f):
            success = row.get("rollout/success_rate") or ""
            if success and float(success) >= level:
                return float(row["time/cpu_s"])
    return None


HEADER = [
    "| task | steps | wall (s) | CPU (s) | CPU to target (s) | steps/s (CPU) | success | target "
    "| met | endings | metrics | date |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | :---: | --- | --- | --- |",
]


def table_row(r: dict[str, Any], date: str) -> str:
    """One markdown table row for a task's result."""
    target = "-" if r["target"] is None else f"{r['target']:.0%}"
    met = "-" if r["met"] is None else ("yes" if r["met"] else "**no**")
    endings = ", ".join(f"{k} {v}" for k, v in sorted(r["termination_reasons"].items()))
    metrics = ", ".join(f"{k} {v:.3g}" for k, v in r["metrics"].items() if k != "success")
    to_target = "-" if r["cpu_s_to_target"] is None else f"{r['cpu_s_to_target']:.0f}"
    steps = f"{r['steps']:,}"
    budget = DEFAULT_BUDGETS.get(r["task"])
    if budget is not None and not budget <= r["steps"] < budget + 65_536:
        steps += f" (budget {budget:,})"  # a shortened (or extended) run, say so
    return (
        f"| {r['task'].split('/')[-1]} | {steps} | {r['wall_s']:.0f} | {r['cpu_s']:.0f} | "
        f"{to_target} | {r['cpu_steps_per_s']:.0f} | {r['success_rate']:.0%} | {target} | {met} "
        f"| {endings} | {metrics} | {date} |"
    )


def markdown(rows: list[str], meta: dict[str, Any]) -> str:
    """The results section as markdown, given its table rows."""
    lines = [
        BEGIN,
        "## PPO learning (reference reward)",
        "",
        "`python benchmarks/learning.py --tasks TASK...` (rows may come from separate "
        f"invocations; see each row's date), {meta['machine']}, one torch thread, seed "
        f"{meta['seed']}, {meta['episodes']} evaluation episodes per task (held-out seeds, "
        "nominal physics, deterministic policy), default budgets unless *steps* says otherwise. "
        "Wall times are noisy when other jobs share the machine; CPU seconds (this process) "
        "are what the run takes on a core of its own. *CPU to target*: CPU seconds until the "
        "training success rate (last 100 episodes, stochastic policy) first reached the target.",
        "",
        *HEADER,
        *rows,
        END,
    ]
    return "\n".join(lines)


def merge_rows(text: str, new: dict[str, str]) -> list[str]:
    """Table rows of the current section with ``new`` (task name -> row) replacing or added."""
    rows: dict[str, str] = {}
    if BEGIN in text and END in text:
        section = text.split(BEGIN, 1)[1].split(END, 1)[0]
        for line in section.splitlines():
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if line.startswith("| ") and line not in HEADER and cells[0] != "task":
                rows[cells[0]] = line
    rows.update(new)
    order = [t.split("/")[-1] for t in DEFAULT_BUDGETS]
    return [rows[k] for k in sorted(rows, key=lambda k: (order.index(k) if k in order else 99, k))]


def write_results(new_rows: dict[str, str], meta: dict[str, Any], path: Path = RESULTS) -> None:
    """Update the learning section of RESULTS.md (or append it), keeping other sections and
    the rows of tasks not run this time."""
    text = path.read_text() if path.exists() else "# Benchmark results\n"
    section = markdown(merge_rows(text, new_rows), meta)
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
                f"{row['wall_s']:.0f} s wall, {row['cpu_s']:.0f} s CPU "
                f"({row['cpu_steps_per_s']:.0f} steps per CPU s), CPU s to target "
                f"{row['cpu_s_to_target']} {row['termination_reasons']}",
                flush=True,
            )
    if not args.no_write:
        meta = {
            "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
            "seed": args.seed,
            "episodes": args.episodes,
        }
        date = datetime.now(UTC).strftime("%Y-%m-%d")
        write_results({r["task"].split("/")[-1]: table_row(r, date) for r in rows}, meta)
    if args.json:
        print(json.dumps(rows, indent=2))
    return rows


if __name__ == "__main__":
    main()
