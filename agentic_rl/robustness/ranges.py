"""Rule-based randomization ranges for ``refine --randomize auto`` (the offline designer's).

DrEureka's observation: ranges the designer picks, bounded by what the policy is seen to
survive, transfer better than hand-picked ones. Here the bounds come from the robustness
sweep of the best policy so far (each parameter's safe range, see :mod:`.sweep`); without a
sweep (the first iteration, before any policy exists) they are the spec's default ranges.
Within the bounds, the ranges follow explicit rules on the last iteration's outcome:

* **start narrow**: with no outcome yet, each side covers ``START_FRACTION`` of the way from
  nominal to its bound;
* **widen** when randomized success *holds* (at least ``HOLD_FRACTION`` of nominal success):
  each side moves ``WIDEN`` of the remaining way to its bound;
* **shrink** when it *collapses* (below ``COLLAPSE_FRACTION`` of nominal success), or when
  nominal success itself fell below ``COLLAPSE_FRACTION`` of the best nominal success seen (the
  randomization is making the task unlearnable at this budget): each side moves back to
  ``SHRINK`` of its distance from nominal;
* **keep** the ranges otherwise, or when there is no signal (no success at all).

Every function here is pure: same inputs, same ranges, so a resumed run proposes the same.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from agentic_rl.robustness.sweep import SweepResult
from sims.spec import TaskSpec

Ranges = dict[str, tuple[float, float]]

#: Share of the way from nominal to the bound the first ranges cover.
START_FRACTION = 0.25
#: Share of the remaining way to the bound a widening step covers.
WIDEN = 0.5
#: A shrinking step keeps this share of each side's distance from nominal.
SHRINK = 0.5
#: Randomized success at or above this share of nominal success "holds".
HOLD_FRACTION = 0.9
#: Randomized success below this share of nominal success "collapses".
COLLAPSE_FRACTION = 0.6


class RangeOutcome(BaseModel):
    """What training under some ranges gave: the input to the widening rules.

    Attributes:
        ranges: the ranges candidates were trained with.
        nominal_success: held-out success under nominal physics (None: nothing trained).
        randomized_success: held-out success under randomized physics (None: not measured).
        iteration: the loop iteration, for the record.
    """

    model_config = ConfigDict(extra="forbid")

    ranges: dict[str, tuple[float, float]] = Field(default_factory=dict)
    nominal_success: float | None = None
    randomized_success: float | None = None
    iteration: int | None = None


def bounds_for(spec: TaskSpec, sweep: SweepResult | Mapping[str, Any] | None) -> Ranges:
    """The bounds ranges may grow to: the sweep's per-parameter safe ranges (clipped to the
    hard limits), or the spec's default ranges when there is no sweep."""
    if sweep is None:
        return {p.name: (p.low, p.high) for p in spec.randomization}
    safe = _safe_ranges(sweep)
    out: Ranges = {}
    for p in spec.randomization:
        lo, hi = safe.get(p.name, (p.nominal, p.nominal))
        out[p.name] = (max(p.hard_low, min(lo, p.nominal)), min(p.hard_high, max(hi, p.nominal)))
    return out


def _safe_ranges(sweep: SweepResult | Mapping[str, Any]) -> Ranges:
    if isinstance(sweep, SweepResult):
        return sweep.safe_ranges
    return SweepResult.model_validate(sweep).safe_ranges


def _outcome(item: RangeOutcome | Mapping[str, Any]) -> RangeOutcome:
    return item if isinstance(item, RangeOutcome) else RangeOutcome.model_validate(item)


def _r(x: float) -> float:
    return float(f"{x:.4g}")


