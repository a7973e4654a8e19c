"""The refinement loop per task, against the sparse and reference rewards (issue #15 item 6).

For each task this runs the loop (offline designer) and then scores, on the same fresh
benchmark seeds (the ``BENCHMARK`` seed stream: never used for training, selection or the
loop's own test), every row of:

* ``sparse``: the task's sparse reward, trained for as many steps as the final's lineage;
* ``naive``: iteration 0 candidate 0 (the designer's first, naive reward), as the loop trained
  it; when successive halving stopped it at the rung, it is trained here (its reward and
  training seed) to the steps iteration 0's survivors got;
* ``iteration 0 best`` and ``final``: the loop's policies (the final with warm starts has a
  lineage: its parents' steps count, see ``steps``);
* ``reference``: the hand-written reference reward trained for the final's lineage steps;
* Eureka's protocol: the final reward retrained from scratch at the task's default budget
  (``--budget-scale`` shortens it, flagged), two seeds, next to the reference and sparse
  rewards at that budget.

Each row has CPU seconds (process and children) and the Eureka-normalized score
``(row - sparse) / |reference - sparse|`` against the sparse and reference rows of the same
budget. ``--train-refused N`` trains up to N rewards that the checks before training refused,
as they would have been trained, and reports whether each did end below its parent (the check
was right). Tables go into ``benchmarks/RESULTS.md``; ``--json`` prints the rows.

Usage: ``python benchmarks/refine.py --tasks DroneHover,DroneGates [--iterations 3
--candidates 4 --steps 100000 --budget-scale 0.25 --episodes 50 --json]``.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from _bench import cpu_seconds, merge_blocks, read_section, write_section

#: This benchmark's section of RESULTS.md, and the heading above it.
SECTION, HEADING = "refine", "## Refinement loop (benchmarks/refine.py)"
#: Marks a block measured at a shortened budget (a rerun at full budget replaces it).
SHORT = " **(shortened)**"


def _score(policy: Path, task: str, episodes: int) -> float:
    from agentic_rl.ppo import evaluate
    from agentic_rl.seeds import BENCHMARK

    return evaluate(policy, task, seeds=BENCHMARK.seeds(episodes, 0)).success_rate


def _train_row(
    name: str, task: str, reward: Any, steps: int, seed: int, out: Path, episodes: int, **kw: Any
) -> dict[str, Any]:
    from _bench import train_timed

    c0 = cpu_seconds()
    timed = train_timed(task, steps, seed, out, reward=reward, **kw)
    return {
        "row": name,
        "steps": timed.result.steps,
        "seed": seed,
        "success": _score(Path(timed.result.policy), task, episodes),
        "cpu_s": cpu_seconds() - c0,
    }


def _lineage_cpu(manifest: Any, cid: str) -> float:
    """CPU seconds of training along a policy's lineage (from each candidate's train.csv)."""
    from agentic_rl.report.summary import lineage_chain

    total = 0.0
    for link in lineage_chain(manifest, cid):
        rec = next(c for it in manifest.iterations for c in it.candidates if c.cid == link["cid"])
        csv = Path(rec.run_dir) / "train.csv"
        if csv.exists():
            lines = csv.read_text().splitlines()
            head = lines[0].split(",")
            if "time/cpu_s" in head and len(lines) > 1:
                total += float(lines[-1].split(",")[head.index("time/cpu_s")] or 0.0)
    return total


def bench(task: str, args: argparse.Namespace, work: Path) -> dict[str, Any]:
    from rich.console import Console

    from agentic_rl.config import RefineConfig
    from agentic_rl.loop import RefineLoop
    from agentic_rl.ppo import DEFAULT_BUDGETS
    from agentic_rl.ppo.envs import canonical_task_id
    from agentic_rl.report.summary import improvement, normalized_score

    task_id = canonical_task_id(task)
    cfg = RefineConfig(
        task=task_id,
        iterations=args.iterations,
        candidates=args.candidates,
        steps=args.steps,
        workers=args.workers,
        seed=args.seed,
        video=False,
        out=str(work / "runs"),
    )
    c0, w0 = cpu_seconds(), time.monotonic()
    loop = RefineLoop.start(cfg, Console(quiet=True))
    loop.run()
    loop_cpu, loop_wall = cpu_seconds() - c0, time.monotonic() - w0
    m = loop.manifest
    assert m.best is not None, f"{task}: no candidate finished training"
    records = {c.cid: c for it in m.iterations for c in it.candidates}
    final = records[m.best.cid]
    i0 = m.iterations[0]
    naive, i0_best = i0.candidates[0], i0.best
    lineage_steps = final.lineage.steps
    budget = int(DEFAULT_BUDGETS.get(task_id, 1_000_000) * args.budget_scale)
    rows: list[dict[str, Any]] = []
    ep = args.episodes

    def loop_row(name: str, rec: Any, cpu: float) -> None:
        if rec is None or rec.status != "trained":
            rows.append({"row": name, "steps": 0, "seed": args.seed, "success": None, "cpu_s": 0.0})
            return
        rows.append(
            {
                "row": name,
                "steps": rec.lineage.steps,
                "seed": args.seed,
                "success": _score(Path(rec.run_dir) / "policy.npz", task_id, ep),
                "cpu_s": cpu,
                "cid": rec.cid,
            }
        )

    rows.append(_train_row("sparse", task_id, "sparse", lineage_steps, 0, work / "sparse", ep))
    if naive.status == "stopped_early" and i0_best is not None:
        # Halving stopped the naive reward at the rung: train it as the loop would have (its
        # reward, its training seed) to the steps iteration 0's survivors got, so the row is
        # a real policy and not a blank.
        from agentic_rl.seeds import training

        row = _train_row(
            "naive (trained past the rung)",
            task_id,
            str(Path(naive.run_dir) / "reward.py"),
            i0_best.steps,
            training(args.seed, 0, 0),
            work / "naive",
            ep,
        )
        rows.append({**row, "cid": naive.cid, "seed": args.seed})
    else:
        loop_row("naive (i0/c0)", naive, _lineage_cpu(m, naive.cid))
    loop_row("iteration 0 best", i0_best, _lineage_cpu(m, i0_best.cid) if i0_best else 0.0)
    loop_row("final", final, _lineage_cpu(m, final.cid))
    rows[-1]["loop_cpu_s"] = loop_cpu
    rows.append(_train_row("reference", task_id, "reference", lineage_steps, 0, work / "ref", ep))
    sparse_at, ref_at = rows[0]["success"], rows[-1]["success"]
    for r in rows:
        if r["success"] is not None:
            r["normalized"] = normalized_score(r["success"], sparse_at, ref_at)
    budget_rows = []
    if args.retrain:
        reward_file = str(Path(final.run_dir) / "reward.py")
        for seed in (0, 1):
            for name, reward in (
                ("final reward, from scratch", reward_file),
                ("reference", "reference"),
                ("sparse", "sparse"),
            ):
                budget_rows.append(
                    _train_row(
                        f"{name} @ budget",
                        task_id,
                        reward,
                        budget,
                        seed,
                        work / f"b{seed}{name[:3]}",
                        ep,
                    )
                )
        by = {}
        for r in budget_rows:
            by.setdefault(r["row"], []).append(r["success"])
        mean = {k: sum(v) / len(v) for k, v in by.items()}
        for r in budget_rows:
            r["normalized"] = normalized_score(
                r["success"], mean["sparse @ budget"], mean["reference @ budget"]
            )
    refused = _train_refused(m, records, args, task_id, work) if args.train_refused else []
    summary = json.loads((loop.store.root / "summary.json").read_text())
    t_i0 = next(r for r in rows if r["row"] == "iteration 0 best")["success"]
    t_final = next(r for r in rows if r["row"] == "final")["success"]
    return {
        "task": task_id,
        "loop": {
            "iterations": args.iterations,
            "candidates": args.candidates,
            "steps": args.steps,
            "cpu_s": loop_cpu,
            "wall_s": loop_wall,
            "run_dir": str(loop.store.root),
            "controls": summary["controls"],
            "kept_parent_level": summary["kept_parent_level"],
            "refused_by_checks": summary["refused_by_checks"],
        },
        "budget": budget,
        "budget_scale": args.budget_scale,
        "rows": rows + budget_rows,
        "improvement_over_iteration_0": None
        if t_i0 is None or t_final is None
        else improvement(t_i0, t_final),
        "refused_trained": refused,
        "check_accuracy": _accuracy(refused),
    }


def _accuracy(refused: list[dict[str, Any]]) -> dict[str, Any] | None:
    """How often the checks before training were right: the share of refused rewards that,
    trained anyway, ended below their parent (``None`` when none was trained)."""
    if not refused:
        return None
    right = sum(bool(r["check_right"]) for r in refused)
    return {"right": right, "trained": len(refused), "share": right / len(refused)}


def _train_refused(
    m: Any, records: dict[str, Any], args: argparse.Namespace, task_id: str, work: Path
) -> list[dict[str, Any]]:
    """Train up to ``--train-refused`` refused rewards as the loop would have, and say whether
    each ended below its parent (the check was right)."""
    out = []
    refused = [c for c in records.values() if c.status == "refused"][: args.train_refused]
    for c in refused:
        parent = records.get(c.proposal.parent)
        if parent is None or parent.status != "trained" or c.code is None:
            continue
        reward = work / f"refused_{c.iteration}_{c.index}.py"
        reward.write_text(c.code)
        row = _train_row(
            f"refused {c.cid}",
            task_id,
            str(reward),
            args.steps,
            args.seed,
            work / f"refused_{c.iteration}_{c.index}",
            args.episodes,
            init_from=c.lineage.init_checkpoint,
        )
        parent_success = _score(Path(parent.run_dir) / "policy.npz", task_id, args.episodes)
        row.update(parent=parent.cid, parent_success=parent_success)
        row["check_right"] = row["success"] < parent_success
        out.append(row)
    return out


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x:.0%}"


def write_results(results: list[dict[str, Any]], command: str, load: str) -> None:
    """Put this run's tables into the refine section of RESULTS.md (one block per task and
    settings, replacing an earlier run of the same)."""
    blocks_new = []
    for res in results:
        lp = res["loop"]
        short = SHORT if res["budget_scale"] < 1 else ""
        title = (
            f"### {res['task'].split('/')[-1]}: {lp['iterations']} iterations x "
            f"{lp['candidates']} candidates x {lp['steps']:,} steps; default budget x "
            f"{res['budget_scale']:g}"
        )
        lines = [
            title + short,
            "",
            f"`{command}`; load average {load}; loop wall {lp['wall_s']:.0f} s, "
            f"{lp['cpu_s']:.0f} CPU s.",
            "",
            "| row | steps | seed | success (benchmark seeds) | normalized | CPU s |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        for r in res["rows"]:
            norm = r.get("normalized")
            lines.append(
                f"| {r['row']}{' ' + r['cid'] if r.get('cid') else ''} | {r['steps']:,} | "
                f"{r['seed']} | {_pct(r['success'])} | {'-' if norm is None else f'{norm:.2f}'} | "
                f"{r['cpu_s']:.0f} |"
            )
        imp = res["improvement_over_iteration_0"]
        ctl = "; ".join(
            f"i{c['iteration']}: refined {_pct(t.get('refined'))} / "
            f"{_pct(t.get('refined_randomized'))} vs control {_pct(t.get('control'))} / "
            f"{_pct(t.get('control_randomized'))} (nominal / randomized), "
            + {True: "beats it", False: "does not beat it", None: "-"}[
                c.get("reward_beats_control")
            ]
            for c in lp["controls"]
            for t in [c["test"] or {}]
        )
        kept = lp["kept_parent_level"]
        lines += [
            "",
            "Final vs iteration 0's best: "
            + (
                "-"
                if imp is None
                else f"{imp['success_points'] * 100:+.0f} points, relative "
                + ("n/a" if imp["relative"] is None else f"{imp['relative']:+.0%}")
            )
            + f". Refined reward vs control (loop's test seeds): {ctl or 'no control trained'}. "
            f"Iterations >= 1: {kept['kept']} of {kept['trained']} trained candidates kept their "
            f"parent's level (-10 points). Refused by the checks before training: "
            f"{lp['refused_by_checks']}"
            + (
                "; trained anyway: "
                + ", ".join(
                    f"{r['row']} {_pct(r['success'])} vs parent {_pct(r['parent_success'])} "
                    f"({'right' if r['check_right'] else 'wrong'})"
                    for r in res["refused_trained"]
                )
                if res["refused_trained"]
                else ""
            )
            + (
                f"; check accuracy {acc['right']} of {acc['trained']} ({acc['share']:.0%})"
                if (acc := res.get("check_accuracy"))
                else ""
            )
            + ".",
        ]
        blocks_new.append((title, "\n".join(lines)))
    body = merge_blocks(
        read_section(SECTION),
        dict(blocks_new),
        same=lambda first_line, title: first_line.removesuffix(SHORT) == title,
    )
    write_section(SECTION, body, heading=HEADING)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", default="DroneHover", help="comma-separated task names")
    ap.add_argument("--iterations", type=int, default=3)
    ap.add_argument("--candidates", type=int, default=4)
    ap.add_argument("--steps", type=int, default=100_000, help="steps per candidate")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--episodes", type=int, default=50, help="benchmark-seed episodes per row")
    ap.add_argument(
        "--budget-scale",
        type=float,
        default=1.0,
        help="share of the task's default budget for the from-scratch rows (< 1: shortened)",
    )
    ap.add_argument("--no-retrain", dest="retrain", action="store_false")
    ap.add_argument("--train-refused", type=int, default=2, metavar="N")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--no-write", action="store_true", help="do not update RESULTS.md")
    args = ap.parse_args()
    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    results = []
    for task in [t for t in args.tasks.split(",") if t]:
        results.append(bench(task, args, Path(tempfile.mkdtemp(prefix="bench_refine_"))))
    command = "python benchmarks/refine.py " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    if not args.no_write:
        write_results(results, command, load)
    if args.json:
        print(json.dumps(results, indent=2, default=str))
    else:
        for res in results:
            for r in res["rows"]:
                print(
                    f"{res['task']}: {r['row']:<30} {_pct(r['success']):>5} ({r['steps']:,} steps, {r['cpu_s']:.0f} CPU s)"
                )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
