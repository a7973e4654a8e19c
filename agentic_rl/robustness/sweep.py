"""The robustness sweep: how far each physical parameter can move before the policy fails.

For every randomization parameter of the task, alone (all others nominal), the sweep searches
each side of the nominal value for the range over which the policy **keeps its success**:

    a value keeps success when the success rate there is at least ``keep_fraction`` (default
    0.9) times the success rate at nominal physics, over the same seeded episodes.

Each side is searched by bisection between the nominal value (which keeps success by
definition) and the parameter's hard limit from the task spec: the limit is tried first (if it
keeps success, the policy survives the whole supported interval); otherwise ``iterations``
halvings narrow the breaking point down to ``|limit - nominal| / 2**iterations``. The result
of a side is the last value that kept success (``safe``) and the first that did not
(``broke_at``). Bisection assumes success falls monotonically away from nominal; a policy that
fails at a middle value but recovers further out is reported at one of its boundaries.

Then all parameters are randomized **jointly**, each uniformly within its safe range, and the
success rate is measured again. Interactions usually make the joint case harder than any
single parameter, so when it does not keep success the ranges are shrunk toward nominal (by
``shrink`` each time, up to ``shrink_steps`` times) until it does; the last tried ranges are
the sweep's ``joint_ranges``.

All evaluations use the same episode seeds (common random numbers), so the curve of a
parameter compares the policy against itself on identical goals and starts.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from agentic_rl.robustness.rollout import (
    EpisodeRunner,
    PolicyUnderTest,
    RobustnessError,
    joint_sampler,
)
from agentic_rl.seeds import SWEEP
from sims.spec import RandomParam, TaskSpec


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SweepSettings(_Model):
    """How thorough a sweep is (cost grows with ``episodes * (1 + iterations)`` per side)."""

    episodes: int = Field(20, ge=1, description="Seeded episodes per evaluated value.")
    seed: int = Field(SWEEP.base, description="First episode seed.")
    keep_fraction: float = Field(
        0.9, gt=0, le=1, description="A value keeps success at >= this x nominal success."
    )
    iterations: int = Field(5, ge=0, le=12, description="Bisection halvings per side.")
    params: tuple[str, ...] | None = Field(None, description="Parameters to sweep (None: all).")
    joint_episodes: int | None = Field(
        None, ge=1, description="Episodes of the joint evaluation (None: 2 x episodes)."
    )
    shrink: float = Field(0.5, gt=0, lt=1, description="Joint ranges shrink by this factor.")
    shrink_steps: int = Field(3, ge=0, description="Most shrinks of the joint ranges.")
    min_nominal_success: float = Field(
        0.2, ge=0, le=1, description="Below this nominal success the sweep is meaningless."
    )


class Point(_Model):
    """One evaluated value of one parameter."""

    value: float
    success_rate: float
    keeps: bool
    termination_reasons: dict[str, int] = Field(default_factory=dict)


class SideResult(_Model):
    """The search on one side of the nominal value."""

    side: Literal["low", "high"]
    limit: float = Field(description="The hard limit the search went toward.")
    safe: float = Field(description="Furthest value found that keeps success.")
    broke_at: float | None = Field(
        None, description="Nearest value found that does not (None: kept up to the limit)."
    )
    points: list[Point] = Field(default_factory=list, description="In evaluation order.")


class ParamSweep(_Model):
    """A parameter's sweep: its spec entry and both sides."""

    name: str
    kind: Literal["scale", "absolute"]
    unit: str
    nominal: float
    spec_low: float = Field(description="The spec's default randomization range, low end.")
    spec_high: float
    low: SideResult | None = Field(None, description="None when nominal is the hard low.")
    high: SideResult | None = Field(None, description="None when nominal is the hard high.")

    @property
    def safe_range(self) -> tuple[float, float]:
        """(low, high) over which the policy keeps its success, this parameter alone."""
        return (
            self.low.safe if self.low else self.nominal,
            self.high.safe if self.high else self.nominal,
        )

    @property
    def covers_spec_range(self) -> bool:
        """Whether the safe range contains the spec's default randomization range."""
        lo, hi = self.safe_range
        return lo <= self.spec_low and hi >= self.spec_high


class JointTrial(_Model):
    """One joint evaluation: every parameter uniform within its range at once."""

    scale: float = Field(description="Fraction of the per-parameter safe ranges used.")
    ranges: dict[str, tuple[float, float]]
    success_rate: float
    keeps: bool
    episodes: int
    termination_reasons: dict[str, int] = Field(default_factory=dict)


