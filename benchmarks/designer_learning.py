"""Does the offline designer's rule refinement learn? Naive first reward vs rule-refined ones.

On one task (default DroneHover) this trains, with the same PPO budget and seed:

1. the offline designer's naive first candidate (iteration 0, candidate 0: distance only);
2. for each further round, the designer's candidate 0 of the next iteration, which is the best
   candidate so far with the packet-driven rules applied and no random perturbation,

diagnoses each with :func:`agentic_rl.diagnostics.diagnose` (the same packets the loop feeds
back, on the selection seed stream), and evaluates every policy on the same held-out seeds
(the benchmark stream). Before a refined reward trains, the checks before training
(:func:`agentic_rl.designers.precheck.check_reward`) score it on its parent's recorded
episodes; the verdict is reported next to what training then showed. It prints each
candidate's success rate, the rules that produced it, CPU seconds, and the final/naive ratio
(the baseline, measured in the same run), and writes its table into ``benchmarks/RESULTS.md``
between ``<!-- designer_learning:begin -->`` and ``<!-- designer_learning:end -->``.

Usage: ``python benchmarks/designer_learning.py [--task DroneHover] [--steps 150000]
[--rounds 2] [--episodes 50] [--seed 0] [--json] [--no-write]``
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _bench import cpu_seconds, merge_blocks, read_section, write_section

#: This benchmark's section of RESULTS.md.
SECTION = "designer_learning"


def write_results(out: dict) -> None:
    """Put this run's table into this benchmark's section of RESULTS.md, replacing an
    earlier run of the same task, budget and seed and keeping the others."""
    title = (
        f"### Offline designer learning ({out['task']}, {out['steps']:,} steps per candidate, "
        f"seed {out['seed']}"
    )
    lines = [
        title + f", {out['episodes']} held-out episodes)",
        "",
        f"`{out['command']}`; load average {out['load']}.",
        "",
        "| round | success (held-out) | packet success | terms | rules | terminations | "
        "pre-training check | CPU s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in out["rows"]:
        check = r.get("precheck") or "-"
        lines.append(
            f"| {r['iteration']} | {r['success']:.2f} | {r['packet_success']:.2f} | "
            f"{', '.join(r['terms'])} | {', '.join(r['rules']) or '-'} | "
            f"{', '.join(f'{k} {v}' for k, v in r['terminations'].items())} | {check} | "
            f"{r['cpu_s']:.0f} |"
        )
    ratio = out["final_over_naive"]
    lines += [
        "",
        f"Naive {out['naive_success']:.2f} -> final {out['final_success']:.2f} "
        f"({'inf' if ratio is None else f'{ratio:.2f}x'}); best {out['best_success']:.2f}.",
    ]
    write_section(SECTION, merge_blocks(read_section(SECTION), {title: "\n".join(lines)}))


def _precheck_cell(verdict: Any, success: float, parent: float | None) -> str | None:
    """The check's verdict and, for a rejection, whether training proved it right."""
    if verdict is None:
        return None
    if verdict.passed:
        return "passed"
    if parent is None:
        return "rejected"
    right = success < parent
    return f"rejected ({'right' if right else 'wrong'}: {success:.2f} vs parent {parent:.2f})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="DroneHover")
    parser.add_argument("--steps", type=int, default=150_000)
    parser.add_argument("--rounds", type=int, default=2, help="refinement rounds after naive")
    parser.add_argument("--episodes", type=int, default=50, help="held-out eval episodes")
    parser.add_argument("--packet-episodes", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None, help="work folder (default: a temp dir)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--no-write", action="store_true", help="do not update RESULTS.md")
    args = parser.parse_args()
    import os

    import sims
    from agentic_rl import seeds
    from agentic_rl.designers import make_designer
    from agentic_rl.designers.precheck import check_reward, parent_episodes
    from agentic_rl.diagnostics import diagnose
    from agentic_rl.ppo import evaluate, make_config, train
    from agentic_rl.records import CandidateRecord, IterationRecord

    spec = sims.get_spec(args.task)
    work = Path(args.out or tempfile.mkdtemp(prefix="designer_learning_"))
    designer = make_designer("offline", seed=args.seed, transcript=work / "llm_transcript.jsonl")
    history: list[IterationRecord] = []
    rows = []
    for it in range(args.rounds + 1):
        cpu0 = cpu_seconds()
        proposal = designer.propose(spec, history, 1)[0]
        cand = work / f"iter_{it}"
        cand.mkdir(parents=True, exist_ok=True)
        (cand / "reward.py").write_text(proposal.response)
        verdict, parent_success = None, None
        if proposal.parent is not None:
            parent_success = rows[int(proposal.parent.split("/")[0][1:])]["success"]
            record = next(c for h in history for c in h.candidates if c.cid == proposal.parent)
            episodes = parent_episodes(record)
            if episodes:
                verdict = check_reward(proposal.response, spec, episodes)
        t0 = time.monotonic()
        config = make_config(
            task_id=spec.id,
            total_steps=args.steps,
            seed=args.seed,
            eval_episodes=0,
            progress=False,
            tensorboard=False,
        )
        result = train(config, spec.id, reward=str(cand / "reward.py"), out_dir=cand)
        train_s = time.monotonic() - t0
        packet = diagnose(
            spec.id,
            result.policy,
            cand,
            candidate=f"i{it}/c0",
            reward_source=proposal.response,
            episodes=args.packet_episodes,
            seed=seeds.SELECTION.first(args.seed),
            randomized_episodes=0,
            randomize=False,
            out_dir=cand,
            plots=False,
        )
        held_out = evaluate(
            Path(result.policy), spec.id, seeds=seeds.BENCHMARK.seeds(args.episodes, args.seed)
        )
        record = CandidateRecord(
            iteration=it,
            index=0,
            proposal=proposal,
            status="trained",
            code=proposal.response,
            success_rate=packet.nominal.success_rate,
            score=packet.nominal.success_rate,
            steps=result.steps,
            packet_path=str(cand / "packet.json"),
            run_dir=str(cand),
        )
        history.append(IterationRecord(iteration=it, candidates=[record], best_index=0))
        rows.append(
            {
                "iteration": it,
                "terms": sorted(proposal.meta["genome"]["weights"]),
                "rules": sorted({e["rule"] for e in proposal.meta["rules"]}),
                "findings": [f.code for f in packet.findings],
                "terminations": packet.nominal.termination_reasons,
                "packet_success": packet.nominal.success_rate,
                "success": held_out.success_rate,
                "train_s": round(train_s, 1),
                "cpu_s": round(cpu_seconds() - cpu0, 1),
                "precheck": _precheck_cell(verdict, held_out.success_rate, parent_success),
            }
        )
        if not args.json:
            r = rows[-1]
            print(
                f"iter {it}: success {r['success']:.2f} (packet {r['packet_success']:.2f}) "
                f"terms={r['terms']} rules={r['rules']} findings={r['findings']} "
                f"terminations={r['terminations']} precheck={r['precheck']} "
                f"train {r['train_s']} s (CPU {r['cpu_s']} s)",
                flush=True,
            )
    naive, final = rows[0]["success"], rows[-1]["success"]
    best = max(r["success"] for r in rows)
    out = {
        "task": spec.id,
        "steps": args.steps,
        "episodes": args.episodes,
        "seed": args.seed,
        "rows": rows,
        "naive_success": naive,
        "final_success": final,
        "best_success": best,
        "final_minus_naive": final - naive,
        "final_over_naive": (final / naive) if naive > 0 else None,
        "work": str(work),
        "command": "python benchmarks/designer_learning.py " + " ".join(sys.argv[1:]),
        "load": " ".join(f"{x:.1f}" for x in os.getloadavg()),
    }
    if not args.no_write:
        write_results(out)
    if args.json:
        print(json.dumps(out, indent=2))
    else:
        ratio = f"{final / naive:.2f}x" if naive > 0 else "inf (naive 0)"
        print(f"naive {naive:.2f} -> final {final:.2f} ({ratio}); best {best:.2f}; work {work}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
