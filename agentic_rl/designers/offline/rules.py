"""The refinement rules: what the offline designer changes for each thing a parent got wrong.

Applied to the parent's genome in this order (``xF`` multiplies a weight, "add" inserts the
ingredient at its base weight when absent; names are the ingredients of
:mod:`~agentic_rl.designers.offline.ingredients`):

* ``crash_dominated`` (the diagnostics' finding, which already passed its gate): the guards
  of every early-failure reason that ended episodes x2 / add, ``attitude`` / ``body_rates``
  when that hazard is predicted by the body's tilt / rates; and ``distance`` is replaced by
  ``closeness`` (bounded and positive, so ending early does not pay), or by ``closing`` for a
  goal that advances (which gets no dwell terms, see ``ingredients``).
* ``timeout_dominated`` (finding): far from the goal (measured over the failed, timed-out
  episodes only): ``closing`` x2 / add, ``closeness`` add, progress events and ``approach``
  x1.5; near the goal: ``on_target`` x2 / add, ``goal_bonus`` add, the further errors'
  ``on_<err>`` add.
* ``failed_criterion``: each declared success sub-criterion broken in at least the
  diagnostics' gate share of the episodes maps to a term through what it reads:
  the goal error -> its precision (``on_target`` or ``on_<err>``, ``steady`` when held);
  a progress field -> its ``event_<field>`` and ``closing`` (and, when that field advances
  the goal, ``distance`` is replaced by ``closing``: the distance to the next target jumps
  up at every target reached, so paying for a small distance makes progress cost); another
  field -> its
  ``crit_<name>``; a metric in m/s (e.g. touchdown speed) -> the guards of hazards predicted
  by a velocity, else ``steady``; a metric in m that must be small -> ``on_target``, one that
  must be large (a clearance) -> the guards that keep distance; a metric in rad ->
  ``attitude``.
* ``oscillation_near_goal``: ``steady`` (or ``match_velocity``) x2, ``action_rate`` x2.
* ``dominant_term`` (> 80% of magnitude, share s): weight x ``clip((1-s)/s, 0.2, 0.7)``; a
  sole term gets ``closing`` beside it; the core goal term is kept.
* ``inert_term``: shaping dropped; guards kept; the core term x3.
* ``reward_hacking``: a positive shaping term is gated by closeness to the goal and halved,
  the core x1.5; for the core itself ``on_target`` x1.5 and ``goal_bonus``; penalties kept.
* ``nonfinite_terms``: dropped. ``randomization_gap``: ``action_rate``, ``body_rates`` x1.5.
  ``no_learning``: ``closeness`` and ``closing`` add.
* no rule changed anything and success is below 100%: ``on_target`` x1.5.

Each term is changed at most once per refinement (two rules reading the same failure do not
compound). A rule never adds a term that the refinement memory blames: one a sibling of this iteration
added to the same parent and then did worse, was rejected or failed (see ``blocked``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from agentic_rl.designers.offline.evidence import Evidence
from agentic_rl.designers.offline.genome import Genome, _fmt, _round
from agentic_rl.designers.offline.ingredients import catalogue
from agentic_rl.designers.offline.view import TaskView


@dataclass
class RuleLog:
    """What the rules did, for ``Proposal.meta`` and the rationale."""

    entries: list[dict[str, Any]] = field(default_factory=list)

    def add(self, rule: str, change: str, why: str) -> None:
        self.entries.append({"rule": rule, "change": change, "why": why})

    @property
    def rules(self) -> list[str]:
        return list(dict.fromkeys(e["rule"] for e in self.entries))


class Rules:
    """Apply the documented rules of the module docstring to a genome.

    Args:
        view: the task's declarations.
        blocked: term -> why it must not be added again (from the refinement memory).
    """

    def __init__(self, view: TaskView, blocked: dict[str, str] | None = None) -> None:
        self.view = view
        self.cat = catalogue(view)
        self.blocked = dict(blocked or {})
        self._changed: set[str] = set()

    # ------------------------------------------------------------------ small edits
    def boost(self, g: Genome, name: str, factor: float, rule: str, log: RuleLog, why: str) -> None:
        """Multiply a weight by ``factor``, or add the ingredient at its base weight."""
        if name not in self.cat:
            return
        if name in self._changed:
            # Two rules reading the same failure (a timeout near the goal is also a broken
            # distance criterion) would compound; each term changes once per refinement.
            log.add(rule, f"{name} already changed", why)
            return
        self._changed.add(name)
        if name in g.weights:
            old = g.weights[name]
            g.weights[name] = _round(old * factor)
            log.add(rule, f"{name} x{factor:g} ({_fmt(old)} -> {_fmt(g.weights[name])})", why)
        elif name in self.blocked:
            log.add(rule, f"did not add {name}", f"{why}; but {self.blocked[name]}")
        else:
            g.weights[name] = self.cat[name].weight
            log.add(rule, f"added {name} ({_fmt(self.cat[name].weight)})", why)

    def add(self, g: Genome, name: str, rule: str, log: RuleLog, why: str) -> None:
        """Add the ingredient at its base weight if absent (leave it alone otherwise)."""
        if name in self.cat and name not in g.weights:
            self.boost(g, name, 1.0, rule, log, why)

    def scale(self, g: Genome, name: str, factor: float, rule: str, log: RuleLog, why: str) -> None:
        if name in g.weights:
            self.boost(g, name, factor, rule, log, why)

    def drop(self, g: Genome, name: str, rule: str, log: RuleLog, why: str) -> None:
        if name in g.weights and len(g.weights) > 1:
            del g.weights[name]
            g.gated.discard(name)
            log.add(rule, f"dropped {name}", why)

    def swap_core(self, g: Genome, rule: str, log: RuleLog) -> None:
        """Replace the negative ``distance`` by the bounded, positive ``closeness``.

        With a reward that is negative on every step, ending the episode early *raises* the
        return; ``closeness`` points the same way but makes every step the robot survives
        worth more than nothing.
        """
        if self.view.advances_on is not None:
            self.advance(g, rule, log, "ending the episode early must not pay")
            return
        why = "a bounded positive per-step reward, so ending the episode early never pays"
        if "distance" in g.weights:
            w = g.weights.pop("distance")
            g.weights["closeness"] = max(g.weights.get("closeness", 0.0), w)
            g.gated.discard("distance")
            log.add(rule, f"replaced distance by closeness ({_fmt(g.weights['closeness'])})", why)
        else:
            self.add(g, "closeness", rule, log, why)

    def advance(self, g: Genome, rule: str, log: RuleLog, why: str) -> None:
        """For a goal that advances: replace ``distance`` by ``closing`` and pay the advance.

        The distance to the next target jumps up each time one is reached, so a penalty on it
        makes every target reached cost; ``closing`` telescopes to the distance covered toward
        each target and the event bonus pays reaching it.
        """
        field = self.view.advances_on
        why = f"{why}; the goal advances when {field} rises, and the distance to it jumps up"
        if "distance" in g.weights:
            w = g.weights.pop("distance")
            g.gated.discard("distance")
            base = self.cat["closing"].weight * w
            g.weights["closing"] = _round(max(g.weights.get("closing", 0.0), base))
            self._changed.add("closing")
            log.add(rule, f"replaced distance by closing ({_fmt(g.weights['closing'])})", why)
        else:
            self.add(g, "closing", rule, log, why)
        self.add(g, f"event_{field}", rule, log, why)

    def core(self, g: Genome) -> str:
        """The genome's goal term (what ``reward_hacking`` strengthens)."""
        return next((n for n in ("closeness", "distance", "closing") if n in g.weights), "distance")

    def guards_with(self, unit: str, moving: bool) -> list[str]:
        """Hazard guards whose hazard names a predictor field in ``unit`` (of a moving body
        or object when ``moving``, else of anything)."""
        from sims.semantics import parse_ref

        out = []
        for h in self.view.spec.hazards:
            name = f"guard_{h.reason}"
            if name not in self.cat:
                continue
            for ref in h.fields:
                f = self.view.field(parse_ref(ref)[0])
                if f.unit == unit and (not moving or f.role in ("robot", "object")):
                    out.append(name)
                    break
        return out

    # ------------------------------------------------------------------ the rules
    def apply(self, parent: Genome, ev: Evidence) -> tuple[Genome, RuleLog]:
        """The parent's genome with every rule that the evidence triggers applied."""
        g, log = parent.copy(), RuleLog()
        self._changed = set()
        codes = ev.codes
        if "crash_dominated" in codes:
            self._crashes(g, ev, log)
        if "timeout_dominated" in codes:
            self._timeouts(g, ev, log)
        self._criteria(g, ev, log)
        if "oscillation_near_goal" in codes:
            why = "the policy reaches the goal region but oscillates there"
            damp = "match_velocity" if "match_velocity" in self.cat else "steady"
            self.boost(g, damp, 2.0, "oscillation_near_goal", log, why)
            self.boost(g, "action_rate", 2.0, "oscillation_near_goal", log, why)
        self._term_findings(g, ev, log)
        if "randomization_gap" in codes:
            why = "success drops under randomized physics: smoother control"
            self.boost(g, "action_rate", 1.5, "randomization_gap", log, why)
            self.boost(g, "body_rates", 1.5, "randomization_gap", log, why)
        if "no_learning" in codes:
            why = "success and task metric stayed flat: the signal is too sparse"
            self.add(g, "closeness", "no_learning", log, why)
            self.add(g, "closing", "no_learning", log, why)
        unchanged = g.weights == parent.weights and g.gated == parent.gated
        success = ev.packet.nominal.success_rate
        if unchanged and success < 1.0:
            why = f"no finding; success {success:.0%}: reward precision"
            self.boost(g, "on_target", 1.5, "precision", log, why)
        return g, log

    def _crashes(self, g: Genome, ev: Evidence, log: RuleLog) -> None:
        from sims.semantics import parse_ref

        body = self.view.spec.body
        early = [r for r in self.view.early_failures if ev.failures.get(r, 0) > 0]
        ends = ", ".join(f"{r} {ev.failures[r]}" for r in early)
        why = f"episodes end early in failure ({ends} of {ev.total})"
        for reason in early:
            self.boost(g, f"guard_{reason}", 2.0, "crash_dominated", log, why)
            hazard = self.view.hazard(reason)
            names = {parse_ref(ref)[0] for ref in (hazard.fields if hazard else ())}
            if body.tilt in names:
                self.boost(g, "attitude", 2.0, "crash_dominated", log, f"{why}; tilt warns of it")
            if body.angular_velocity in names:
                self.boost(
                    g, "body_rates", 2.0, "crash_dominated", log, f"{why}; body rates warn of it"
                )
        self.swap_core(g, "crash_dominated", log)

    def _timeouts(self, g: Genome, ev: Evidence, log: RuleLog) -> None:
        tol = self.view.tol
        where = "at an unknown distance" if ev.final_error is None else f"{ev.final_error:.3g} away"
        if ev.far is not False:
            why = (
                f"failed episodes time out far from the goal ({where}, tolerance {tol:g})"
                if ev.far
                else "episodes time out (distance unknown): reward getting there"
            )
            self.boost(g, "closing", 2.0, "timeout_far", log, why)
            self.add(g, "closeness", "timeout_far", log, "a gradient toward the goal everywhere")
            for name in [f"event_{p}" for p in self.view.progress] + ["approach"]:
                self.boost(g, name, 1.5, "timeout_far", log, why)
        else:
            why = f"failed episodes time out near the goal ({where}) without meeting tolerance"
            self.boost(g, "on_target", 2.0, "timeout_near", log, why)
            self.add(g, "goal_bonus", "timeout_near", log, why)
            for e in self.view.secondary:
                self.add(g, f"on_{e.field}", "timeout_near", log, f"{e.field} counts too")

    def _criteria(self, g: Genome, ev: Evidence, log: RuleLog) -> None:
        from sims.semantics import parse_ref

        spec = self.view.spec
        metric_units = {m.name: m.unit for m in spec.task_metrics}
        for c in spec.success_criteria:
            n = ev.failed_criteria.get(c.name, 0)
            if not ev.crossed_gate(n):
                continue
            why = f"criterion {c.name!r} ({c.key} {c.compare} {c.threshold}) failed in {n} of {ev.total} episodes"
            rule = "failed_criterion"
            name = parse_ref(c.key)[0] if c.source == "field" else c.key
            error = self.view.error(name)
            if error is not None:
                if error is self.view.primary:
                    self.boost(g, "on_target", 2.0, rule, log, why)
                    self.add(g, "goal_bonus", rule, log, why)
                else:
                    self.boost(g, f"on_{error.field}", 2.0, rule, log, why)
                    self.add(g, f"near_{error.field}", rule, log, why)
                if c.hold is not None:
                    self.boost(g, "steady", 1.5, rule, log, why + " (it must hold)")
            elif name in self.view.progress:
                if name == self.view.advances_on:
                    self.advance(g, rule, log, why)
                self.boost(g, f"event_{name}", 2.0, rule, log, why)
                self.add(g, "closing", rule, log, why)
                self.add(g, "approach", rule, log, why)
            elif f"crit_{c.name}" in self.cat:
                self.boost(g, f"crit_{c.name}", 2.0, rule, log, why)
                if c.hold is not None:
                    self.boost(g, "steady", 1.5, rule, log, why + " (it must hold)")
            else:
                self._metric_criterion(g, c.compare, metric_units.get(c.key, "1"), why, log)

    def _metric_criterion(self, g: Genome, compare: str, unit: str, why: str, log: RuleLog) -> None:
        rule = "failed_criterion"
        small = compare in ("<", "<=")
        if unit == "m/s":
            guards = self.guards_with("m/s", moving=True) if small else []
            for name in guards:
                self.boost(g, name, 2.0, rule, log, why)
            if not guards:
                self.boost(g, "steady", 2.0, rule, log, why)
        elif unit == "m" and small:
            self.boost(g, "on_target", 2.0, rule, log, why)
            self.add(g, "goal_bonus", rule, log, why)
        elif unit == "m":
            for name in self.guards_with("m", moving=False):
                self.boost(g, name, 2.0, rule, log, why + ": keep the distance")
        elif unit == "rad":
            self.boost(g, "attitude", 2.0, rule, log, why)
        else:
            self.boost(g, "on_target", 1.5, rule, log, why)

    def _term_findings(self, g: Genome, ev: Evidence, log: RuleLog) -> None:
        for f in ev.packet.findings:
            if f.code == "dominant_term" and f.term in g.weights:
                share = _share(ev, f.term, f.evidence)
                if len(g.weights) == 1:
                    self.add(g, "closing", "dominant_term", log, f"{f.term} is the only term")
                elif self.cat[f.term].role == "core":
                    # The goal term carrying the reward is the intended design; shrinking it
                    # weakens the pull to the goal (the other rules add what is missing).
                    log.add("dominant_term", f"kept {f.term}", f"{f.term} is the objective")
                else:
                    factor = min(0.7, max(0.2, (1.0 - share) / max(share, 1e-6)))
                    why = f"{f.term} carries {share:.0%} of the reward magnitude"
                    self.scale(g, f.term, round(factor, 3), "dominant_term", log, why)
        for f in ev.packet.findings:
            if f.code == "inert_term" and f.term in g.weights:
                role = self.cat[f.term].role
                why = f"{f.term} never changes"
                if role == "guard":
                    log.add("inert_term", f"kept {f.term}", why + "; a guard may never fire")
                elif role == "core":
                    self.scale(g, f.term, 3.0, "inert_term", log, why + "; core rescaled")
                else:
                    self.drop(g, f.term, "inert_term", log, why + "; it only adds noise")
        for f in ev.packet.findings:
            if f.code == "reward_hacking" and f.term in g.weights:
                why = f"{f.term} rises while the task metric falls"
                if self.cat[f.term].role == "core":
                    self.add(g, "goal_bonus", "reward_hacking", log, why)
                    self.boost(g, "on_target", 1.5, "reward_hacking", log, why)
                elif self.cat[f.term].sign < 0:
                    # A penalty that "rises" toward 0 is the policy avoiding it: no hacking.
                    log.add("reward_hacking", f"kept {f.term}", why + "; it is a penalty")
                else:
                    g.gated.add(f.term)
                    self.scale(g, f.term, 0.5, "reward_hacking", log, why + "; now gated")
                    self.scale(g, self.core(g), 1.5, "reward_hacking", log, why)
            if f.code == "nonfinite_terms" and f.term in g.weights:
                self.drop(g, f.term, "nonfinite_terms", log, f"{f.term} went NaN/inf")


def _share(ev: Evidence, term: str, evidence: dict[str, float]) -> float:
    if "share" in evidence:
        return float(evidence["share"])
    stats = next((t for t in ev.packet.terms if t.name == term), None)
    return stats.share if stats is not None else 0.9
