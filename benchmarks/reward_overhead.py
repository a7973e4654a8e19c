"""Reward-program overhead: a compiled reference reward vs the same function as plain Python.

For every task's reference reward, time one call on the task's recorded states in three forms,
interleaved in the same run so they share the machine's load:

* ``plain``: the source executed as ordinary Python, with the real numpy, math and
  ``rewards.terms`` modules and full builtins (the baseline);
* ``restricted``: the function the pipeline compiles (restricted builtins, read-only
  namespaces), called directly;
* ``guarded``: what training calls, the :class:`rewards.RewardFunction` wrapper around it
  (float conversion, non-finite check, time budget, the watchdog's one store per call).

Both compiled forms include the runtime size caps of ``rewards/caps.py`` where the compiler
inserts them (none for the reference rewards: their operands are provably numbers).

Each figure is the best (lowest) mean per call over ``--repeats`` passes over the states.
Targets (issue 3): guarded / plain <= 1.5, and guarded < 10 us per call for the drone tasks.
With ``--corpus`` (default) it also runs the pipeline on the realistic and hostile response
corpora in ``tests/data/reward_corpus`` (target: >= 95% of realistic accepted, every hostile
rejected).

    python benchmarks/reward_overhead.py [--tasks DroneHover ArmReach] [--repeats 30]
                                         [--no-corpus] [--json] [--no-write]

The table goes into ``benchmarks/RESULTS.md`` between ``<!-- reward_overhead:begin -->`` and
``<!-- reward_overhead:end -->`` (with the machine's load average when it ran).
"""

from __future__ import annotations

import argparse
import builtins
import json
import math
import os
import platform
import re
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from _bench import write_section

import rewards
import sims
from rewards import terms

CORPUS = Path(__file__).resolve().parent.parent / "tests" / "data" / "reward_corpus"
#: This benchmark's section of RESULTS.md.
SECTION = "reward_overhead"
RATIO_TARGET = 1.5
DRONE_US_TARGET = 10.0


def plain_function(source: str) -> Any:
    """The reference source as ordinary Python: real modules, full builtins, no wrapper."""
    namespace: dict[str, Any] = {"np": np, "math": math, "terms": terms, "__builtins__": builtins}
    exec(compile(source, "<plain>", "exec"), namespace)
    return namespace["compute_reward"]


def _pass(fn: Any, calls: list[tuple[Any, Any, Any]], task: Any) -> float:
    """Mean seconds per call over one pass through the states."""
    t0 = time.perf_counter_ns()
    for state, action, prev in calls:
        fn(state, action, prev, task)
    return (time.perf_counter_ns() - t0) / len(calls) / 1e9


def bench_task(task_id: str, repeats: int) -> dict[str, Any]:
    """Time plain, restricted and guarded calls of one task's reference reward."""
    spec = sims.get_spec(task_id)
    guarded = rewards.load_reward(spec, "reference")
    restricted = guarded._fn  # the compiled program without the wrapper, for the breakdown
    plain = plain_function(guarded.program.source)
    calls = list(rewards.recorded_states(spec).transitions())
    task = spec.constants
    forms = {"plain": plain, "restricted": restricted, "guarded": guarded}
    for fn in forms.values():  # warm caches and numpy's lazy imports
        _pass(fn, calls, task)
    best = dict.fromkeys(forms, math.inf)
    for _ in range(repeats):
        for name, fn in forms.items():  # interleaved: all forms see the same load
            best[name] = min(best[name], _pass(fn, calls, task))
    us = {name: value * 1e6 for name, value in best.items()}
    drone = spec.robot.startswith("crazyflie")
    ratio = us["guarded"] / us["plain"]
    return {
        "task": spec.id,
        "terms": len(guarded.program.terms),
        "plain_us": us["plain"],
        "restricted_us": us["restricted"],
        "guarded_us": us["guarded"],
        "ratio": ratio,
        "ratio_met": ratio <= RATIO_TARGET,
        "us_target": DRONE_US_TARGET if drone else None,
        "us_met": (us["guarded"] < DRONE_US_TARGET) if drone else None,
        "states": len(calls),
    }


