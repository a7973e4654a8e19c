"""The refinement loop end to end, next to the reference reward on the same total budget.

For each task this runs ``agentic-rl refine`` with the offline designer, then trains the
hand-written reference reward once with the total number of env steps the loop spent on all its
candidates, and evaluates it on the same number of held-out episodes. It prints, per task:

* iteration 0's best success rate and the final (all-time best) success rate, and the
  improvement of the final over iteration 0 (relative, in percent, of the held-out success rate;
  AgenticRL reports +71% over initial rewards);
* the reference reward's success at the same total budget (the loop should reach at least it);
* wall time of the loop and CPU utilisation during candidate training (CPU seconds of the
  workers over wall time x cores given; target >= 90%).

Usage: ``python benchmarks/refine.py [--tasks DroneHover,ArmReach] [--json] [--no-reference]``
(defaults are those of ``make demo``).
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DEMO = {"iterations": 3, "candidates": 4, "steps": 200_000, "workers": 2}


def run_refine(task: str, args: argparse.Namespace, out: Path) -> tuple[Path, float]:
    cmd = [
        sys.executable,
        "-m",
        "agentic_rl.cli",
        "refine",
        "--task",
        task,
        "--quiet",
        "--iterations",
        str(args.iterations),
        "--candidates",
        str(args.candidates),
        "--steps",
        str(args.steps),
        "--workers",
        str(args.workers),
        "--out",
        str(out),
        "--set",
        "video=false",
    ]
    t0 = time.monotonic()
    subprocess.run(cmd, check=True)
    wall = time.monotonic() - t0
    (run,) = list(out.glob("*/*/summary.json"))
    return run.parent, wall


def reference_at_budget(task: str, total_steps: int, episodes: int, out: Path) -> float:
    from agentic_rl.ppo import evaluate, make_config, train

    config = make_config(task_id=task, total_steps=total_steps, eval_episodes=0, progress=False)
    result = train(config, task, reward="reference", out_dir=out)
    seeds = range(10_000_000, 10_000_000 + episodes)
    return evaluate(Path(result.policy), task, seeds=seeds).success_rate


def bench(task: str, args: argparse.Namespace) -> dict:
    work = Path(tempfile.mkdtemp(prefix="bench_refine_"))
    run, wall = run_refine(task, args, work / "runs")
    summary = json.loads((run / "summary.json").read_text())
    manifest = json.loads((run / "manifest.json").read_text())
    total_steps = sum(c["steps"] for it in manifest["iterations"] for c in it["candidates"])
    initial = summary["initial"]["success_rate"] if summary["initial"] else 0.0
    final = summary["final"]["success_rate"] if summary["final"] else 0.0
    row = {
        "task": summary["task_id"],
        "iterations": summary["iterations"],
        "initial_success": initial,
        "final_success": final,
        "improvement_pct": (final - initial) / initial * 100
        if initial > 0
        else (math.inf if final > 0 else 0.0),
        "total_steps": total_steps,
        "wall_s": wall,
        "cpu_utilisation": summary.get("training_cpu_utilisation"),
        "run_dir": str(run),
    }
    if args.reference:
        config = json.loads((run / "config.json").read_text())
        episodes = config["seeds"]
        row["reference_success"] = reference_at_budget(
            task, total_steps, episodes, work / "reference"
        )
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", default="DroneHover")
    ap.add_argument("--iterations", type=int, default=DEMO["iterations"])
    ap.add_argument("--candidates", type=int, default=DEMO["candidates"])
    ap.add_argument("--steps", type=int, default=DEMO["steps"])
    ap.add_argument("--workers", type=int, default=DEMO["workers"])
    ap.add_argument(
        "--no-reference",
        dest="reference",
        action="store_false",
        help="skip training the reference reward at the same budget",
    )
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    rows = [bench(t, args) for t in args.tasks.split(",") if t]
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    for r in rows:
        ref = r.get("reference_success")
        print(
            f"{r['task']}: iteration 0 best {r['initial_success']:.0%} -> final "
            f"{r['final_success']:.0%} (improvement {r['improvement_pct']:.0f}% of held-out success; "
            f"AgenticRL reports +71%)"
            + (
                f"; reference reward at the same {r['total_steps']:,} steps: {ref:.0%}"
                if ref is not None
                else ""
            )
            + f"; wall {r['wall_s']:.0f} s; training CPU utilisation "
            + ("-" if r["cpu_utilisation"] is None else f"{r['cpu_utilisation']:.0%}")
        )


if __name__ == "__main__":
    main()
