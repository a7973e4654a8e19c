"""Automatic findings: explicit rules over the packet's numbers, in plain words.

Every rule is a function documented with the condition it checks; its thresholds are the
named constants just above it. A rule returns a :class:`Finding` (code, message, the term it
concerns, severity and the evidence numbers that triggered it) or ``None``. The offline
designer acts on the codes and evidence; an LLM designer reads the messages.

This module is a little over 500 lines on purpose: it is one job, the rule book, and each rule
sits next to the thresholds it is judged by so that all of them can be read and tuned side by
side (:func:`compute_findings` at the end lists them).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np

from agentic_rl.diagnostics.keys import KeyFields, StateLayout, primary_distance
from agentic_rl.diagnostics.packet import (
    CurvePoint,
    DiagnosisPacket,
    EvalSummary,
    Finding,
    TermStats,
)
from agentic_rl.diagnostics.rollouts import EpisodeRecord
from sims.spec import TaskSpec

_SEVERITY_ORDER = {"critical": 0, "warning": 1, "info": 2}


def trend(values: Sequence[float] | np.ndarray) -> float:
    """Late minus early mean, per unit of scale: ``(mean(last third) - mean(first third)) /
    max(|early|, |late|, mean |v|)``; 0 for fewer than two finite values or an all-zero series.
    """
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if v.size < 2:
        return 0.0
    k = max(1, v.size // 3)
    early, late = float(v[:k].mean()), float(v[-k:].mean())
    scale = max(abs(early), abs(late), float(np.abs(v).mean()))
    return 0.0 if scale == 0.0 else (late - early) / scale


# ----------------------------------------------------------------------------- dominant term
#: A term carrying more than this share of the summed reward magnitude dominates.
DOMINANT_SHARE = 0.8


def dominant_term(terms: Sequence[TermStats]) -> Finding | None:
    """With two or more terms, one term's ``share`` (its mean |per-episode sum| over training
    divided by the sum over all terms) exceeds :data:`DOMINANT_SHARE`."""
    if len(terms) < 2:
        return None
    top = max(terms, key=lambda t: t.share)
    if top.share <= DOMINANT_SHARE:
        return None
    others = ", ".join(t.name for t in terms if t is not top)
    return Finding(
        code="dominant_term",
        term=top.name,
        message=(
            f"'{top.name}' carries {top.share:.0%} of the reward magnitude; {others} together "
            f"{1 - top.share:.0%}. The policy effectively optimizes '{top.name}' alone: "
            "rebalance the weights or bound that term."
        ),
        evidence={"share": top.share},
    )


# ----------------------------------------------------------------------------- inert term
#: Relative and absolute tolerance under which a term's per-step value counts as constant.
INERT_REL_TOL = 1e-6
INERT_ABS_TOL = 1e-9


def _constant(values: np.ndarray, c: float) -> bool:
    values = values[np.isfinite(values)]
    return bool(np.all(np.abs(values - c) <= max(INERT_ABS_TOL, INERT_REL_TOL * abs(c))))


def inert_terms(terms: Sequence[TermStats], training: Sequence[CurvePoint]) -> list[Finding]:
    """A term is inert when it pays the same value ``c`` on every step: its per-step value in
    the evaluation episodes is constant (within :data:`INERT_REL_TOL` / :data:`INERT_ABS_TOL`)
    and, over training, its per-episode sum divided by the episode length equals ``c`` at every
    sample point. Without evaluation values, a term that was 0 at every training point is
    inert. ``c = 0``: it never pays; ``c != 0``: it only rewards (or punishes) staying alive.
    """
    lengths = np.array([p.episode_length or np.nan for p in training], dtype=np.float64)
    out = []
    for t in terms:
        curve = np.asarray(t.curve, dtype=np.float64)
        if t.eval_step is not None:
            if t.eval_step.max - t.eval_step.min > max(
                INERT_ABS_TOL, INERT_REL_TOL * abs(t.eval_step.mean)
            ):
                continue
            c = t.eval_step.mean
            if curve.size == lengths.size and curve.size and not _constant(curve / lengths, c):
                continue
        elif curve.size and _constant(curve, 0.0) and _constant(np.array([t.min, t.max]), 0.0):
            c = 0.0
        else:
            continue
        if c == 0.0:
            message = (
                f"'{t.name}' was 0 on every step: it never pays, so it teaches nothing (its "
                "condition is never met or its scale is far too small)."
            )
            severity = "warning"
        else:
            sign = "rewards" if c > 0 else "punishes"
            message = (
                f"'{t.name}' is the constant {c:.4g} on every step: it carries no information "
                f"about the state and only {sign} staying alive longer."
            )
            severity = "info"
        out.append(
            Finding(
                code="inert_term",
                term=t.name,
                message=message,
                severity=severity,  # type: ignore[arg-type]
                evidence={"value": c},
            )
        )
    return out


# ----------------------------------------------------------------------------- reward hacking
#: Minimum training sample points with both reward and task data for a trend.
HACK_MIN_POINTS = 4
#: Episode-reward rise (late vs early, per unit of scale) that counts as "rising".
HACK_REWARD_RISE = 0.2
#: Task-metric worsening (per unit of scale) that counts as "falling".
HACK_METRIC_WORSENING = 0.1
#: Success-rate drop (absolute) that counts as "falling".
HACK_SUCCESS_DROP = 0.2
#: Success-rate gain (absolute) under which success counts as "not improving".
HACK_SUCCESS_FLAT = 0.1


def _early_late(values: np.ndarray) -> tuple[float, float]:
    k = max(1, values.size // 3)
    return float(values[:k].mean()), float(values[-k:].mean())


def reward_hacking(
    training: Sequence[CurvePoint],
    higher_is_better: bool = True,
    terms: Sequence[TermStats] = (),
) -> Finding | None:
    """The episode reward rises by at least :data:`HACK_REWARD_RISE` (late vs early third of
    training, per unit of scale) while the task gets worse: the success rate drops by at least
    :data:`HACK_SUCCESS_DROP`, or the task metric worsens by at least
    :data:`HACK_METRIC_WORSENING` with success not improving by :data:`HACK_SUCCESS_FLAT`.
    The suspect ``term`` is the one whose per-episode sum grew the most in absolute units
    (late minus early third of its curve)."""
    pts = [p for p in training if p.episode_reward is not None and p.success_rate is not None]
    if len(pts) < HACK_MIN_POINTS:
        return None
    rise = trend([p.episode_reward for p in pts])  # type: ignore[misc]
    if rise < HACK_REWARD_RISE:
        return None
    s_early, s_late = _early_late(np.array([p.success_rate for p in pts], dtype=np.float64))
    evidence = {"reward_trend": rise, "success_early": s_early, "success_late": s_late}
    worse = 0.0
    metric = [p.task_metric for p in pts]
    if all(m is not None for m in metric):
        m_early, m_late = _early_late(np.array(metric, dtype=np.float64))
        scale = max(abs(m_early), abs(m_late), 1e-9)
        worse = (m_early - m_late if higher_is_better else m_late - m_early) / scale
        evidence.update(metric_early=m_early, metric_late=m_late, metric_worsening=worse)
    dropped = s_early - s_late >= HACK_SUCCESS_DROP
    if not dropped and not (
        worse >= HACK_METRIC_WORSENING and s_late - s_early < HACK_SUCCESS_FLAT
    ):
        return None
    what = (
        f"success fell from {s_early:.0%} to {s_late:.0%}"
        if dropped
        else f"the task metric got {worse:.0%} worse"
    )
    suspect, growth = None, 0.0
    for t in terms:
        if len(t.curve) >= 2:
            early, late = _early_late(np.asarray(t.curve, dtype=np.float64))
            if late - early > growth:
                suspect, growth = t.name, late - early
    culprit = (
        f"'{suspect}' grew the most (+{growth:.3g} per episode): tie it to real progress."
        if suspect
        else "Find the term that grew and tie it to real progress."
    )
    if suspect:
        evidence["term_growth"] = growth
    return Finding(
        code="reward_hacking",
        term=suspect,
        severity="critical",
        message=(
            f"Suspected reward hacking: the episode reward rose ({rise:+.0%} of its scale) while "
            f"{what}. Some term pays for behaviour that does not solve the task; {culprit}"
        ),
        evidence=evidence,
    )


# ----------------------------------------------------------------------------- failure modes
#: Share of failed episodes that must end the same way for that ending to dominate.
FAILURE_MAJORITY = 0.6
#: A failure mode is only called when at least this share of all episodes failed.
MIN_FAILURE_RATE = 0.25
#: Crash-dominated is critical when early failures make up this share of all episodes.
CRASH_CRITICAL_RATE = 0.5
#: Timeouts ending farther than this many success tolerances from the target are "far".
FAR_TOLERANCES = 3.0


def _failure_counts(summaries: Sequence[EvalSummary], spec: TaskSpec) -> tuple[int, Counter[str]]:
    success = {r.name for r in spec.termination_reasons if r.success} | {"success"}
    total, fails = 0, Counter[str]()
    for s in summaries:
        total += s.episodes
        fails.update({r: n for r, n in s.termination_reasons.items() if r not in success})
    return total, fails


def _breakdown(counts: Counter[str]) -> str:
    return ", ".join(f"{r} {n}" for r, n in counts.most_common())


def crash_dominated(summaries: Sequence[EvalSummary], spec: TaskSpec) -> Finding | None:
    """At least :data:`MIN_FAILURE_RATE` of the evaluated episodes fail and at least
    :data:`FAILURE_MAJORITY` of the failures end early (a ``terminated`` reason of the spec
    that is not a success: crash, flipped, collision, out_of_bounds, hard_landing, ...)."""
    total, fails = _failure_counts(summaries, spec)
    n_fail = sum(fails.values())
    if not total or n_fail / total < MIN_FAILURE_RATE:
        return None
    kinds = {r.name: r.kind for r in spec.termination_reasons}
    early = Counter({r: n for r, n in fails.items() if kinds.get(r, "terminated") == "terminated"})
    n_early = sum(early.values())
    if n_early / n_fail < FAILURE_MAJORITY:
        return None
    return Finding(
        code="crash_dominated",
        severity="critical" if n_early / total >= CRASH_CRITICAL_RATE else "warning",
        message=(
            f"{n_early} of {total} evaluated episodes end early in failure ({_breakdown(early)}): "
            "the policy loses control before the task is done. Make the precursors (attitude, "
            "body rates, speed near obstacles or the ground) costly and staying alive worth "
            "more than any shortcut."
        ),
        evidence={
            "early_failure_share": n_early / n_fail,
            "failure_rate": n_fail / total,
            **{f"count_{r}": float(n) for r, n in early.items()},
        },
    )


def timeout_dominated(
    summaries: Sequence[EvalSummary],
    spec: TaskSpec,
    episodes: Sequence[EpisodeRecord] = (),
    layout: StateLayout | None = None,
    keys: KeyFields | None = None,
) -> Finding | None:
    """At least :data:`MIN_FAILURE_RATE` of the evaluated episodes fail and at least
    :data:`FAILURE_MAJORITY` of the failures reach the time limit without success. With a
    primary target (see :mod:`~agentic_rl.diagnostics.keys`), the timed-out episodes' final
    and closest distances are evidence; ``far`` is 1 when the mean final distance exceeds
    :data:`FAR_TOLERANCES` success tolerances."""
    total, fails = _failure_counts(summaries, spec)
    n_fail = sum(fails.values())
    if not total or n_fail / total < MIN_FAILURE_RATE:
        return None
    kinds = {r.name: r.kind for r in spec.termination_reasons}
    n_timeout = sum(n for r, n in fails.items() if kinds.get(r) == "truncated")
    if n_timeout / n_fail < FAILURE_MAJORITY:
        return None
    evidence = {"timeout_share": n_timeout / n_fail, "failure_rate": n_fail / total}
    where = ""
    hint = "It survives but does not finish: reward progress toward the objective."
    if layout is not None and keys is not None and keys.primary is not None:
        dists = [
            primary_distance(ep.states, layout, keys)
            for ep in episodes
            if not ep.success and kinds.get(ep.reason) == "truncated"
        ]
        dists = [d for d in dists if d is not None and d.size]
        if dists:
            final = float(np.mean([d[-1] for d in dists]))
            closest = float(np.mean([d.min() for d in dists]))
            tol = keys.tolerance or 0.0
            far = final > FAR_TOLERANCES * tol
            evidence.update(
                final_distance=final, closest_distance=closest, tolerance=tol, far=float(far)
            )
            label = keys.primary.label
            where = (
                f", ending {final:.2f} m from {label} on average (success tolerance {tol:.2f} m; "
                f"closest approach {closest:.2f} m)"
            )
            hint = (
                "It survives but does not get there: reward progress toward the target."
                if far
                else "It gets close but does not meet the success criterion: reward precision "
                "and steadiness near the target."
            )
    return Finding(
        code="timeout_dominated",
        message=(
            f"{n_timeout} of {total} evaluated episodes run out of time "
            f"({spec.episode_seconds:.1f} s) without success{where}. {hint}"
        ),
        evidence=evidence,
    )


# ----------------------------------------------------------------------------- oscillation
#: "Near the goal" means within this many success tolerances of the primary target.
NEAR_TOLERANCES = 3.0
#: An episode must spend at least this long near the goal to be judged.
OSC_MIN_NEAR_S = 0.5
#: Velocity components below this (m/s) are noise, not a direction (hysteresis band).
OSC_DEADBAND = 0.05
#: Direction reversals per second (on the busiest axis) near the goal that make it oscillate.
OSC_MIN_REVERSAL_HZ = 1.5
#: Share of the episodes that reached the goal region which must oscillate, and a minimum count.
OSC_MIN_SHARE = 0.3
OSC_MIN_EPISODES = 2


def _reversals(v: np.ndarray) -> int:
    """Sign changes of a velocity component, ignoring values inside the dead band."""
    signs = np.sign(v[np.abs(v) > OSC_DEADBAND])
    return int(np.count_nonzero(np.diff(signs)))


def oscillation_near_goal(
    episodes: Sequence[EpisodeRecord], layout: StateLayout, keys: KeyFields
) -> Finding | None:
    """Among episodes that spend at least :data:`OSC_MIN_NEAR_S` within
    :data:`NEAR_TOLERANCES` tolerances of the primary target, at least :data:`OSC_MIN_SHARE`
    (and :data:`OSC_MIN_EPISODES`) reverse direction at :data:`OSC_MIN_REVERSAL_HZ` or more
    on their busiest velocity axis while near it (ignoring |v| < :data:`OSC_DEADBAND`)."""
    if keys.primary is None or keys.velocity is None or keys.tolerance is None:
        return None
    radius = NEAR_TOLERANCES * keys.tolerance
    reached, oscillating, failed, rates = 0, 0, 0, []
    for ep in episodes:
        dist = primary_distance(ep.states, layout, keys)
        near = dist < radius  # type: ignore[operator]
        near_s = near.sum() * ep.dt
        if near_s < OSC_MIN_NEAR_S:
            continue
        reached += 1
        vel = layout.get(ep.states, keys.velocity)[near]
        rate = max(_reversals(vel[:, i]) for i in range(vel.shape[1])) / near_s
        if rate >= OSC_MIN_REVERSAL_HZ:
            oscillating += 1
            failed += not ep.success
            rates.append(rate)
    if oscillating < OSC_MIN_EPISODES or oscillating < OSC_MIN_SHARE * reached:
        return None
    hint = (
        # a goal that moves on when reached (the next gate) is passed through, not held
        "Smooth the approach (penalize changes of action and sideways speed); do not reward "
        "holding still there: the goal moves on to its next target when reached."
        if keys.advances
        else "Damp velocity near the target and reward holding still inside the tolerance."
    )
    return Finding(
        code="oscillation_near_goal",
        severity="warning" if failed else "info",
        message=(
            f"{oscillating} of {reached} episodes that reached {keys.primary.label} (within "
            f"{radius:.2f} m) oscillate there, reversing direction {np.mean(rates):.1f} times "
            f"per second ({failed} of them failed). {hint}"
        ),
        evidence={
            "episodes_reached": float(reached),
            "episodes_oscillating": float(oscillating),
            "reversal_hz": float(np.mean(rates)),
            "near_radius": radius,
        },
    )


# ----------------------------------------------------------------------------- non-finite
#: Non-finite terms are critical when they hit at least this share of training steps.
NONFINITE_CRITICAL_RATE = 0.01


def nonfinite_terms(terms: Sequence[TermStats], train_steps: int) -> Finding | None:
    """Any term was NaN or infinite (and zeroed by the runtime guard) during training or
    evaluation; critical when the training count reaches :data:`NONFINITE_CRITICAL_RATE` of
    the training steps."""
    bad = [t for t in terms if t.nonfinite or t.eval_nonfinite]
    if not bad:
        return None
    worst = max(bad, key=lambda t: t.nonfinite + t.eval_nonfinite)
    counts = ", ".join(
        f"{t.name} {t.nonfinite} in training, {t.eval_nonfinite} in eval" for t in bad
    )
    rate = worst.nonfinite / train_steps if train_steps else 0.0
    return Finding(
        code="nonfinite_terms",
        term=worst.name,
        severity="critical" if rate >= NONFINITE_CRITICAL_RATE else "warning",
        message=(
            f"Terms went NaN/inf and were replaced by 0 ({counts}). Guard divisions, logs, "
            "square roots and exponentials so every state gives a finite value."
        ),
        evidence={"nonfinite_rate": rate, **{t.name: float(t.nonfinite) for t in bad}},
    )


# ----------------------------------------------------------------------------- randomization
#: Success-rate drop (absolute) from nominal to randomized physics that counts as a gap.
RANDOMIZATION_GAP = 0.25


def randomization_gap(nominal: EvalSummary, randomized: EvalSummary | None) -> Finding | None:
    """Success under randomized physics is at least :data:`RANDOMIZATION_GAP` below nominal."""
    if randomized is None:
        return None
    gap = nominal.success_rate - randomized.success_rate
    if gap < RANDOMIZATION_GAP:
        return None
    return Finding(
        code="randomization_gap",
        message=(
            f"Success drops from {nominal.success_rate:.0%} (nominal physics) to "
            f"{randomized.success_rate:.0%} under randomized physics: the behaviour is brittle. "
            "Prefer smooth, margin-keeping behaviour (lower speeds, level attitude) over "
            "precise open-loop manoeuvres."
        ),
        evidence={
            "nominal_success": nominal.success_rate,
            "randomized_success": randomized.success_rate,
            "gap": gap,
        },
    )


# ----------------------------------------------------------------------------- no learning
#: Minimum training points with a success rate for the rule to judge.
NO_LEARNING_MIN_POINTS = 4
#: Success (late training and nominal evaluation) at or below this is "not solving".
NO_LEARNING_MAX_SUCCESS = 0.1
#: Changes below these (success: absolute; metric: per unit of scale) count as flat.
NO_LEARNING_SUCCESS_CHANGE = 0.05
NO_LEARNING_METRIC_CHANGE = 0.05


def no_learning(training: Sequence[CurvePoint], nominal: EvalSummary) -> Finding | None:
    """Success stays at or below :data:`NO_LEARNING_MAX_SUCCESS` (late training and nominal
    evaluation), changes by less than :data:`NO_LEARNING_SUCCESS_CHANGE`, and the task metric
    moves less than :data:`NO_LEARNING_METRIC_CHANGE` of its scale over training. The message
    tells apart a reward that did not move either (no gradient) from one the policy learned
    to collect (episode reward up by :data:`HACK_REWARD_RISE` or more) without the task
    following (misaligned)."""
    pts = [p for p in training if p.success_rate is not None]
    if len(pts) < NO_LEARNING_MIN_POINTS or nominal.success_rate > NO_LEARNING_MAX_SUCCESS:
        return None
    s_early, s_late = _early_late(np.array([p.success_rate for p in pts], dtype=np.float64))
    if s_late > NO_LEARNING_MAX_SUCCESS or abs(s_late - s_early) >= NO_LEARNING_SUCCESS_CHANGE:
        return None
    metric = [p.task_metric for p in pts if p.task_metric is not None]
    change = abs(trend(metric)) if len(metric) >= NO_LEARNING_MIN_POINTS else 0.0
    if change >= NO_LEARNING_METRIC_CHANGE:
        return None
    rewards = [p.episode_reward for p in pts if p.episode_reward is not None]
    rise = trend(rewards) if len(rewards) >= NO_LEARNING_MIN_POINTS else 0.0
    if rise >= HACK_REWARD_RISE:
        message = (
            f"Task not learned: success stayed at {s_late:.0%} and the task metric moved "
            f"{change:.1%} while the episode reward rose ({rise:+.0%} of its scale). The policy "
            "learns to collect this reward, but collecting it does not solve the task."
        )
    else:
        message = (
            f"No learning: success stayed at {s_late:.0%}, the task metric moved {change:.1%} "
            f"and the episode reward {rise:+.0%} over training. The reward gives no usable "
            "gradient toward the task (too sparse, dominated by a constant, or too flat)."
        )
    return Finding(
        code="no_learning",
        severity="critical",
        message=message,
        evidence={"success_late": s_late, "metric_change": change, "reward_trend": rise},
    )


# ----------------------------------------------------------------------------- all rules
def compute_findings(
    packet: DiagnosisPacket,
    spec: TaskSpec,
    episodes: Sequence[EpisodeRecord] = (),
) -> list[Finding]:
    """Run every rule on a packet (and its evaluation episodes, for the rules that need
    trajectories); most severe first, in rule order within a severity."""
    layout, keys = StateLayout(spec), KeyFields.for_spec(spec)
    summaries = [packet.nominal] + ([packet.randomized] if packet.randomized else [])
    found = [
        no_learning(packet.training, packet.nominal),
        reward_hacking(packet.training, packet.task_metric_higher_is_better, packet.terms),
        nonfinite_terms(packet.terms, packet.train_steps),
        crash_dominated(summaries, spec),
        timeout_dominated(summaries, spec, episodes, layout, keys),
        oscillation_near_goal(episodes, layout, keys),
        randomization_gap(packet.nominal, packet.randomized),
        dominant_term(packet.terms),
        *inert_terms(packet.terms, packet.training),
    ]
    out = [f for f in found if f is not None]
    return sorted(out, key=lambda f: _SEVERITY_ORDER[f.severity])
