"""Learning stays equal: success-vs-steps of this tree next to a baseline commit's, same run.

For each task and seed, trains with ``benchmarks/learning.py`` twice, once in this tree and
once in a temporary git worktree of the baseline commit (default ``5046d00``, the code before
issue #16's speed work), one job after the other, and compares the training success rate
(last 100 episodes) at evenly spaced steps, the held-out success of the final policy and the
CPU seconds each took. Issue #16's criterion: within 5 points at the same steps on DroneHover,
DroneGates and ArmReach. Writes both curves into ``benchmarks/RESULTS.md`` between
``<!-- curves:begin -->`` and ``<!-- curves:end -->``, one subsection per pair (and per task's
seed mean) with the command that ran it: a run replaces the subsections of the pairs it ran
and keeps the others, so pairs against different baselines can stand side by side.

    python benchmarks/learning_curves.py --tasks DroneHover DroneGates=300000 ArmReach=60000
        [--steps 500000] [--seeds 0] [--baseline 5046d00] [--out runs/bench/curves] [--reuse]

A task may carry its own budget (``TASK=STEPS``); others use ``--steps``.

``--reuse`` skips a training run whose JSON result is already in ``--out`` (so an
interrupted comparison continues where it stopped).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from _bench import merge_blocks, read_section, write_section

ROOT = Path(__file__).resolve().parent.parent
#: This benchmark's section of RESULTS.md.
SECTION = "curves"
#: Largest allowed gap, in success-rate points, between the two curves at the same steps.
TOLERANCE = 0.05


def run_learning(
    tree: Path, label: str, task: str, steps: int, seed: int, out: Path, reuse: bool
) -> dict[str, Any]:
    """One ``benchmarks/learning.py`` run in ``tree`` (its code first on the path); results
    go to ``out/<label>_<task>_<seed>.json`` and run folders under ``out/<label>/``."""
    result = out / f"{label}_{task}_{seed}.json"
    if not (reuse and result.exists()):
        cmd = [
            sys.executable,
            "benchmarks/learning.py",
            "--tasks",
            task,
            "--steps",
            str(steps),
            "--seed",
            str(seed),
            "--no-write",
            "--json",
            "--out",
            str(out / label),
        ]
        env = {**os.environ, "PYTHONPATH": str(tree)}
        done = subprocess.run(cmd, cwd=tree, env=env, capture_output=True, text=True)
        if done.returncode:
            sys.exit(f"{' '.join(cmd)} failed in {tree}:\n{done.stderr[-2000:]}")
        result.write_text(done.stdout)
    return json.loads(result.read_text())[0]


def curve(csv_path: Path, points: list[int]) -> list[float | None]:
    """Training success rate at the first logged row at or after each of ``points`` steps."""
    rows = []
    with csv_path.open(newline="") as f:
        for row in csv.DictReader(f):
            if row.get("rollout/success_rate"):
                rows.append((float(row["time/total_steps"]), float(row["rollout/success_rate"])))
    out: list[float | None] = []
    for step in points:
        later = [s for at, s in rows if at >= step]
        out.append(later[0] if later else None)
    return out


INTRO = [
    "## Learning stays equal (issue #16)",
    "",
    "`python benchmarks/learning_curves.py` trains a baseline commit and this tree one after "
    "the other; each heading below is one pair (or the mean of a task's pairs), followed by "
    "the command that ran it, its date and its baseline. Rows: training success rate (last "
    "100 episodes) at the same steps, then the held-out success of the final policy (100 "
    f"episodes) and the CPU seconds of each run. Criterion: within {TOLERANCE * 100:.0f} points "
    "at every step. The two runs of a pair part ways at the first update (float32 numpy and "
    "torch round differently, or the tree changed the physics), so each gap also holds "
    "seed-to-seed noise, largest where a curve rises steeply.",
    "",
]


def section(results: list[dict[str, Any]], baseline: str, n_points: int) -> dict[str, str]:
    """Markdown subsections of this run, keyed by their heading's name (``TASK seed N vs
    BASELINE`` or ``TASK, mean of seeds ... vs BASELINE``): both curves per task and seed,
    then seed means."""
    command = (
        "`python benchmarks/learning_curves.py --tasks "
        + " ".join(dict.fromkeys(f"{r['task']}={r['steps']}" for r in results))
        + " --seeds "
        + " ".join(dict.fromkeys(str(r["seed"]) for r in results))
        + f" --baseline {baseline}` ({datetime.now(UTC).strftime('%Y-%m-%d')})"
    )
    parts: dict[str, str] = {}
    for r in results:
        base, new, steps = r["base"], r["new"], r["steps"]
        points = [round(steps * (i + 1) / n_points) for i in range(n_points)]
        b_curve = curve(Path(base["run"]) / "train.csv", points)
        n_curve = curve(Path(new["run"]) / "train.csv", points)
        gaps = [abs(a - b) for a, b in zip(b_curve, n_curve, strict=True) if None not in (a, b)]
        worst = max(gaps) if gaps else float("nan")
        verdict = "equal" if worst <= TOLERANCE else "**differs**"
        name = f"{r['task']} seed {r['seed']} vs {baseline}"
        parts[name] = "\n".join(
            [
                f"### {name}: worst gap {worst:.0%} ({verdict})",
                "",
                command,
                "",
                "| steps | " + " | ".join(f"{p:,}" for p in points) + " | held-out | CPU (s) |",
                "| --- |" + " ---: |" * (len(points) + 2),
                _row(f"baseline {baseline}", b_curve, base),
                _row("this tree", n_curve, new),
                "",
            ]
        )
    for name, lines in _mean_curves(results, n_points, baseline).items():
        parts[name] = "\n".join([lines[0], "", command, *lines[1:]])
    return parts


def merge(old: str | None, parts: dict[str, str]) -> str:
    """The whole curves section body: the intro, then the subsections of ``old`` (the body in
    RESULTS.md) that this run did not redo, in their order, then ``parts``."""
    blocks = old[old.index("### ") :] if old and "### " in old else None
    titled = {f"### {name}:": text.rstrip("\n") for name, text in parts.items()}
    return "\n".join([*INTRO, merge_blocks(blocks, titled)])


def _mean_curves(
    results: list[dict[str, Any]], n_points: int, baseline: str
) -> dict[str, list[str]]:
    """Per task run with several seeds: the seed-mean curves and their worst gap, keyed by
    the heading's name; each entry's first line is the heading."""
    out: dict[str, list[str]] = {}
    for task in dict.fromkeys(r["task"] for r in results):
        runs = [r for r in results if r["task"] == task]
        if len(runs) < 2:
            continue
        steps = runs[0]["steps"]
        points = [round(steps * (i + 1) / n_points) for i in range(n_points)]
        means = {}
        for side in ("base", "new"):
            curves = [curve(Path(r[side]["run"]) / "train.csv", points) for r in runs]
            means[side] = [
                None if None in col else sum(col) / len(col) for col in zip(*curves, strict=True)
            ]
        gaps = [
            abs(a - b)
            for a, b in zip(means["base"], means["new"], strict=True)
            if None not in (a, b)
        ]
        worst = max(gaps) if gaps else float("nan")
        verdict = "equal" if worst <= TOLERANCE else "**differs**"
        held = {k: sum(r[k]["success_rate"] for r in runs) / len(runs) for k in ("base", "new")}
        name = f"{task}, mean of seeds {', '.join(str(r['seed']) for r in runs)} vs {baseline}"
        out[name] = [
            f"### {name}: worst gap {worst:.0%} ({verdict}); held-out {held['base']:.1%} -> "
            f"{held['new']:.1%}",
            "",
            "| steps | " + " | ".join(f"{p:,}" for p in points) + " |",
            "| --- |" + " ---: |" * len(points),
            *(
                f"| {name} | "
                + " | ".join("-" if v is None else f"{v:.0%}" for v in means[side])
                + " |"
                for name, side in (("baseline", "base"), ("this tree", "new"))
            ),
            "",
        ]
    return out


def _row(name: str, values: list[float | None], result: dict[str, Any]) -> str:
    cells = ["-" if v is None else f"{v:.0%}" for v in values]
    return (
        f"| {name} | "
        + " | ".join(cells)
        + f" | {result['success_rate']:.0%} | {result['cpu_s']:.0f} |"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--tasks", nargs="+", default=["DroneHover", "DroneGates", "ArmReach"], help="TASK[=STEPS]"
    )
    parser.add_argument("--steps", type=int, default=500_000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--baseline", default="5046d00", help="commit to compare against")
    parser.add_argument("--points", type=int, default=10, help="curve points per run")
    parser.add_argument("--out", default="runs/bench/curves")
    parser.add_argument("--reuse", action="store_true", help="reuse results found in --out")
    parser.add_argument(
        "--only-existing",
        action="store_true",
        help="with --reuse: report only the pairs already in --out, train nothing",
    )
    parser.add_argument("--no-write", action="store_true", help="do not update RESULTS.md")
    args = parser.parse_args(argv)
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        base_tree = Path(tmp) / "base"
        subprocess.run(
            ["git", "worktree", "add", "--detach", str(base_tree), args.baseline],
            cwd=ROOT,
            check=True,
            capture_output=True,
        )
        try:
            results = []
            for spec in args.tasks:
                task, _, budget = spec.partition("=")
                steps = int(budget) if budget else args.steps
                for seed in args.seeds:
                    have = [out / f"{lab}_{task}_{seed}.json" for lab in ("new", "base")]
                    if args.only_existing and not all(f.exists() for f in have):
                        continue
                    new = run_learning(ROOT, "new", task, steps, seed, out, args.reuse)
                    base = run_learning(base_tree, "base", task, steps, seed, out, args.reuse)
                    results.append(
                        {"task": task, "seed": seed, "steps": steps, "base": base, "new": new}
                    )
                    print(
                        f"{task} seed {seed}: held-out {base['success_rate']:.0%} -> "
                        f"{new['success_rate']:.0%}, CPU {base['cpu_s']:.0f} s -> "
                        f"{new['cpu_s']:.0f} s",
                        flush=True,
                    )
        finally:
            subprocess.run(
                ["git", "worktree", "remove", "--force", str(base_tree)], cwd=ROOT, check=False
            )
    parts = section(results, args.baseline, args.points)
    print("\n".join(parts.values()))
    if not args.no_write:
        write_section(SECTION, merge(read_section(SECTION), parts))


if __name__ == "__main__":
    main()
