"""Does the offline designer's rule refinement learn? Naive first reward vs rule-refined ones.

On one task (default DroneHover) this trains, with the same PPO budget and seed:

1. the offline designer's naive first candidate (iteration 0, candidate 0: distance only);
2. for each further round, the designer's candidate 0 of the next iteration, which is the best
   candidate so far with the packet-driven rules applied and no random perturbation,

diagnoses each with :func:`agentic_rl.diagnostics.diagnose` (the same packets the loop feeds
back), and evaluates every policy on the same held-out seeds. It prints each candidate's
success rate, the rules that produced it, and the final/naive ratio (the baseline, measured in
the same run).

Usage: ``python benchmarks/designer_learning.py [--task DroneHover] [--steps 150000]
[--rounds 2] [--episodes 50] [--seed 0] [--json]``
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

EVAL_SEED = 5_000_000  # held out from training seeds and from the packets' seeds


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
    args = parser.parse_args()

    import sims
    from agentic_rl.designers import make_designer
    from agentic_rl.diagnostics import diagnose
    from agentic_rl.ppo import evaluate, make_config, train
    from agentic_rl.records import CandidateRecord, IterationRecord

    spec = sims.get_spec(args.task)
    work = Path(args.out or tempfile.mkdtemp(prefix="designer_learning_"))
    designer = make_designer("offline", seed=args.seed, transcript=work / "llm_transcript.jsonl")
    history: list[IterationRecord] = []
    rows = []
    for it in range(args.rounds + 1):
        proposal = designer.propose(spec, history, 1)[0]
        cand = work / f"iter_{it}"
        cand.mkdir(parents=True, exist_ok=True)
        (cand / "reward.py").write_text(proposal.response)
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
            seed=2_000_000,
            randomized_episodes=0,
            randomize=False,
            out_dir=cand,
            plots=False,
        )
        held_out = evaluate(
            Path(result.policy), spec.id, seeds=range(EVAL_SEED, EVAL_SEED + args.episodes)
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
            }
        )
        if not args.json:
            r = rows[-1]
            print(
                f"iter {it}: success {r['success']:.2f} (packet {r['packet_success']:.2f}) "
                f"terms={r['terms']} rules={r['rules']} findings={r['findings']} "
                f"terminations={r['terminations']} train {r['train_s']} s",
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
    }
    if args.json:
        print(json.dumps(out, indent=2))
    else:
        ratio = f"{final / naive:.2f}x" if naive > 0 else "inf (naive 0)"
        print(f"naive {naive:.2f} -> final {final:.2f} ({ratio}); best {best:.2f}; work {work}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
