"""Cost of a diagnosis packet next to the evaluation it summarizes (issue 5 target: < 1 s).

Measured in one run on one trained candidate (a fresh ~4k-step DroneHover PPO run with the
reference reward, or ``--run`` for an existing run folder):

* ``evaluation``: the seeded evaluation episodes with per-step recording and each episode's
  end-of-episode scene image (``run_rollouts``: nominal + randomized), the baseline;
* ``build``: ``build_packet`` (curves, term statistics, summaries, exemplars, findings) plus
  ``save_packet`` (``packet.json``, ``packet.txt`` within the token budget, schema) -- the
  "packet build, evaluation excluded" of the target; median over ``--repeats``;
* ``render``: ``render_text`` alone (part of build);
* ``plots``: the five PNGs including the scene image, warm (matplotlib already imported;
  the first call in a process also pays ~0.5 s of imports, reported as ``plots_cold_s``).

Ratios are against the evaluation time of the same run.

Usage: ``python benchmarks/packet_build.py [--json] [--run DIR] [--episodes 20]
[--randomized 20] [--repeats 5]``
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import rewards
import sims
from agentic_rl.diagnostics import (
    TrainLog,
    build_packet,
    estimate_tokens,
    render_text,
    run_rollouts,
    save_packet,
)
from agentic_rl.diagnostics.plots import write_plots
from agentic_rl.diagnostics.rollouts import SCENE_SIZE
from agentic_rl.ppo import load_policy, make_config, train

TARGET_BUILD_S = 1.0


def _timed(fn, repeats: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true", help="print results as JSON")
    ap.add_argument("--run", type=Path, help="existing training run folder (default: train one)")
    ap.add_argument("--task", default="DroneHover")
    ap.add_argument("--steps", type=int, default=4096, help="PPO steps when training one")
    ap.add_argument("--episodes", type=int, default=20, help="nominal evaluation episodes")
    ap.add_argument("--randomized", type=int, default=20, help="randomized evaluation episodes")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--seed", type=int, default=1_000_000, help="first evaluation seed")
    args = ap.parse_args()

    spec = sims.get_spec(args.task)
    source = rewards.reference_source(spec.id)
    with tempfile.TemporaryDirectory() as tmp:
        run = args.run
        if run is None:
            run = Path(tmp) / "run"
            config = make_config("smoke", total_steps=args.steps, eval_episodes=0, seed=0)
            train(config, spec.id, reward="reference", out_dir=run)
        policy = load_policy(run / "policy.npz")
        t0 = time.perf_counter()
        rollouts = run_rollouts(
            policy,
            spec,
            episodes=args.episodes,
            seed=args.seed,
            randomized_episodes=args.randomized,
            reward_source=source,
            scene=SCENE_SIZE,
        )
        eval_s = time.perf_counter() - t0
        out = Path(tmp) / "packet"

        def build():
            log = TrainLog.read(run)
            packet = build_packet(spec, log, rollouts, candidate="bench", reward_source=source)
            save_packet(packet, out)
            return packet

        build_s, packet = _timed(build, args.repeats)
        render_s, _ = _timed(lambda: render_text(packet), args.repeats)
        log = TrainLog.read(run)
        t0 = time.perf_counter()
        write_plots(packet, spec, rollouts, log, out)
        plots_cold_s = time.perf_counter() - t0
        plots_s, _ = _timed(
            lambda: write_plots(packet, spec, rollouts, log, out),
            max(1, args.repeats // 2),
        )
        steps = sum(ep.length for ep in rollouts.episodes)
    row = {
        "task": spec.id,
        "episodes": len(rollouts.episodes),
        "eval_steps": steps,
        "evaluation_s": eval_s,
        "build_s": build_s,
        "render_s": render_s,
        "plots_s": plots_s,
        "plots_cold_s": plots_cold_s,
        "build_over_eval": build_s / eval_s,
        "plots_over_eval": plots_s / eval_s,
        "target_build_s": TARGET_BUILD_S,
        "build_ok": build_s < TARGET_BUILD_S,
        "text_tokens_est": estimate_tokens(render_text(packet)),
    }
    if args.json:
        print(json.dumps(row, indent=2))
        return
    from rich.table import Table

    from agentic_rl.cli.console import make_console

    table = Table(title=f"diagnosis packet cost, {spec.id} ({row['episodes']} episodes)")
    for col in ("stage", "seconds", "ratio to evaluation", "target"):
        table.add_column(col)
    table.add_row("evaluation (baseline)", f"{eval_s:.3f}", "1.000", "")
    ok = "green" if row["build_ok"] else "red"
    table.add_row(
        "build (packet + files)",
        f"[{ok}]{build_s:.3f}[/]",
        f"{row['build_over_eval']:.4f}",
        f"< {TARGET_BUILD_S} s",
    )
    table.add_row("  of which render_text", f"{render_s:.4f}", f"{render_s / eval_s:.4f}", "")
    table.add_row("plots (warm)", f"{plots_s:.3f}", f"{row['plots_over_eval']:.3f}", "")
    table.add_row("plots (first call)", f"{plots_cold_s:.3f}", f"{plots_cold_s / eval_s:.3f}", "")
    make_console().print(table)
    print(f"packet.txt: ~{row['text_tokens_est']} tokens (budget 2500)")


if __name__ == "__main__":
    main()
