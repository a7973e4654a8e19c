"""Domain randomization: validating user ranges and sampling parameters per episode."""

from __future__ import annotations

import difflib
from collections.abc import Mapping

import numpy as np

from sims.spec import RandomParam

#: What an env accepts as ``randomize=``: off, the spec's default ranges, or explicit ranges
#: per parameter name (parameters not named stay at their nominal value).
RandomizeArg = bool | Mapping[str, tuple[float, float]] | None


class RandomizationError(ValueError):
    """A randomization request names an unknown parameter or an invalid range."""


def resolve_ranges(
    params: tuple[RandomParam, ...], randomize: RandomizeArg, task_id: str
) -> dict[str, tuple[float, float]]:
    """Turn an env's ``randomize`` argument into validated ``{name: (low, high)}`` ranges.

    Raises:
        RandomizationError: for an unknown name (with a did-you-mean hint), a range whose low
            exceeds its high, a non-finite bound, or a bound outside the parameter's hard limits.
    """
    by_name = {p.name: p for p in params}
    if randomize is None or randomize is False:
        return {}
    if randomize is True:
        return {p.name: (p.low, p.high) for p in params}
    if not isinstance(randomize, Mapping):
        raise RandomizationError(
            f"randomize must be True, False or a mapping name -> (low, high); got {randomize!r}"
        )
    ranges: dict[str, tuple[float, float]] = {}
    for name, rng in randomize.items():
        if name not in by_name:
            hint = difflib.get_close_matches(name, list(by_name), n=1)
            did = f" Did you mean {hint[0]!r}?" if hint else ""
            raise RandomizationError(
                f"{task_id} has no randomization parameter {name!r}.{did} "
                f"Valid parameters: {sorted(by_name)}"
            )
        p = by_name[name]
        try:
            low, high = (float(rng[0]), float(rng[1]))
        except (TypeError, ValueError, IndexError):
            raise RandomizationError(
                f"randomization range for {name!r} must be a pair (low, high); got {rng!r}"
            ) from None
        if not (np.isfinite(low) and np.isfinite(high)):
            raise RandomizationError(f"randomization range for {name!r} is not finite: {rng!r}")
        if low > high:
            raise RandomizationError(
                f"randomization range for {name!r} has low > high: ({low}, {high}); swap the bounds"
            )
        if low < p.hard_low or high > p.hard_high:
            raise RandomizationError(
                f"randomization range for {name!r} ({low}, {high}) leaves the supported interval "
                f"[{p.hard_low}, {p.hard_high}] {p.unit}"
            )
        ranges[name] = (low, high)
    return ranges


def sample(
    params: tuple[RandomParam, ...],
    ranges: Mapping[str, tuple[float, float]],
    rng: np.random.Generator,
    fixed: Mapping[str, float] | None = None,
) -> dict[str, float]:
    """Draw one value per parameter: uniform within ``ranges``, nominal otherwise.

    ``fixed`` pins parameters to exact values (used by robustness sweeps); it is validated
    against the hard limits like a range.
    """
    values: dict[str, float] = {}
    for p in params:
        if p.name in ranges:
            low, high = ranges[p.name]
            values[p.name] = float(rng.uniform(low, high)) if high > low else low
        else:
            values[p.name] = p.nominal
    if fixed:
        pinned = resolve_ranges(params, {k: (v, v) for k, v in fixed.items()}, "this task")
        values.update({k: lo for k, (lo, _) in pinned.items()})
    return values
