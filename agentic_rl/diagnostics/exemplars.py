"""Exemplar episodes in plain words: when it ended, where, and what the robot was doing.

The most common failure (a representative episode of it: the median length among those that
ended that way) is contrasted with a success where one exists. Words come from the task's own
state field names and units through :class:`~agentic_rl.diagnostics.keys.KeyFields`, so the
same code describes a drone crashing short of a gate and an arm timing out beside a cube.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

import numpy as np

from agentic_rl.diagnostics.keys import KeyFields, StateLayout, TargetField
from agentic_rl.diagnostics.packet import Exemplar, Moment
from agentic_rl.diagnostics.rollouts import EpisodeRecord
from sims.semantics import evaluate_criteria
from sims.spec import TaskSpec

#: Seconds before the end at which "last moments" are sampled (0 is the final state).
MOMENT_OFFSETS_S = (1.0, 0.5, 0.25, 0.0)
#: Points kept of each exemplar trajectory (for plots and the JSON).
TRAJECTORY_POINTS = 60
#: Vertical speed (m/s) above which the robot is "climbing"/"descending".
VERTICAL_SPEED = 0.1
#: Speed (m/s) under which the robot is "nearly still".
STILL_SPEED = 0.05
#: Rate of change of the target distance (m/s) that counts as approaching/moving away.
APPROACH_SPEED = 0.05
#: |action| at or above this is saturated.
SATURATED = 0.99
#: A failure reason needs this share of the failures to get its own exemplar after the first.
SECOND_FAILURE_SHARE = 0.25


def select(
    nominal: Sequence[EpisodeRecord], randomized: Sequence[EpisodeRecord] = ()
) -> list[tuple[str, EpisodeRecord]]:
    """``[(kind, episode)]``: the most common failure (nominal episodes first), a second
    failure reason if it holds :data:`SECOND_FAILURE_SHARE` of the failures, and a success."""
    out: list[tuple[str, EpisodeRecord]] = []
    pool = [e for e in nominal if not e.success] or [e for e in randomized if not e.success]
    counts = Counter(e.reason for e in pool)
    for rank, (reason, n) in enumerate(counts.most_common(2)):
        if rank and n < SECOND_FAILURE_SHARE * len(pool):
            break
        same = sorted((e for e in pool if e.reason == reason), key=lambda e: (e.length, e.seed))
        out.append(("failure", same[len(same) // 2]))
    wins = [e for e in nominal if e.success] or [e for e in randomized if e.success]
    if wins:
        out.append(("success", min(wins, key=lambda e: e.seed)))
    return out


def _vec(v: np.ndarray, digits: int = 2) -> str:
    return "(" + ", ".join(f"{x:+.{digits}f}" for x in v) + ")"


def _direction(v: np.ndarray) -> str:
    """Main directions of a world-frame (ENU) vector in words: 'above, toward +x'."""
    n = float(np.linalg.norm(v))
    if n < 1e-9:
        return "right there"
    words = []
    if abs(v[2]) > 0.3 * n:
        words.append("above" if v[2] > 0 else "below")
    for i, axis in enumerate("xy"):
        if abs(v[i]) > 0.3 * n:
            words.append(f"toward {'+' if v[i] > 0 else '-'}{axis}")
    return ", ".join(words)


def _target_words(t: TargetField, vec: np.ndarray, noun: str) -> str:
    dist = float(np.linalg.norm(vec))
    subject = t.subject or noun
    # Direction from the subject to the target, whatever the field's sign convention.
    where = _direction(t.sign * vec)
    return f"{t.label} {dist:.2f} m from {subject} ({where}; {t.field}={_vec(vec)} m)"


def _index_at(ep: EpisodeRecord, seconds_before_end: float) -> int:
    return max(0, ep.length - round(seconds_before_end / ep.dt))


def _doing(ep: EpisodeRecord, layout: StateLayout, keys: KeyFields, i: int) -> list[str]:
    """What the robot was doing at state row ``i``: speed, vertical motion, approach, tilt,
    body rates."""
    s = ep.states
    words = []
    if keys.velocity is not None:
        v = layout.get(s, keys.velocity)[i]
        speed = float(np.linalg.norm(v))
        unit = layout.unit(keys.velocity)
        if v[2] < -VERTICAL_SPEED:
            words.append(f"descending at {-v[2]:.2f} {unit} (speed {speed:.2f} {unit})")
        elif v[2] > VERTICAL_SPEED:
            words.append(f"climbing at {v[2]:.2f} {unit} (speed {speed:.2f} {unit})")
        else:
            still = "nearly still" if speed < STILL_SPEED else "moving"
            words.append(f"{still} at {speed:.2f} {unit}")
    target = keys.primary
    if target is not None and i > 0:
        d = np.linalg.norm(layout.get(s[i - 1 : i + 1], target.field), axis=-1)
        rate = float(d[1] - d[0]) / ep.dt
        if rate < -APPROACH_SPEED:
            words.append(f"approaching {target.label}")
        elif rate > APPROACH_SPEED:
            words.append(f"moving away from {target.label}")
    if keys.tilt is not None:
        tilt = float(layout.get(s, keys.tilt)[i])
        words.append(
            f"{keys.tilt} {tilt:.2f} {layout.unit(keys.tilt)} ({math.degrees(tilt):.0f} deg)"
        )
    if keys.spin is not None:
        w = float(np.linalg.norm(layout.get(s, keys.spin)[i]))
        words.append(f"|{keys.spin}| {w:.1f} {layout.unit(keys.spin)}")
    return words


def _moment(
    ep: EpisodeRecord, layout: StateLayout, keys: KeyFields, i: int, digits: int = 3
) -> Moment:
    fields = [keys.position, keys.velocity, keys.tilt, *(t.field for t in keys.targets)]
    fields += list(keys.scalars)
    values: dict[str, list[float] | float] = {}
    for name in dict.fromkeys(f for f in fields if f):
        x = layout.get(ep.states, name)[i]
        values[name] = round(float(x), digits) if np.ndim(x) == 0 else np.round(x, digits).tolist()
    # The reward each term paid on the step that led into this state (none for the reset).
    if i > 0:
        for term, series in ep.terms.items():
            values[f"reward.{term}"] = round(float(series[i - 1]), 4)
    return Moment(t=round(i * ep.dt, 3), values=values)


def describe(
    ep: EpisodeRecord, kind: str, spec: TaskSpec, layout: StateLayout, keys: KeyFields
) -> Exemplar:
    """An :class:`Exemplar` of one episode with its plain-words summary."""
    end = ep.length
    dur = ep.duration
    truncated = {r.name for r in spec.termination_reasons if r.kind == "truncated"}
    physics = "randomized" if ep.randomized else "nominal"
    if kind == "success":
        head = f"Succeeded at t={dur:.2f} s of {spec.episode_seconds:.1f} s ({physics} physics, seed {ep.seed})."
    elif ep.reason in truncated:
        head = f"Reached the time limit ({dur:.2f} s) without success ({physics} physics, seed {ep.seed})."
    else:
        head = (
            f"Ended by {ep.reason} at t={dur:.2f} s of {spec.episode_seconds:.1f} s "
            f"(step {end}; {physics} physics, seed {ep.seed})."
        )
    parts = [head]
    if kind != "success":
        # which declared part of success it missed (rows after each step, as the env counts)
        missed = [
            r.text for r in evaluate_criteria(spec, ep.states[1:], ep.metrics) if r.passed is False
        ]
        if missed:
            parts.append("Missed: " + "; ".join(missed) + ".")
    where = []
    if keys.position is not None:
        pos = layout.get(ep.states, keys.position)[end]
        where.append(f"{keys.position}={_vec(pos)} {layout.unit(keys.position)}")
    for t in keys.targets:
        where.append(_target_words(t, layout.get(ep.states, t.field)[end], keys.noun))
    for name in keys.scalars[:4]:
        unit = layout.unit(name)
        value = float(layout.get(ep.states, name)[end])
        where.append(f"{name}={value:.3g}" + ("" if unit == "1" else f" {unit}"))
    if where:
        parts.append("Where: " + "; ".join(where) + ".")
    doing = _doing(ep, layout, keys, end)
    if ep.length:
        recent = ep.actions[-max(1, round(0.5 / ep.dt)) :]
        sat = int(np.count_nonzero(np.mean(np.abs(recent) >= SATURATED, axis=0) > 0.5))
        if sat:
            doing.append(
                f"{sat} of {recent.shape[1]} action components saturated over the last 0.5 s"
            )
    if doing:
        parts.append(f"{keys.noun.capitalize()} was " + ", ".join(doing) + ".")
    target = keys.primary
    if target is not None:
        d = np.linalg.norm(layout.get(ep.states, target.field), axis=-1)
        j = int(np.argmin(d))
        who = f" ({target.subject})" if target.subject else ""
        parts.append(f"Closest to {target.label}{who}: {d[j]:.2f} m at t={j * ep.dt:.2f} s.")
    if end > 0:
        i0 = _index_at(ep, MOMENT_OFFSETS_S[0])
        trend = []
        if target is not None:
            d = np.linalg.norm(layout.get(ep.states, target.field), axis=-1)
            of = f" from {target.subject}" if target.subject else ""
            trend.append(f"distance{of} to {target.label} {d[i0]:.2f} -> {d[end]:.2f} m")
        if keys.velocity is not None:
            v = np.linalg.norm(layout.get(ep.states, keys.velocity), axis=-1)
            trend.append(f"speed {v[i0]:.2f} -> {v[end]:.2f} {layout.unit(keys.velocity)}")
        if keys.tilt is not None:
            tl = layout.get(ep.states, keys.tilt)
            trend.append(f"{keys.tilt} {tl[i0]:.2f} -> {tl[end]:.2f} {layout.unit(keys.tilt)}")
        if trend:
            parts.append(f"Over the last {(end - i0) * ep.dt:.2f} s: " + ", ".join(trend) + ".")
    moments = [
        _moment(ep, layout, keys, i)
        for i in dict.fromkeys(_index_at(ep, s) for s in MOMENT_OFFSETS_S)
    ]
    trajectory: list[list[float]] = []
    if keys.position is not None:
        pos = layout.get(ep.states, keys.position)
        idx = np.unique(np.linspace(0, len(pos) - 1, min(TRAJECTORY_POINTS, len(pos))).round())
        trajectory = np.round(pos[idx.astype(int)], 3).tolist()
    return Exemplar(
        kind=kind,  # type: ignore[arg-type]
        seed=ep.seed,
        randomized=ep.randomized,
        termination_reason=ep.reason,
        duration_s=round(dur, 3),
        summary=" ".join(parts),
        last_moments=moments,
        trajectory=trajectory,
    )


def exemplars(
    spec: TaskSpec,
    nominal: Sequence[EpisodeRecord],
    randomized: Sequence[EpisodeRecord] = (),
) -> list[Exemplar]:
    """The packet's exemplars: failures first, then a success to contrast."""
    layout, keys = StateLayout(spec), KeyFields.for_spec(spec)
    return [describe(ep, kind, spec, layout, keys) for kind, ep in select(nominal, randomized)]