def propose_with_reasons(
    spec: TaskSpec,
    sweep: SweepResult | Mapping[str, Any] | None,
    history: Sequence[RangeOutcome | Mapping[str, Any]],
) -> tuple[Ranges, list[str]]:
    """:func:`propose_ranges` plus one plain sentence per decision (for the run record)."""
    bounds = bounds_for(spec, sweep)
    source = "the robustness sweep" if sweep is not None else "the spec's default ranges"
    outcomes = [_outcome(h) for h in history]
    last = next((o for o in reversed(outcomes) if o.ranges), None)
    nominal = {p.name: p.nominal for p in spec.randomization}

    def start() -> Ranges:
        f = START_FRACTION
        return {
            n: (_r(nominal[n] - f * (nominal[n] - lo)), _r(nominal[n] + f * (hi - nominal[n])))
            for n, (lo, hi) in bounds.items()
        }

    if last is None:
        return start(), [
            f"start narrow: {START_FRACTION:.0%} of the way to the bounds from {source}"
        ]
    # the last ranges, clipped into today's bounds (a new best policy may survive less)
    current: Ranges = {}
    for n, (blo, bhi) in bounds.items():
        lo, hi = last.ranges.get(n, (nominal[n], nominal[n]))
        current[n] = (min(max(lo, blo), nominal[n]), max(min(hi, bhi), nominal[n]))
    nom, rand = last.nominal_success, last.randomized_success
    best_nominal = max((o.nominal_success or 0.0 for o in outcomes), default=0.0)
    it = f"iteration {last.iteration}" if last.iteration is not None else "the last iteration"
    if not nom:
        return current, [f"keep: {it} had no nominal success, so no signal on the ranges"]
    if best_nominal > 0 and nom < COLLAPSE_FRACTION * best_nominal:
        return _toward_nominal(current, nominal), [
            f"shrink: nominal success fell to {nom:.0%} in {it} (best {best_nominal:.0%}): "
            "the randomization is too hard to learn at this budget"
        ]
    if rand is None:
        return current, [f"keep: {it} measured no randomized success"]
    ratio = rand / nom
    if ratio < COLLAPSE_FRACTION:
        return _toward_nominal(current, nominal), [
            f"shrink: randomized success {rand:.0%} is {ratio:.0%} of nominal {nom:.0%} in {it} "
            f"(collapse below {COLLAPSE_FRACTION:.0%})"
        ]
    if ratio < HOLD_FRACTION:
        return current, [
            f"keep: randomized success {rand:.0%} is {ratio:.0%} of nominal {nom:.0%} in {it}, "
            f"between collapse ({COLLAPSE_FRACTION:.0%}) and hold ({HOLD_FRACTION:.0%})"
        ]
    widened: Ranges = {}
    at_bound = []
    for n, (lo, hi) in current.items():
        blo, bhi = bounds[n]
        new = (_r(lo + WIDEN * (blo - lo)), _r(hi + WIDEN * (bhi - hi)))
        # snap to the bound once within 2% of the bound's extent: halving would never reach it
        tol = 0.02 * max(bhi - blo, 1e-12)
        new = (blo if new[0] - blo <= tol else new[0], bhi if bhi - new[1] <= tol else new[1])
        widened[n] = new
        if new == (blo, bhi):
            at_bound.append(n)
    note = f"; at the bounds: {', '.join(at_bound)}" if at_bound else ""
    return widened, [
        f"widen: randomized success {rand:.0%} holds at {ratio:.0%} of nominal {nom:.0%} in "
        f"{it}; each side moves {WIDEN:.0%} of the way to the bounds from {source}{note}"
    ]


def _toward_nominal(current: Ranges, nominal: Mapping[str, float]) -> Ranges:
    return {
        n: (
            _r(nominal[n] - SHRINK * (nominal[n] - lo)),
            _r(nominal[n] + SHRINK * (hi - nominal[n])),
        )
        for n, (lo, hi) in current.items()
    }


def propose_ranges(
    spec: TaskSpec,
    sweep: SweepResult | Mapping[str, Any] | None,
    history: Sequence[RangeOutcome | Mapping[str, Any]],
) -> Ranges:
    """Randomization ranges for the next iteration's candidates (see the module docstring).

    Args:
        spec: the task.
        sweep: the best policy's robustness sweep (a :class:`SweepResult` or its JSON), or
            ``None`` when there is no policy yet.
        history: earlier outcomes, oldest first (:class:`RangeOutcome` or its JSON).

    Returns:
        ``{param: (low, high)}`` for every randomization parameter of the task, each
        containing the nominal value and inside the hard limits (valid for ``sims.make``).
    """
    return propose_with_reasons(spec, sweep, history)[0]


def clamp_to_bounds(
    spec: TaskSpec,
    proposed: Mapping[str, Sequence[float]],
    sweep: SweepResult | Mapping[str, Any] | None,
) -> tuple[Ranges, list[str]]:
    """Ranges an LLM designer proposed, clipped into the sweep's bounds (with what changed).

    Unknown parameter names are dropped with a note rather than failing the iteration; each
    range is made to contain the nominal value.
    """
    bounds = bounds_for(spec, sweep)
    out: Ranges = {}
    notes: list[str] = []
    for name, rng in proposed.items():
        if name not in bounds:
            notes.append(f"dropped {name!r}: not a randomization parameter of {spec.id}")
            continue
        blo, bhi = bounds[name]
        nom = spec.param(name).nominal
        lo, hi = sorted((float(rng[0]), float(rng[1])))
        clipped = (max(min(lo, nom), blo), min(max(hi, nom), bhi))
        if clipped != (lo, hi):
            notes.append(f"{name}: ({lo:g}, {hi:g}) clipped to ({clipped[0]:g}, {clipped[1]:g})")
        out[name] = clipped
    return out, notes
