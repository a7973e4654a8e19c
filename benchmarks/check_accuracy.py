"""How often the checks before training are right (issue #15 item 3).

The checks (:mod:`agentic_rl.designers.precheck`) refuse a reward before it gets training
steps when, on its parent's recorded evaluation episodes, successes do not out-earn failures
or ending early by a failure pays. The target: at least 80% of the rewards they refuse, trained
anyway, end below their parent. The offline designer rarely proposes such a reward (it measures
a survival offset where success is judged at the time limit), so the loop's benchmark hardly
sees a refusal; this
benchmark builds the population a real designer would produce and measures the checks on it.

Per task and run seed (``--seeds``):

1. **The parent**: the loop's own iteration 0 (offline designer, ``--parent-candidates``
   candidates x ``--parent-steps`` steps, no halving), run by :class:`~agentic_rl.loop.RefineLoop`;
   its best candidate is the parent, with the evaluation episodes the loop recorded for it
   (``episodes.npz``, selection seeds) and its checkpoint.
2. **The population** of candidate rewards, shaped like what designers propose for iteration 1:

   * the offline designer's iteration-1 proposals (``--proposals`` of them) as the loop makes
     them (survival guard on);
   * the same proposals with the guard off (``OfflineDesigner(survival=False)``: alive offset
     0, so added penalties can make the per-step reward negative and crashing pay); one whose
     guard added nothing is the same reward and is not repeated;
   * the model-style programs of ``benchmarks/check_corpus.toml`` (data: typical model
     mistakes and sound programs, templates filled from the task's declarations; see that
     file), those the task declares the fields for.

   Every candidate goes through the reward pipeline (:func:`rewards.check_source`) and then the
   checks (:func:`~agentic_rl.designers.precheck.check_reward` on the parent's episodes), the
   same calls the loop makes.
3. **Training**: up to ``--train N`` refused rewards and up to N accepted ones (spread evenly
   over each list, in population order), each warm-started from the parent's checkpoint for
   ``--steps`` steps, as the loop trains a candidate of iteration 1; all with the same training
   seed, so candidates differ by their reward only. The **control** (the parent's own reward
   continued for the same steps) is the baseline trained in the same run: what more training
   alone does. The parent and every trained policy are scored on the same fresh benchmark
   seeds (``--episodes``).

A refused reward that trained below the parent (success on the benchmark seeds strictly
lower) is a refusal the check got right; the figure is their share, pooled over the seeds
(target >= 80%). Beside it: the share of accepted rewards that trained below the parent (what
the checks miss), the base rate of the whole trained sample (what a check refusing at random
would score), and the same table against the control (below what the loop would have had
without the new reward). Tables go into ``benchmarks/RESULTS.md`` (section
``check_accuracy``, one block per task); ``--json`` prints everything.

Usage: ``python benchmarks/check_accuracy.py --tasks DroneHover [--seeds 0,1,2
--parent-steps 150000 --steps 100000 --train 8 --episodes 50 --json --no-write]``.

The module is over 500 lines because it is one experiment end to end (parent, population,
training, tables); its parts share the run's state and are not used elsewhere.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import string
import sys
import tempfile
import time
import tomllib
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

sys.path.insert(0, str(Path(__file__).parent))

from _bench import (
    RESULTS,
    cpu_seconds,
    merge_blocks,
    read_section,
    train_timed,
    write_section,
)

if TYPE_CHECKING:
    from agentic_rl.designers.offline import TaskView
    from agentic_rl.designers.precheck import RecordedEpisode
    from agentic_rl.records import CandidateRecord, IterationRecord
    from sims.spec import TaskSpec

#: This benchmark's section of RESULTS.md, and the heading above it.
SECTION = "check_accuracy"
HEADING = "## Checks before training: how often they are right (benchmarks/check_accuracy.py)"
#: The model-style programs (data).
CORPUS = Path(__file__).with_name("check_corpus.toml")
#: The share of refused rewards that must train below their parent (issue #15).
TARGET = 0.8


@dataclass
class Candidate:
    """One reward of the population, what the checks said and, when trained, what it did.

    Attributes:
        name: where it came from (``designer k (guard on)``, ``corpus: NAME``).
        origin: ``designer, guard on``, ``designer, guard off`` or ``corpus``.
        intent: the author's intent for corpus programs (``mistake``/``sound``), else ``-``.
        code: the program text.
        verdict: ``refused`` or ``accepted`` by the checks, ``rejected`` by the pipeline.
        why: the first failed check's message (refused), or the pipeline's (rejected).
        trained: the trained row (success, cpu_s, below_parent ...) when it was trained.
    """

    name: str
    origin: str
    intent: str
    code: str
    verdict: str = ""
    why: str = ""
    trained: dict[str, Any] | None = field(default=None)


# ------------------------------------------------------------------------------ the parent
def make_parent(task_id: str, seed: int, args: argparse.Namespace, work: Path) -> tuple[Any, Any]:
    """Run the loop's iteration 0 and return ``(loop, parent record)`` (its best candidate)."""
    from rich.console import Console

    from agentic_rl.config import RefineConfig
    from agentic_rl.loop import RefineLoop

    cfg = RefineConfig(
        task=task_id,
        iterations=1,
        candidates=args.parent_candidates,
        steps=args.parent_steps,
        halving=False,
        workers=1,
        seed=seed,
        randomized_seeds=0,
        reeval_seeds=0,
        test_episodes=0,
        test_randomized_episodes=0,
        video=False,
        export=False,
        out=str(work / "runs"),
    )
    loop = RefineLoop.start(cfg, Console(quiet=True))
    loop.run()
    best = loop.manifest.best
    if best is None:
        raise SystemExit(f"{task_id}: iteration 0 trained no candidate; nothing to check against")
    parent = next(c for it in loop.manifest.iterations for c in it.candidates if c.cid == best.cid)
    return loop, parent