def bench_corpus() -> dict[str, Any]:
    """Pipeline outcome on the realistic and hostile corpora."""
    realistic = sorted((CORPUS / "realistic").glob("*.md"))
    hostile = sorted((CORPUS / "hostile").glob("*.txt"))
    accepted, times = 0, []
    for path in realistic:
        text = path.read_text()
        task = re.search(r"<!-- task: (\w+) -->", text)
        t0 = time.perf_counter()
        result = rewards.check_source(text, sims.get_spec(task.group(1) if task else "DroneHover"))
        times.append(time.perf_counter() - t0)
        accepted += result.accepted
    limits = rewards.SandboxLimits(cpu_seconds=1.0, memory_mb=256)
    spec = sims.get_spec("DroneHover")
    rejected, stages = 0, {}
    for path in hostile:
        result = rewards.check_source(
            path.read_text().replace("{CANARY}", "/nonexistent/c"), spec, limits=limits
        )
        if not result.accepted:
            rejected += 1
            stages[result.stage] = stages.get(result.stage, 0) + 1
    return {
        "realistic": len(realistic),
        "realistic_accepted": accepted,
        "accept_rate": accepted / max(1, len(realistic)),
        "accept_met": accepted >= 0.95 * len(realistic),
        "check_s_median": sorted(times)[len(times) // 2] if times else None,
        "hostile": len(hostile),
        "hostile_rejected": rejected,
        "rejected_by_stage": stages,
        "reject_met": rejected == len(hostile),
    }


def write_results(result: dict[str, Any]) -> None:
    """Replace (or append) the reward-overhead section of RESULTS.md."""
    load = " / ".join(f"{x:.1f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "?"
    lines = [
        "## Reward call overhead (reference rewards)",
        "",
        "`python benchmarks/reward_overhead.py` -- best mean per call over "
        f"{result['repeats']} interleaved passes on each task's recorded states; "
        f"load average {load} (1/5/15 min) on {result['machine']['platform']}. Target: "
        f"guarded / plain <= {RATIO_TARGET}.",
        "",
        "| task | plain us | restricted us | guarded us | guarded / plain |",
        "|---|---:|---:|---:|---:|",
    ]
    for r in result["tasks"]:
        lines.append(
            f"| {r['task'].split('/')[-1]} | {r['plain_us']:.2f} | {r['restricted_us']:.2f} | "
            f"{r['guarded_us']:.2f} | {r['ratio']:.2f} |"
        )
    write_section(SECTION, "\n".join(lines))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", nargs="*", help="Task ids or short names (default: all).")
    parser.add_argument("--repeats", type=int, default=30, help="Timed passes per form.")
    parser.add_argument("--no-corpus", action="store_true", help="Skip the corpus check.")
    parser.add_argument("--json", action="store_true", help="Print results as JSON.")
    parser.add_argument("--no-write", action="store_true", help="Do not update RESULTS.md.")
    args = parser.parse_args(argv)
    task_ids = [sims.resolve(t)[0] for t in args.tasks] if args.tasks else list(sims.BUILTIN_TASKS)
    rows = [bench_task(tid, args.repeats) for tid in task_ids]
    corpus = None if args.no_corpus else bench_corpus()
    result = {
        "machine": {
            "python": sys.version.split()[0],
            "platform": platform.platform(),
            "numpy": np.__version__,
        },
        "repeats": args.repeats,
        "tasks": rows,
        "corpus": corpus,
        "all_met": all(r["ratio_met"] and r["us_met"] is not False for r in rows)
        and (corpus is None or (corpus["accept_met"] and corpus["reject_met"])),
    }
    if not args.no_write:
        write_results(result)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0 if result["all_met"] else 1
    print(
        f"{'task':32s} {'terms':>5s} {'plain us':>9s} {'restricted':>10s} {'guarded':>8s} "
        f"{'ratio':>6s}  target"
    )
    for r in rows:
        goal = f"<= {RATIO_TARGET}" + (f", < {DRONE_US_TARGET:g} us" if r["us_target"] else "")
        met = "ok" if r["ratio_met"] and r["us_met"] is not False else "MISSED"
        print(
            f"{r['task']:32s} {r['terms']:5d} {r['plain_us']:9.2f} {r['restricted_us']:10.2f} "
            f"{r['guarded_us']:8.2f} {r['ratio']:6.2f}  {goal} {met}"
        )
    if corpus:
        print(
            f"realistic responses accepted: {corpus['realistic_accepted']}/"
            f"{corpus['realistic']} ({corpus['accept_rate']:.0%}, target >= 95%); median check "
            f"{corpus['check_s_median']:.2f} s"
        )
        print(
            f"hostile programs rejected: {corpus['hostile_rejected']}/{corpus['hostile']} "
            f"by stage {corpus['rejected_by_stage']}"
        )
    return 0 if result["all_met"] else 1


if __name__ == "__main__":
    sys.exit(main())
