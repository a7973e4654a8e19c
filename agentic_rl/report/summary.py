"""``summary.json``: the machine-readable outcome of a run, and what "improvement" means.

Built from the typed manifest alone (:mod:`agentic_rl.records`), never from the loop's state:
the loop calls :func:`build_summary` when it saves, and :mod:`agentic_rl.report.page` renders
``report.html`` from what it wrote.

Two sets of figures, never mixed:

* **selection**: success on the selection seeds the loop ranked candidates on (optimistic:
  the final is the maximum over many noisy estimates);
* **test**: the final and iteration 0's best on test seeds that selection never saw.

The improvement is defined on the test seeds, nominal physics: ``success_points`` (final
minus iteration 0's best, in points of success rate), ``relative`` (that difference over
iteration 0's best) and, when the sparse and reference rewards' test success are known
(``baselines``, measured by ``benchmarks/refine.py``), the Eureka-normalized score
``(final - sparse) / |reference - sparse|`` on the task metric (success rate).
"""

from __future__ import annotations

import json
from typing import Any

from agentic_rl.config import RefineConfig
from agentic_rl.records import (
    CandidateRecord,
    CandidateState,
    Manifest,
    TestResult,
    control_pairs,
    find,
    initial_best,
)

#: A candidate "keeps" its parent's level when its success is at most this far below it.
KEEP_MARGIN = 0.10


def normalized_score(method: float, sparse: float, reference: float) -> float | None:
    """Eureka's human-normalized score ``(method - sparse) / |reference - sparse|``; ``None``
    when the reference does no better or worse than the sparse reward (undefined)."""
    span = abs(reference - sparse)
    return None if span == 0 else (method - sparse) / span


def improvement(initial: float, final: float) -> dict[str, float | None]:
    """Success points and relative change of ``final`` over ``initial``."""
    return {
        "success_points": final - initial,
        "relative": (final - initial) / initial if initial > 0 else (None if final > 0 else 0.0),
    }


def _pick(c: CandidateRecord | None) -> dict[str, Any] | None:
    if c is None:
        return None
    return {
        "cid": c.cid,
        "success_rate": c.success_rate,
        "randomized_success_rate": c.randomized_success_rate,
        "task_metrics": c.task_metrics,
        "start": c.lineage.start,
        "lineage_steps": c.lineage.steps,
    }


def lineage_chain(manifest: Manifest, cid: str | None) -> list[dict[str, Any]]:
    """The policy lineage of ``cid``: itself, the candidate it continued, ... back to a cold
    start (the reward each was trained under is that candidate's own)."""
    chain = []
    c = find(manifest, cid)
    while c is not None:
        chain.append(
            {
                "cid": c.cid,
                "start": c.lineage.start,
                "steps": c.steps,
                "reward_parent": c.proposal.parent,
            }
        )
        c = find(manifest, c.lineage.warm_from) if c.lineage.start != "cold" else None
    return chain


def kept_parent_level(manifest: Manifest) -> dict[str, Any]:
    """In iterations >= 1: how many trained candidates reached their parent's selection success
    minus :data:`KEEP_MARGIN` (a refinement should not throw away what its parent learned)."""
    kept = total = 0
    for it in manifest.iterations[1:]:
        for c in it.candidates:
            if c.status != CandidateState.TRAINED:
                continue
            parent = find(manifest, c.lineage.warm_from or c.proposal.parent)
            if parent is None or parent.success_rate is None or c.success_rate is None:
                continue
            total += 1
            kept += c.success_rate >= parent.success_rate - KEEP_MARGIN
    return {"kept": kept, "trained": total, "share": kept / total if total else None}


def _test(t: TestResult | None) -> dict[str, Any] | None:
    return None if t is None else t.model_dump(mode="json")


def build_summary(manifest: Manifest, config: RefineConfig) -> dict[str, Any]:
    """The machine-readable outcome of a run (``summary.json``)."""
    iterations = manifest.iterations
    initial = initial_best(manifest)
    final = find(manifest, manifest.best.cid if manifest.best else None)
    selection = None
    if initial and final and initial.success_rate is not None and final.success_rate is not None:
        selection = improvement(initial.success_rate, final.success_rate)
    t_initial = manifest.test.get(initial.cid) if initial else None
    t_final = manifest.test.get(final.cid) if final else None
    test_improvement: dict[str, Any] | None = None
    if t_initial and t_final:
        test_improvement = improvement(t_initial.success_rate, t_final.success_rate)
        base = manifest.baselines
        if "sparse" in base and "reference" in base:
            test_improvement["normalized"] = normalized_score(
                t_final.success_rate,
                base["sparse"]["success_rate"],
                base["reference"]["success_rate"],
            )
    controls = []
    for i, control, refined in control_pairs(manifest):
        tc, tr = manifest.test.get(control.cid), manifest.test.get(refined.cid)
        controls.append(
            {
                "iteration": i,
                "control": control.cid,
                "refined": refined.cid,
                "selection": {"control": control.success_rate, "refined": refined.success_rate},
                "test": None
                if tc is None or tr is None
                else {
                    "control": tc.success_rate,
                    "refined": tr.success_rate,
                    "control_randomized": tc.randomized_success_rate,
                    "refined_randomized": tr.randomized_success_rate,
                },
                "reward_beats_control": None if tc is None or tr is None else _beats(tr, tc),
            }
        )
    counts: dict[str, int] = {}
    for it in iterations:
        for c in it.candidates:
            counts[str(c.status)] = counts.get(str(c.status), 0) + 1
    cpu = manifest.training_cpu
    return {
        "task_id": manifest.task_id,
        "status": manifest.status,
        "stop_reason": manifest.stop_reason,
        "iterations": len(iterations),
        "candidates": counts,
        "refused_by_checks": counts.get(str(CandidateState.REFUSED), 0),
        "initial": _pick(initial),
        "final": _pick(final),
        "improvement": selection,
        "test": {
            "episodes": config.test_episodes,
            "randomized_episodes": config.test_randomized_episodes,
            "initial": _test(t_initial),
            "final": _test(t_final),
            "improvement": test_improvement,
        },
        "controls": controls,
        "kept_parent_level": kept_parent_level(manifest),
        "final_lineage": lineage_chain(manifest, final.cid if final else None),
        "per_iteration": [
            {
                "iteration": it.iteration,
                "best": _pick(it.best),
                "success_rates": [c.success_rate for c in it.candidates],
                "starts": [c.lineage.start for c in it.candidates],
            }
            for it in iterations
        ],
        "baselines": manifest.baselines,
        "training_cpu_s": cpu.cpu_s,
        "training_cpu_utilisation": cpu.cpu_s / cpu.core_s if cpu.core_s else None,
        "usage": manifest.usage.model_dump(mode="json"),
        "wall_time_s": manifest.wall_time,
        "designer": config.designer,
        "warm_start": config.warm_start,
        "best_bundle": "best" if final else None,
        "config": json.loads(config.model_dump_json()),
    }


def _beats(refined: TestResult, control: TestResult) -> bool:
    """Whether the refined reward's policy beat the control on the test seeds: better under
    nominal or randomized physics and worse under neither (nominal only when the randomized
    episodes were not run)."""
    pairs = [(refined.success_rate, control.success_rate)]
    if refined.randomized_success_rate is not None and control.randomized_success_rate is not None:
        pairs.append((refined.randomized_success_rate, control.randomized_success_rate))
    return all(r >= c for r, c in pairs) and any(r > c for r, c in pairs)


__all__ = ["build_summary", "improvement", "normalized_score"]