# ------------------------------------------------------------------------------ the population
def designer_candidates(
    spec: TaskSpec, history: list[IterationRecord], n: int, seed: int
) -> list[Candidate]:
    """The offline designer's next proposals, guard on and guard off (a guard-off proposal
    whose genome equals its guard-on twin is the same reward and is left out)."""
    from agentic_rl.designers.offline import OfflineDesigner

    on = OfflineDesigner(seed=seed).propose(spec, history, n)
    off = OfflineDesigner(seed=seed, survival=False).propose(spec, history, n)
    out = [
        Candidate(f"designer {k} (guard on)", "designer, guard on", "-", p.response)
        for k, p in enumerate(on)
    ]
    for k, (p_on, p_off) in enumerate(zip(on, off, strict=True)):
        if p_off.meta.get("genome") != p_on.meta.get("genome"):
            out.append(
                Candidate(f"designer {k} (guard off)", "designer, guard off", "-", p_off.response)
            )
    return out


def placeholders(view: TaskView) -> dict[str, str]:
    """The corpus placeholders this task declares (see ``check_corpus.toml``)."""
    body = view.spec.body
    values = {
        "dist": view.dist_expr("state"),
        "prev_dist": view.dist_expr("prev_state"),
        "tol": view.primary.tol_expr,
        "scale": repr(float(view.primary.shaping_scale)),
    }
    fields = {
        "body_velocity": ("state", body.velocity, ""),
        "body_tilt": ("state", body.tilt, ""),
        "body_rates": ("state", body.angular_velocity, ""),
        "body_height": ("state", body.position, "[2]"),
        "fed_back_action": ("prev_state", view.last_action, ""),
    }
    for key, (snap, name, index) in fields.items():
        if name is not None:
            values[key] = f'{snap}["{name}"]{index}'
    return values