class SweepResult(_Model):
    """Everything a sweep measured (the ``sweep`` part of ``robustness.json``)."""

    task_id: str
    settings: SweepSettings
    nominal_success: float
    nominal_reasons: dict[str, int] = Field(default_factory=dict)
    threshold: float = Field(description="Success rate a value must reach to keep success.")
    params: list[ParamSweep] = Field(default_factory=list)
    joint: list[JointTrial] = Field(default_factory=list, description="In evaluation order.")
    episodes_run: int = 0
    wall_time: float = 0.0

    @property
    def safe_ranges(self) -> dict[str, tuple[float, float]]:
        """Per-parameter safe ranges (each parameter alone)."""
        return {p.name: p.safe_range for p in self.params}

    @property
    def joint_ranges(self) -> dict[str, tuple[float, float]]:
        """Ranges of the joint trial that kept success (the narrowest tried if none did)."""
        kept = [t for t in self.joint if t.keeps]
        chosen = kept[0] if kept else (self.joint[-1] if self.joint else None)
        return dict(chosen.ranges) if chosen else self.safe_ranges

    @property
    def joint_success(self) -> float | None:
        """Success under joint randomization at the full per-parameter safe ranges."""
        return self.joint[0].success_rate if self.joint else None

    def param(self, name: str) -> ParamSweep:
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(
            f"the sweep has no parameter {name!r}; swept: {[p.name for p in self.params]}"
        )


def required_successes(threshold: float, episodes: int) -> int:
    """Episodes out of ``episodes`` that must succeed to reach a success-rate threshold."""
    # a small tolerance so 0.9 x 100% over 20 episodes asks for 18, not 19 (0.9*20 = 18.000...04)
    return max(0, math.ceil(threshold * episodes - 1e-9))


def _round(value: float) -> float:
    # Values are shown to people and stored in configs: 6 significant digits keep bisection
    # midpoints exact enough while 0.30000000000000004 does not leak into reports.
    return float(f"{value:.6g}")


class _Sweeper:
    def __init__(self, runner: EpisodeRunner, settings: SweepSettings) -> None:
        self.runner = runner
        self.settings = settings
        self.seeds = list(range(settings.seed, settings.seed + settings.episodes))
        self.episodes_run = 0
        self.need = 0

    def point(self, name: str, value: float) -> Point:
        result = self.runner.run(self.seeds, {name: value})
        self.episodes_run += result.episodes
        return Point(
            value=value,
            success_rate=result.success_rate,
            keeps=sum(result.successes) >= self.need,
            termination_reasons=result.termination_reasons,
        )

    def side(self, p: RandomParam, side: Literal["low", "high"]) -> SideResult | None:
        limit = p.hard_low if side == "low" else p.hard_high
        if limit == p.nominal:
            return None
        at_limit = self.point(p.name, limit)
        out = SideResult(side=side, limit=limit, safe=limit, points=[at_limit])
        if at_limit.keeps:
            return out
        good, bad = p.nominal, limit
        for _ in range(self.settings.iterations):
            mid = _round((good + bad) / 2)
            if mid in (good, bad):  # resolution exhausted
                break
            pt = self.point(p.name, mid)
            out.points.append(pt)
            if pt.keeps:
                good = mid
            else:
                bad = mid
        out.safe, out.broke_at = good, bad
        return out


def check_params(spec: TaskSpec, params: Sequence[str] | None) -> list[str]:
    """The parameters to sweep (all of the task's for ``None``).

    Raises:
        RobustnessError: naming the unknown parameters and the valid ones.
    """
    names = [p.name for p in spec.randomization]
    unknown = sorted(set(params or ()) - set(names))
    if unknown:
        raise RobustnessError(
            f"{spec.id} has no randomization parameters {unknown}; valid: {names}"
        )
    return list(params) if params else names


