"""Selection: rank an iteration's trained candidates on selection seeds, keep the all-time
best (replaced only by a candidate that beats it) and export it as a PolicyBundle.

Selection never sees the test seeds; :mod:`~agentic_rl.loop.testing` judges the final policy
on those, and :func:`record_test` writes that verdict into the exported bundle.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agentic_rl import seeds, selection
from agentic_rl.records import Best, CandidateRecord, CandidateState, IterationRecord
from agentic_rl.runstore import write_json

if TYPE_CHECKING:
    from agentic_rl.loop.core import RefineLoop


def select(loop: RefineLoop, i: int) -> None:
    """Re-evaluate the iteration's top two on more selection seeds, record the iteration and
    update the all-time best."""
    cfg = loop.config
    cands = loop.current.candidates
    done = sorted(
        (c for c in cands if c.status == CandidateState.TRAINED),
        key=lambda c: (-(c.score or 0.0), c.index),
    )
    for c in done[:2]:
        if cfg.reeval_seeds and c.reeval is None:
            c.reeval = _reevaluate(loop, c)
            loop.save()
    for c in done[:2]:
        extra = c.reeval
        if extra and not extra.get("merged") and c.success_rate is not None:
            n0, n1 = cfg.seeds, extra["episodes"]
            c.success_rate = (c.success_rate * n0 + extra["success_rate"] * n1) / (n0 + n1)
            c.score = selection.score(
                loop.spec, c.success_rate, c.task_metrics, c.randomized_success_rate
            )
            extra["merged"] = True
    best = max(done, key=lambda c: (c.score or 0.0, -c.index), default=None)
    iteration = IterationRecord(
        iteration=i,
        candidates=sorted(cands, key=lambda c: c.index),
        best_index=None if best is None else best.index,
    )
    loop.manifest.iterations.append(iteration)
    if best is not None:
        _maybe_new_best(loop, best)
    loop.manifest.current = None
    loop.manifest.iteration = i + 1
    loop.save()


def _reevaluate(loop: RefineLoop, c: CandidateRecord) -> dict[str, Any]:
    from agentic_rl.ppo import evaluate

    cfg = loop.config
    result = evaluate(
        Path(c.run_dir) / "policy.npz",
        cfg.task,
        seeds=seeds.REEVALUATION.seeds(cfg.reeval_seeds, cfg.seed),
    )
    return {
        "episodes": result.episodes,
        "success_rate": result.success_rate,
        "task_metrics": result.mean_metrics(),
    }


def _maybe_new_best(loop: RefineLoop, cand: CandidateRecord) -> None:
    best = loop.manifest.best
    if best is not None and cand.score is not None and cand.score <= best.score:
        loop.console.print(
            f"iteration best {cand.cid} ({cand.success_rate:.0%}) does not beat the "
            f"all-time best {best.cid} ({best.success_rate:.0%}): keeping it"
        )
        return
    assert cand.score is not None and cand.success_rate is not None  # trained candidates
    loop.manifest.best = Best(
        cid=cand.cid,
        iteration=cand.iteration,
        index=cand.index,
        score=cand.score,
        success_rate=cand.success_rate,
        randomized_success_rate=cand.randomized_success_rate,
        task_metrics=cand.task_metrics,
        run_dir=cand.run_dir,
    )
    loop.console.print(f"[bold green]new best[/] {cand.cid}: success {cand.success_rate:.0%}")
    if loop.config.export:
        _export(loop, cand)
    loop.save()


def _export(loop: RefineLoop, cand: CandidateRecord) -> None:
    from agentic_rl.export import check_onnx_against_torch, export_bundle

    store = loop.store
    tmp = store.root / "best.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    export_bundle(Path(cand.run_dir), loop.config.task, tmp, reward_source=cand.code)
    onnx_error = check_onnx_against_torch(tmp, Path(cand.run_dir) / "policy.npz")
    shutil.rmtree(store.best_dir, ignore_errors=True)
    tmp.rename(store.best_dir)
    write_json(
        store.best_dir / "candidate.json",
        {"cid": cand.cid, "onnx_vs_torch_max_abs_error": onnx_error},
    )


def record_test(loop: RefineLoop) -> None:
    """Record the final best's held-out success (test seeds, nominal and randomized) in the
    exported ``best/bundle.json`` (``evaluation``), so the robot side knows how good the
    policy it runs was on episodes selection never saw.

    The nominal episodes are the first ``test_episodes`` test seeds of the run; the
    randomized ones the first ``test_randomized_episodes`` of the same seeds.
    """
    from agentic_rl.export import EvaluationMeta, ExportError, record_evaluation

    best = loop.manifest.best
    bundle = loop.store.best_dir
    if best is None or not loop.config.export or not (bundle / "bundle.json").exists():
        return
    test = loop.manifest.test.get(best.cid)
    if test is None or test.randomized_success_rate is None:
        return  # bundle.json's evaluation needs both conditions (test_randomized_episodes 0)
    try:
        record_evaluation(
            bundle,
            EvaluationMeta(
                episodes=test.episodes,
                seeds=tuple(seeds.TEST.seeds(test.episodes, loop.config.seed)),
                success_nominal=test.success_rate,
                success_randomized=test.randomized_success_rate,
                min_success=0.0,
                randomized_episodes=test.randomized_episodes,
            ),
        )
    except ExportError as exc:  # e.g. a bundle of an older layout, resumed: keep the run
        loop.console.print(f"[yellow]best/ keeps no test-seed success:[/] {exc}")