def corpus_candidates(spec: TaskSpec, path: Path = CORPUS) -> tuple[list[Candidate], list[str]]:
    """The corpus programs filled from the task's declarations, and the names of those the
    task lacks a field for (skipped)."""
    from agentic_rl.designers.offline import TaskView

    values = placeholders(TaskView.of(spec))
    out, skipped = [], []
    for entry in tomllib.loads(path.read_text())["program"]:
        template = string.Template(entry["code"].strip("\n") + "\n")
        missing = sorted(set(template.get_identifiers()) - set(values))
        if missing:
            skipped.append(f"{entry['name']} (no {', '.join(missing)})")
            continue
        code = template.substitute(values)
        out.append(Candidate(f"corpus: {entry['name']}", "corpus", entry["intent"], code))
    return out, skipped


def run_checks(spec: TaskSpec, episodes: list[RecordedEpisode], cands: list[Candidate]) -> None:
    """The pipeline, then the checks before training, on every candidate (in place)."""
    import rewards
    from agentic_rl.designers.precheck import check_reward

    for c in cands:
        accepted = rewards.check_source(c.code, spec)
        if isinstance(accepted, rewards.Rejected):
            c.verdict, c.why = "rejected", f"{accepted.stage}: {accepted.message.splitlines()[0]}"
            continue
        c.code = accepted.program.source
        verdict = check_reward(c.code, spec, episodes)
        c.verdict = "accepted" if verdict.passed else "refused"
        failed = [k.message for k in verdict.checks if k.applicable and not k.passed]
        c.why = (failed[0] if failed else "").split(". ")[0] if not verdict.passed else ""