def sweep(
    policy: PolicyUnderTest,
    settings: SweepSettings | None = None,
    *,
    runner: EpisodeRunner | None = None,
    progress: bool = False,
) -> SweepResult:
    """Run the robustness sweep (see the module docstring) for one policy.

    Args:
        policy: the policy under test (:func:`~agentic_rl.robustness.load_policy_source`).
        settings: episodes, keep fraction, bisection depth, parameters; default settings when
            ``None``.
        runner: an episode runner to reuse (one is built and closed otherwise).
        progress: print one line per parameter (for the CLI).

    Returns:
        A :class:`SweepResult`.

    Raises:
        RobustnessError: for an unknown parameter name, or when the policy's nominal success
            is below ``settings.min_nominal_success`` (every value would "keep" a success rate
            near zero, so the ranges would say nothing).
    """
    settings = settings or SweepSettings()
    start = time.perf_counter()
    own = runner is None
    runner = runner or EpisodeRunner(policy)
    try:
        spec: TaskSpec = runner.spec
        chosen = check_params(spec, settings.params)
        sweeper = _Sweeper(runner, settings)
        nominal = runner.run(sweeper.seeds)
        sweeper.episodes_run += nominal.episodes
        if nominal.success_rate < settings.min_nominal_success:
            raise RobustnessError(
                f"the policy succeeds in {nominal.success_rate:.0%} of nominal episodes "
                f"(below {settings.min_nominal_success:.0%}): there is no success to keep, so a "
                "sweep would report meaningless ranges; train it further first"
            )
        threshold = settings.keep_fraction * nominal.success_rate
        sweeper.need = required_successes(threshold, settings.episodes)
        params: list[ParamSweep] = []
        for p in spec.randomization:
            if p.name not in chosen:
                continue
            ps = ParamSweep(
                name=p.name,
                kind=p.kind,
                unit=p.unit,
                nominal=p.nominal,
                spec_low=p.low,
                spec_high=p.high,
                low=sweeper.side(p, "low"),
                high=sweeper.side(p, "high"),
            )
            params.append(ps)
            if progress:
                lo, hi = ps.safe_range
                print(f"  {p.name:>14}: keeps success over [{lo:g}, {hi:g}] {p.unit}", flush=True)
        result = SweepResult(
            task_id=spec.id,
            settings=settings,
            nominal_success=nominal.success_rate,
            nominal_reasons=nominal.termination_reasons,
            threshold=threshold,
            params=params,
        )
        result.joint = _joint(runner, result, spec, sweeper)
        result.episodes_run = sweeper.episodes_run
    finally:
        if own:
            runner.close()
    result.wall_time = time.perf_counter() - start
    return result


def _joint(
    runner: EpisodeRunner, result: SweepResult, spec: TaskSpec, sweeper: _Sweeper
) -> list[JointTrial]:
    settings = result.settings
    episodes = settings.joint_episodes or 2 * settings.episodes
    seeds = range(settings.seed, settings.seed + episodes)
    need = required_successes(result.threshold, episodes)
    safe = result.safe_ranges
    trials: list[JointTrial] = []
    scale = 1.0
    for _ in range(settings.shrink_steps + 1):
        ranges = scaled_ranges(spec, safe, scale)
        ev = runner.run(seeds, joint_sampler(spec.id, ranges, settings.seed))
        sweeper.episodes_run += ev.episodes
        trial = JointTrial(
            scale=scale,
            ranges=ranges,
            success_rate=ev.success_rate,
            keeps=sum(ev.successes) >= need,
            episodes=ev.episodes,
            termination_reasons=ev.termination_reasons,
        )
        trials.append(trial)
        if trial.keeps:
            break
        scale = float(f"{scale * settings.shrink:.6g}")
    return trials


def scaled_ranges(
    spec: TaskSpec, ranges: dict[str, tuple[float, float]], scale: float
) -> dict[str, tuple[float, float]]:
    """Each range shrunk toward its parameter's nominal value to ``scale`` of its extent."""
    out: dict[str, tuple[float, float]] = {}
    for name, (lo, hi) in ranges.items():
        p = spec.param(name)
        out[name] = (
            _round(p.nominal - scale * (p.nominal - lo)),
            _round(p.nominal + scale * (hi - p.nominal)),
        )
    return out


def sweep_rows(result: SweepResult) -> Sequence[dict[str, object]]:
    """One plain row per parameter (for tables, JSON summaries and prompts)."""
    rows = []
    for p in result.params:
        lo, hi = p.safe_range
        rows.append(
            {
                "param": p.name,
                "unit": p.unit,
                "nominal": p.nominal,
                "safe_low": lo,
                "safe_high": hi,
                "broke_low": p.low.broke_at if p.low else None,
                "broke_high": p.high.broke_at if p.high else None,
                "spec_low": p.spec_low,
                "spec_high": p.spec_high,
                "covers_spec_range": p.covers_spec_range,
            }
        )
    return rows
