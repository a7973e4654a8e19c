"""The honest verdict: policies judged on test seeds that selection never saw.

Selection picks the best of many candidates on selection seeds, so its figure is optimistic
(the maximum of noisy estimates). When the loop stops, the final best and iteration 0's best
are evaluated again on the ``TEST`` seed stream, nominal and randomized physics, and so are
each later iteration's control and its best refined candidate, so the report can say whether a
new reward beat more training on episodes neither was chosen on (a reward's worth often shows
under randomized physics first: at a budget where more training already solves the nominal
task, a smoother reward is what keeps the policy flying when the physics change).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from agentic_rl import seeds
from agentic_rl.records import CandidateRecord, TestResult, control_pairs, initial_best

if TYPE_CHECKING:
    from agentic_rl.loop.core import RefineLoop

__all__ = ["control_pairs", "evaluate", "initial_best", "test_final"]


def test_final(loop: RefineLoop) -> None:
    """Evaluate the final, iteration 0's best and each control pair on the test seeds."""
    cfg, manifest = loop.config, loop.manifest
    if manifest.best is None or cfg.test_episodes == 0:
        return
    final = next(
        c for it in manifest.iterations for c in it.candidates if c.cid == manifest.best.cid
    )
    full = [final]
    initial = initial_best(manifest)
    if initial is not None and initial.cid != final.cid:
        full.append(initial)
    pairs = [c for _, *pair in control_pairs(manifest) for c in pair if c not in full]
    loop.console.print(
        f"testing {len(full) + len(pairs)} "
        f"{'policy' if len(full) + len(pairs) == 1 else 'policies'} on "
        f"{cfg.test_episodes} test seeds "
        "(never used for selection)"
    )
    for c in full:
        manifest.test[c.cid] = evaluate(loop, c, randomized=True)
        loop.save()
    for c in pairs:
        if c.cid not in manifest.test:
            manifest.test[c.cid] = evaluate(loop, c, randomized=True)
            loop.save()


def evaluate(loop: RefineLoop, c: CandidateRecord, randomized: bool) -> TestResult:
    """One policy on the test seeds: nominal, and randomized physics when asked."""
    from agentic_rl.ppo import evaluate as run

    cfg = loop.config
    policy = Path(c.run_dir) / "policy.npz"
    nominal = run(policy, cfg.task, seeds=seeds.TEST.seeds(cfg.test_episodes, cfg.seed))
    result = TestResult(
        cid=c.cid,
        episodes=nominal.episodes,
        success_rate=nominal.success_rate,
        task_metrics=nominal.mean_metrics(),
    )
    if randomized and cfg.test_randomized_episodes:
        rand = run(
            policy,
            cfg.task,
            seeds=seeds.TEST.seeds(cfg.test_randomized_episodes, cfg.seed),
            randomized=True,
        )
        result.randomized_episodes = rand.episodes
        result.randomized_success_rate = rand.success_rate
        result.randomized_task_metrics = rand.mean_metrics()
    return result