def spread(items: list[Any], n: int) -> list[Any]:
    """Up to ``n`` of ``items``, spread evenly over the list (all when there are fewer)."""
    if len(items) <= n:
        return list(items)
    return [items[(i * len(items)) // n] for i in range(n)]


# ------------------------------------------------------------------------------ training
def score(policy: Path, task_id: str, episodes: int) -> dict[str, Any]:
    """Success and termination reasons on the fresh benchmark seeds."""
    from agentic_rl.ppo import evaluate
    from agentic_rl.seeds import BENCHMARK

    res = evaluate(policy, task_id, seeds=BENCHMARK.seeds(episodes, 0))
    return {"success": res.success_rate, "reasons": dict(res.termination_reasons)}


def train_warm(
    task_id: str,
    code: str,
    parent: CandidateRecord,
    seed: int,
    args: argparse.Namespace,
    out: Path,
) -> dict[str, Any]:
    """Train ``code`` from the parent's checkpoint for ``--steps`` as the loop would, score it."""
    from agentic_rl import seeds

    out.mkdir(parents=True, exist_ok=True)
    reward = out / "reward.py"
    reward.write_text(code)
    c0 = cpu_seconds()
    timed = train_timed(
        task_id,
        args.steps,
        seeds.training(seed, 1, 0),
        out / "run",
        reward=str(reward),
        init_from=str(Path(parent.run_dir) / "checkpoint.pt"),
    )
    row = score(Path(timed.result.policy), task_id, args.episodes)
    return {**row, "steps": timed.result.steps, "cpu_s": cpu_seconds() - c0}


# ------------------------------------------------------------------------------ the figures
def confusion(outcomes: Iterable[tuple[str, bool]]) -> dict[str, Any]:
    """The confusion table of trained candidates (pure arithmetic).

    Args:
        outcomes: ``(verdict, below)`` per trained candidate: the checks' verdict (``refused``
            or ``accepted``) and whether it trained below its yardstick (the parent, or the
            control).

    Returns:
        Counts (``refused_below``, ``refused_not``, ``accepted_below``, ``accepted_not``) and
        shares: ``refused_right`` (refused and below: the target figure against the parent),
        ``accepted_below_share`` (what the checks missed) and ``base_rate`` (below among all
        trained: what refusing at random would score); a share is ``None`` when its group is
        empty, and ``target_met`` is ``None`` when nothing refused was trained.
    """
    counts = {"refused_below": 0, "refused_not": 0, "accepted_below": 0, "accepted_not": 0}
    for verdict, below in outcomes:
        if verdict in ("refused", "accepted"):
            counts[f"{verdict}_{'below' if below else 'not'}"] += 1

    def share(k: int, n: int) -> float | None:
        return k / n if n else None

    refused = counts["refused_below"] + counts["refused_not"]
    accepted = counts["accepted_below"] + counts["accepted_not"]
    right = share(counts["refused_below"], refused)
    return {
        **counts,
        "refused_trained": refused,
        "accepted_trained": accepted,
        "refused_right": right,
        "accepted_below_share": share(counts["accepted_below"], accepted),
        "base_rate": share(counts["refused_below"] + counts["accepted_below"], refused + accepted),
        "target_met": None if right is None else right >= TARGET,
    }


def outcomes(runs: list[dict[str, Any]], against: str) -> list[tuple[str, bool]]:
    """``(verdict, below)`` of every trained candidate of ``runs``; ``against`` is
    ``"parent"`` or ``"control"``."""
    return [
        (c["verdict"], c["trained"][f"below_{against}"])
        for run in runs
        for c in run["candidates"]
        if c["trained"] is not None
    ]


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x:.0%}"


def _reasons(r: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(r.items(), key=lambda kv: -kv[1]))


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def run_lines(run: dict[str, Any]) -> list[str]:
    """One seed's population line and table (parent, control, every trained candidate)."""
    p, ctl = run["parent"], run["control"]
    lines = [
        f"**Seed {run['seed']}**: {run['cpu_s']:.0f} CPU s (parent {p['cpu_s']:.0f}, checks "
        f"{run['checks_cpu_s']:.0f}). Population {run['population']} ({run['by_origin']}): "
        f"refused {run['refused']}, accepted {run['accepted']}, rejected by the reward "
        f"pipeline {run['rejected']}"
        + (
            f"; corpus entries not applicable: {', '.join(run['skipped'])}"
            if run["skipped"]
            else ""
        )
        + f". The parent's recorded episodes: {p['recorded_successes']} successes of "
        f"{p['recorded_episodes']} ({_reasons(p['recorded_reasons'])}).",
        "",
        "| reward | origin | intent | checks | success | below parent | below control | "
        "endings (benchmark seeds) | CPU s |",
        "|---|---|---|---|---:|---|---|---|---:|",
        f"| parent {p['cid']} ({p['steps']:,} steps) | loop iteration 0 | - | - | "
        f"{_pct(p['success'])} | - | - | {_reasons(p['reasons'])} | {p['cpu_s']:.0f} |",
        f"| control (parent's reward, same steps) | baseline | - | - | {_pct(ctl['success'])} | "
        f"{_yes(ctl['below_parent'])} | - | {_reasons(ctl['reasons'])} | {ctl['cpu_s']:.0f} |",
    ]
    for c in run["candidates"]:
        t = c["trained"]
        if t is None:
            continue
        # the check that failed, e.g. "(b) Ending the episode early pays" (numbers: --json)
        why = f" {c['why'].split(':')[0]}" if c["verdict"] == "refused" and c["why"] else ""
        lines.append(
            f"| {c['name']} | {c['origin']} | {c['intent']} | {c['verdict']}{why} | "
            f"{_pct(t['success'])} | {_yes(t['below_parent'])} | {_yes(t['below_control'])} | "
            f"{_reasons(t['reasons'])} | {t['cpu_s']:.0f} |"
        )
    return lines


def block(res: dict[str, Any], command: str, load: str) -> tuple[str, str]:
    """One task's block of RESULTS.md: ``(title, markdown)``."""
    runs, acc, ctl = res["runs"], res["accuracy"], res["vs_control"]
    title = (
        f"### {res['task'].split('/')[-1]}: seeds {', '.join(str(r['seed']) for r in runs)}; "
        f"parent: the loop's iteration 0 at {res['parent_steps']:,} steps; candidates "
        f"warm-started for {res['steps']:,} steps"
    )
    lines = [
        title,
        "",
        f"`{command}`; load average {load}; {res['cpu_s']:.0f} CPU s in all.",
        "",
        "| checks said | trained below parent | not below | share below | below control |",
        "|---|---:|---:|---:|---:|",
        f"| refused | {acc['refused_below']} | {acc['refused_not']} | "
        f"{_pct(acc['refused_right'])} | {_pct(ctl['refused_right'])} |",
        f"| accepted | {acc['accepted_below']} | {acc['accepted_not']} | "
        f"{_pct(acc['accepted_below_share'])} | {_pct(ctl['accepted_below_share'])} |",
        "",
        f"Refused rewards that trained below their parent: {acc['refused_below']} of "
        f"{acc['refused_trained']} ({_pct(acc['refused_right'])}; target >= {TARGET:.0%}: "
        + {True: "met", False: "missed", None: "not measured (none refused)"}[acc["target_met"]]
        + f"). Accepted rewards below the parent: {_pct(acc['accepted_below_share'])}; all "
        f"trained: {_pct(acc['base_rate'])} (what refusing at random would score). Controls "
        "(the parent's own reward, same steps): "
        + ", ".join(
            f"seed {r['seed']} {_pct(r['control']['success'])} vs parent "
            f"{_pct(r['parent']['success'])}"
            for r in runs
        )
        + ".",
    ]
    for run in runs:
        lines += ["", *run_lines(run)]
    return title, "\n".join(lines)


def write_results(
    results: list[dict[str, Any]], command: str, load: str, path: Path = RESULTS
) -> None:
    """Put this run's blocks into the section of RESULTS.md (replacing the same task's)."""
    new = dict(block(r, command, load) for r in results)
    body = merge_blocks(
        read_section(SECTION, path),
        new,
        same=lambda first, title: first.split(":")[0] == title.split(":")[0],
    )
    write_section(SECTION, body, path, heading=HEADING)


# ------------------------------------------------------------------------------ one task
def bench(task_id: str, seed: int, args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """The whole measurement for one task and seed (see the module docstring)."""
    import sims
    from agentic_rl.designers.precheck import parent_episodes

    spec = sims.get_spec(task_id)
    c_all = cpu_seconds()
    loop, parent = make_parent(task_id, seed, args, work)
    parent_cpu = cpu_seconds() - c_all
    episodes = parent_episodes(parent)
    if not episodes:
        raise SystemExit(f"{task_id}: the parent {parent.cid} has no recorded episodes")
    cands = designer_candidates(spec, loop.history(), args.proposals, seed)
    corpus, skipped = corpus_candidates(spec)
    cands += corpus
    c0 = cpu_seconds()
    run_checks(spec, episodes, cands)
    checks_cpu = cpu_seconds() - c0
    refused = [c for c in cands if c.verdict == "refused"]
    accepted = [c for c in cands if c.verdict == "accepted"]
    p_row = score(Path(parent.run_dir) / "policy.npz", task_id, args.episodes)
    control = train_warm(task_id, parent.code or "", parent, seed, args, work / "control")
    control["below_parent"] = control["success"] < p_row["success"]
    for i, c in enumerate(spread(refused, args.train) + spread(accepted, args.train)):
        t = train_warm(task_id, c.code, parent, seed, args, work / f"cand_{i}")
        t["below_parent"] = t["success"] < p_row["success"]
        t["below_control"] = t["success"] < control["success"]
        c.trained = t
    by_origin: dict[str, int] = {}
    for c in cands:
        by_origin[c.origin] = by_origin.get(c.origin, 0) + 1
    recorded: dict[str, int] = {}
    for e in episodes:
        recorded[e.reason] = recorded.get(e.reason, 0) + 1
    return {
        "seed": seed,
        "parent": {
            "cid": parent.cid,
            "steps": parent.steps,
            "cpu_s": parent_cpu,
            "recorded_episodes": len(episodes),
            "recorded_successes": sum(e.success for e in episodes),
            "recorded_reasons": recorded,
            **p_row,
        },
        "control": control,
        "population": len(cands),
        "by_origin": ", ".join(f"{k} {v}" for k, v in by_origin.items()),
        "refused": len(refused),
        "accepted": len(accepted),
        "rejected": sum(c.verdict == "rejected" for c in cands),
        "skipped": skipped,
        "candidates": [asdict(c) for c in cands],
        "checks_cpu_s": checks_cpu,
        "cpu_s": cpu_seconds() - c_all,
    }


def bench_task(task: str, args: argparse.Namespace) -> dict[str, Any]:
    """Every seed of one task, and the confusion tables pooled over them."""
    from agentic_rl.ppo.envs import canonical_task_id

    task_id = canonical_task_id(task)
    runs = [
        bench(task_id, seed, args, Path(tempfile.mkdtemp(prefix="bench_checks_")))
        for seed in args.seeds
    ]
    return {
        "task": task_id,
        "parent_steps": args.parent_steps,
        "steps": args.steps,
        "runs": runs,
        "accuracy": confusion(outcomes(runs, "parent")),
        "vs_control": confusion(outcomes(runs, "control")),
        "cpu_s": sum(r["cpu_s"] for r in runs),
    }


def _seeds(text: str) -> list[int]:
    try:
        seeds = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"seeds must be integers like 0,1, got {text!r}") from None
    if not seeds:
        raise argparse.ArgumentTypeError("give at least one seed, e.g. --seeds 0,1")
    return seeds


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", default="DroneHover", help="comma-separated task names")
    ap.add_argument("--seeds", type=_seeds, default=[0, 1, 2], help="comma-separated run seeds")
    ap.add_argument("--parent-steps", type=int, default=150_000, help="iteration 0's steps")
    ap.add_argument("--parent-candidates", type=int, default=2, help="iteration 0's candidates")
    ap.add_argument("--proposals", type=int, default=4, help="designer proposals (each guard)")
    ap.add_argument("--steps", type=int, default=100_000, help="warm-start steps per candidate")
    ap.add_argument(
        "--train", type=int, default=8, metavar="N", help="refused (and accepted) rewards to train"
    )
    ap.add_argument("--episodes", type=int, default=50, help="benchmark-seed episodes per policy")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--no-write", action="store_true", help="do not update RESULTS.md")
    args = ap.parse_args()
    for name in ("parent_steps", "parent_candidates", "proposals", "steps", "episodes"):
        if getattr(args, name) < 1:
            ap.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.train < 0:
        ap.error("--train must be >= 0")
    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    w0 = time.monotonic()
    results = [bench_task(task, args) for task in args.tasks.split(",") if task]
    command = "python benchmarks/check_accuracy.py " + " ".join(
        shlex.quote(a) for a in sys.argv[1:]
    )
    if not args.no_write:
        write_results(results, command, load)
    if args.json:
        print(json.dumps(results, indent=2, default=str))
    for res in results:
        acc = res["accuracy"]
        print(
            f"{res['task']}: refused rewards below their parent {acc['refused_below']} of "
            f"{acc['refused_trained']} ({_pct(acc['refused_right'])}, target >= "
            f"{TARGET:.0%}); accepted below parent {_pct(acc['accepted_below_share'])}; base "
            f"rate {_pct(acc['base_rate'])}; "
            + "; ".join(
                f"seed {r['seed']}: parent {_pct(r['parent']['success'])}, control "
                f"{_pct(r['control']['success'])}"
                for r in res["runs"]
            )
            + f"; {res['cpu_s']:.0f} CPU s, wall {time.monotonic() - w0:.0f} s (load {load})",
            file=sys.stderr if args.json else sys.stdout,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
