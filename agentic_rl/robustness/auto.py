"""``refine --randomize auto``: the ranges each iteration's candidates train under.

The loop calls :func:`auto_randomization` once per iteration, before training. It sweeps the
best policy so far (cached in the bundle's ``robustness/`` folder, so an unchanged best is not
swept twice), reads what earlier iterations trained under and achieved, and applies the
widening rules of :mod:`.ranges`. It returns the ranges and a JSON-able record of why.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from agentic_rl.records import IterationRecord
from agentic_rl.robustness.ranges import RangeOutcome, Ranges, bounds_for, propose_with_reasons
from agentic_rl.robustness.report import (
    REPORT_DIR,
    RobustnessReport,
    build_report,
    load_report,
    write_report,
)
from agentic_rl.robustness.rollout import RobustnessError, load_policy_source
from agentic_rl.robustness.sweep import SweepResult, SweepSettings, sweep_rows
from agentic_rl.seeds import SWEEP
from sims.spec import TaskSpec

#: Version of the record :func:`auto_randomization` returns.
RECORD_VERSION = 1


def outcomes_from_history(
    spec: TaskSpec, history: Sequence[IterationRecord | RangeOutcome | Mapping[str, Any]]
) -> list[RangeOutcome]:
    """Turn the loop's history into :class:`RangeOutcome` items.

    For an :class:`IterationRecord`, the outcome is its best candidate's: nominal and
    randomized success from the record, the ranges from the ``randomize`` entry of the
    candidate's training ``config.json`` (written by ``agentic_rl.ppo.train``), so the loop
    needs to store nothing extra. Iterations without a trained best are skipped.
    """
    out: list[RangeOutcome] = []
    for item in history:
        if isinstance(item, RangeOutcome):
            out.append(item)
        elif isinstance(item, IterationRecord):
            best = item.best
            if best is None or best.success_rate is None:
                continue
            out.append(
                RangeOutcome(
                    ranges=_trained_ranges(spec, Path(best.run_dir) / "config.json"),
                    nominal_success=best.success_rate,
                    randomized_success=best.randomized_success_rate,
                    iteration=item.iteration,
                )
            )
        else:
            out.append(RangeOutcome.model_validate(item))
    return out


def _trained_ranges(spec: TaskSpec, config_path: Path) -> Ranges:
    if not config_path.is_file():
        return {}
    randomize = json.loads(config_path.read_text()).get("randomize")
    if randomize is True:
        return {p.name: (p.low, p.high) for p in spec.randomization}
    if isinstance(randomize, dict):
        return {k: (float(v[0]), float(v[1])) for k, v in randomize.items()}
    return {}


def cached_or_new_report(
    bundle_dir: Path, task_id: str, settings: SweepSettings, transfer_episodes: int
) -> RobustnessReport:
    """The bundle's robustness report: reused when it was made for the same policy weights
    and sweep settings, else measured now and written to ``bundle_dir/robustness/``."""
    policy = load_policy_source(bundle_dir, task_id)
    path = bundle_dir / REPORT_DIR / "robustness.json"
    if path.is_file():
        try:
            old = load_report(path)
        except ValueError:
            old = None  # unreadable or older format: measure again
        # a sweep that could not run (too little nominal success) is a result too: reused
        if old is not None and old.policy_sha256 == policy.sha256 and old.settings == settings:
            return old
    report = build_report(policy, settings, transfer_episodes=transfer_episodes)
    write_report(report, bundle_dir / REPORT_DIR)
    return report


def auto_randomization(
    spec: TaskSpec,
    best_bundle_dir: Path | None,
    history: Sequence[IterationRecord | RangeOutcome | Mapping[str, Any]],
    *,
    episodes: int,
    seed: int,
) -> tuple[dict[str, tuple[float, float]], dict[str, Any]]:
    """Ranges to train the next iteration's candidates with, and the record of why.

    Args:
        spec: the task.
        best_bundle_dir: the all-time best policy's PolicyBundle (``None`` before there is
            one); it is swept (or its cached sweep reused) to bound the ranges.
        history: the loop's iteration records, oldest first (or :class:`RangeOutcome` items).
        episodes: seeded episodes per evaluated value of the sweep.
        seed: offsets the sweep's episode seeds (the run's seed, so runs differ but resume
            identically).

    Returns:
        ``(ranges, record)``: ``ranges`` is ``{param: (low, high)}`` for ``sims.make(...,
        randomize=ranges)`` / ``CandidateJob.randomize``; ``record`` is JSON-able: the
        bounds and where they came from, the sweep table, the outcomes read from history, the
        decisions taken and the resulting ranges.
    """
    outcomes = outcomes_from_history(spec, history)
    settings = SweepSettings(episodes=episodes, seed=SWEEP.first(seed))
    sweep: SweepResult | None = None
    note = "no best policy yet: bounds are the spec's default ranges"
    report_path = None
    if best_bundle_dir is not None and (Path(best_bundle_dir) / "bundle.json").is_file():
        bundle = Path(best_bundle_dir)
        try:
            report = cached_or_new_report(bundle, spec.id, settings, transfer_episodes=episodes)
        except RobustnessError as exc:
            note = f"sweep not usable ({exc}); bounds are the spec's default ranges"
        else:
            sweep = report.sweep
            report_path = str(bundle / REPORT_DIR / "robustness.json")
            note = f"bounds from the sweep of the best policy ({bundle})"
            if sweep is None:
                note = f"no sweep ({report.sweep_error}); bounds are the spec's default ranges"
    ranges, decisions = propose_with_reasons(spec, sweep, outcomes)
    record = {
        "version": RECORD_VERSION,
        "task_id": spec.id,
        "bounds_source": note,
        "bounds": {k: [lo, hi] for k, (lo, hi) in bounds_for(spec, sweep).items()},
        "report": report_path,
        "sweep": list(sweep_rows(sweep)) if sweep is not None else None,
        "joint_success": sweep.joint_success if sweep is not None else None,
        "outcomes": [o.model_dump(mode="json") for o in outcomes],
        "decisions": decisions,
        "ranges": {k: [lo, hi] for k, (lo, hi) in ranges.items()},
    }
    return ranges, record
