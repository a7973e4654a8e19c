"""How candidates are compared: task metrics on held-out seeds, never their own reward.

A candidate's score is its success rate under nominal physics. Ties between equal success
rates (common once candidates solve the task) are broken first by the success rate under
randomized physics, when measured (a policy that keeps working when the physics change is the
better one to deploy and to refine further), then by the task's first non-success metric (e.g.
final distance, gates passed); both are weighted so that together they can never outweigh one
more successful episode in a hundred.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from sims.spec import TaskSpec

#: Weight of the tie-breaking metric: below the value of one success in 1,000 episodes.
TIE_WEIGHT = 1e-3
#: Weight of the randomized-physics success rate, the first tie-break: at most half of one
#: nominal success in a hundred episodes.
ROBUST_WEIGHT = 5e-3


def tie_metric(spec: TaskSpec) -> tuple[str, bool] | None:
    """(name, higher_is_better) of the metric that breaks ties, if the task has one."""
    for m in spec.task_metrics:
        if m.name != "success":
            return m.name, m.higher_is_better
    return None


def score(
    spec: TaskSpec,
    success_rate: float,
    metrics: Mapping[str, float],
    randomized_success_rate: float | None = None,
) -> float:
    """Selection score of a candidate (higher is better; see the module docstring)."""
    tie = tie_metric(spec)
    bonus = 0.0
    if tie is not None and tie[0] in metrics and math.isfinite(metrics[tie[0]]):
        x = metrics[tie[0]] if tie[1] else -metrics[tie[0]]
        bonus = TIE_WEIGHT * (0.5 + 0.5 * x / (1.0 + abs(x)))  # in (0, TIE_WEIGHT)
    if randomized_success_rate is not None:
        bonus += ROBUST_WEIGHT * float(randomized_success_rate)
    return float(success_rate) + bonus


def rung_score(spec: TaskSpec, row: Mapping[str, float]) -> float:
    """Score from training-rollout statistics (``rollout/success_rate``, ``metrics/*``), used
    by successive halving before held-out evaluation exists."""
    metrics = {k.removeprefix("metrics/"): v for k, v in row.items() if k.startswith("metrics/")}
    return score(spec, row.get("rollout/success_rate", 0.0), metrics)


def halving_survivors(scores: Mapping[str, float]) -> set[str]:
    """Successive halving: the better half (rounded up) survives; ties keep the earlier id."""
    ranked = sorted(scores, key=lambda k: (-scores[k], k))
    return set(ranked[: math.ceil(len(ranked) / 2)])


def survivor_steps(
    base_steps: int, candidates: int, rung_fraction: float, keep: int | None = None
) -> int:
    """Steps each candidate is planned for so that halving spends the same total budget as
    ``candidates * base_steps`` without halving: the stopped half's unused steps go to the
    survivors (their learning-rate schedule is planned for it from the start).

    Args:
        base_steps: steps per candidate without halving.
        candidates: candidates trained in the iteration.
        rung_fraction: share of the planned steps at which halving decides.
        keep: candidates that train to the end (default: the better half, rounded up);
            the loop counts its control, which is never stopped, among them.
    """
    if candidates < 2:
        return base_steps
    keep = math.ceil(candidates / 2) if keep is None else keep
    return int(candidates * base_steps / (candidates * rung_fraction + keep * (1 - rung_fraction)))
