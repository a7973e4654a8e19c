"""The offline designer: a real reward designer with no model and no network.

It starts from a **naive reward** (the distance to the task's goal, nothing else) and each
iteration reads the best candidate's :class:`~agentic_rl.diagnostics.packet.DiagnosisPacket`
and changes terms and weights by the explicit rules below, plus seeded random perturbations
across the K candidates. It writes reward-program text in the same format a model writes, and
that text goes through the same pipeline (:func:`rewards.check_source`) as any model's.

**Genome.** A candidate is a mapping *ingredient -> weight* (weights are positive magnitudes;
penalties are subtracted) plus the set of ingredients *gated* by closeness to the goal. The
genome travels in ``Proposal.meta["genome"]``, so the designer itself keeps no state: a resumed
loop or a fresh designer derives the same proposals from the same history and seed.

**Ingredients** (see :func:`catalogue`) are keyed by the state fields a task declares, so the
designer is generic over tasks through the :class:`~sims.spec.TaskSpec`:

=====================  ===========================================  ======================
ingredient             needs                                        code (before weight)
=====================  ===========================================  ======================
distance (naive)       a goal offset ``*_rel`` or ``*_error`` field  ``-dist``
closeness              same                                         ``+closeness(dist)``
progress               same                                         ``+(prev_dist - dist)``
on_target              same                                         ``+tolerance(dist, tol)``
goal_bonus             success ends the episode, fixed target       ``+success_bonus(dist)``
speed_near_goal        a velocity field                             ``-near * |v|^2``
tilt, spin             ``tilt``, ``ang_vel``                        ``-tilt^2``, ``-|w|^2``
crash                  ``pos``, ``tilt``, ``vel``                   ``-tipped or falling``
action_rate            ``last_action``                              ``-action_rate``
effort                 always                                       ``-action_magnitude``
clearance              ``clearance``                                ``-closeness(clearance)``
gate_passed, off_axis  ``gates_passed``, ``gate_normal``            gate event, axis offset
wall_clear, crossed    ``wall_rel``, ``crossed``                    stay above the wall
soft_landing, resting  ``pad_rel`` + ``vel``, ``rest_time``         ``-landing_softness``
vel_match, lookahead   ``ref_vel``, ``ref_ahead_rel``               track the reference
<name>_error           other scalar ``*_error`` fields              ``-abs(error)``
reach, grasp, lift     ``object_rel_ee``, ``gripper_width``         arm approach and grasp
dropped                ``object_pos``                               ``-1 if below the table``
=====================  ===========================================  ======================

**Rules**, applied to the best candidate so far, in this order (``xF`` multiplies a weight,
"add" inserts the ingredient at its base weight when absent):

* ``crash_dominated`` (finding, or > 50% of failed episodes ended by a terminating failure):
  attitude and crash guards x2 / add (``tilt``, ``spin``, ``crash``, ``clearance`` after
  collisions, ``soft_landing`` after hard landings, ``dropped``); and ``distance`` is replaced
  by ``closeness`` (or ``closeness`` added), a bounded positive per-step reward, because with
  a negative-only reward ending the episode early *pays* (the classic reason a distance-only
  drone learns to crash or fly out of the arena).
* ``timeout_dominated`` far from the goal (final distance > 3 x tolerance): progress shaping
  x2 / add, plus ``closeness`` for a gradient everywhere (and gate/approach events x1.5).
* ``timeout_dominated`` near the goal: precision, ``on_target`` x2 / add, ``goal_bonus`` and
  the secondary ``*_error`` terms add.
* ``oscillation_near_goal``: velocity damping near the goal (``speed_near_goal`` or
  ``vel_match``) x2 / add, ``action_rate`` x2 / add.
* ``dominant_term`` (> 80% of magnitude, share s): that weight x ``clip((1-s)/s, 0.2, 0.7)``,
  which would bring it to about half the magnitude; a sole term gets ``progress`` beside it;
  the core goal term is kept (it is meant to carry the reward).
* ``inert_term``: a shaping term that never changes is dropped (it only adds noise); guards
  (crash, bonuses, events) are kept, since a guard that never fires means that failure never
  happened; the core distance term is rescaled x3 instead.
* ``reward_hacking`` (the term rises while the task metric falls): a reward term is gated by
  closeness to the goal (tied to the task metric) and halved, and the core term x1.5; for
  the core term itself, precision (``on_target`` x1.5, ``goal_bonus``) is added instead. A
  penalty that "rises" toward zero is only being avoided, so penalties are left alone.
* ``nonfinite_terms``: the term is dropped.
* ``randomization_gap``: smoother control, ``action_rate`` and ``spin`` x1.5 / add.
* ``no_learning``: denser signal, ``closeness`` and ``progress`` add.
* no rule changed anything and success is below 100%: precision, ``on_target`` x1.5 / add.

**Candidates.** Iteration 0: candidate 0 is the naive reward; candidate k > 0 adds one
ingredient drawn (seeded) from the catalogue. Later iterations: candidate 0 is the parent
with the rules applied and nothing else; candidates k > 0 multiply every weight by
``exp(N(0, 0.35))`` and odd k also add one random ingredient. A genome already trained in
the history (or earlier in the batch) is perturbed again until it is new, so a rules-only child
that did worse than its parent is not proposed twice. The random stream is seeded by
``(seed, iteration, k)``, so proposals are deterministic for a seed.
"""

from __future__ import annotations

import ast
import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from agentic_rl.designers.base import (
    Designer,
    DesignerError,
    best_candidate,
    check_n,
    load_packet,
)
from agentic_rl.designers.memory import MEMORY_FILE, DesignMemory, genome_key
from agentic_rl.records import CandidateRecord, IterationRecord, Proposal, Rejection

if TYPE_CHECKING:
    from agentic_rl.diagnostics.packet import DiagnosisPacket
    from sims.spec import TaskSpec

Role = Literal["core", "shaping", "guard", "smooth"]

#: Goal-offset fields, most specific first: the first one a task has is its target.
TARGET_FIELDS = ("object_rel_goal", "pad_rel", "gate_rel", "ref_rel", "goal_rel")
#: Constants naming the success radius of the target, most specific first.
TOLERANCE_CONSTANTS = (
    "pos_tolerance",
    "goal_tolerance",
    "landing_tolerance",
    "rmse_tolerance",
    "radius_tolerance",
)
#: Termination reasons that count as "crashing" (terminating failures of any kind).
CRASH_LIKE = frozenset(
    {"crash", "flipped", "out_of_bounds", "collision", "dropped_object", "hard_landing"}
)
#: Standard deviation of the log-normal weight perturbation across candidates.
PERTURB_SIGMA = 0.35
#: "Far from the goal" means a final distance above this many tolerances.
FAR_FACTOR = 3.0


# ---------------------------------------------------------------------------------- the task
@dataclass(frozen=True)
class TaskView:
    """What the designer reads from a TaskSpec: target, tolerance, scales, special fields."""

    spec: TaskSpec
    fields: frozenset[str]
    target: str | None
    error_fields: tuple[str, ...]
    tol: float
    tol_expr: str
    scale: float
    vel: str | None
    terminal_success: bool

    @classmethod
    def of(cls, spec: TaskSpec) -> TaskView:
        """Analyse a spec.

        Raises:
            DesignerError: if the task has no goal-offset (``*_rel``) or ``*_error`` field.
        """
        fields = frozenset(spec.field_names)
        scalars = {f.name for f in spec.state_fields if f.size == 1}
        errors = tuple(f for f in spec.field_names if f.endswith("_error") and f in scalars)
        target = next((f for f in TARGET_FIELDS if f in fields), None)
        if target is None and not errors:
            target = next(
                (f.name for f in spec.state_fields if f.name.endswith("_rel") and f.size == 3),
                None,
            )
        if target is None and not errors:
            raise DesignerError(
                f"the offline designer finds no goal offset in {spec.id}: it needs a 3-vector "
                "state field named '*_rel' or a scalar '*_error' field; add one to the "
                "TaskSpec or use --designer openai"
            )
        consts = spec.constants
        tol_name = None
        if target is None:
            stem = errors[0].removesuffix("_error")
            tol_name = f"{stem}_tolerance" if f"{stem}_tolerance" in consts else None
        else:
            tol_name = next((c for c in TOLERANCE_CONSTANTS if c in consts), None)
        if tol_name is not None:
            tol, tol_expr = float(consts[tol_name]), f'task["{tol_name}"]'
        elif "gate_opening" in consts:
            tol, tol_expr = 0.5 * float(consts["gate_opening"]), '0.5 * task["gate_opening"]'
        else:
            tol, tol_expr = 0.1, "0.1"
        if target == "object_rel_goal" and "object_vel" in fields:
            vel = "object_vel"
        else:
            vel = next((v for v in ("vel", "ee_vel") if v in fields), None)
        terminal = any(r.success and r.kind == "terminated" for r in spec.termination_reasons)
        return cls(
            spec=spec,
            fields=fields,
            target=target,
            error_fields=errors,
            tol=tol,
            tol_expr=tol_expr,
            # The closeness scale is about five success radii: wide enough to pull from the
            # start, sharp enough to still pay for the last few centimetres.
            scale=round(min(1.0, max(0.1, 5.0 * tol)), 3),
            vel=vel,
            terminal_success=terminal,
        )

    def has(self, *names: str) -> bool:
        return all(n in self.fields for n in names)

    @property
    def primary_error(self) -> str | None:
        """The scalar error used as distance when the task has no goal-offset vector."""
        return None if self.target else self.error_fields[0]

    def dist_expr(self, s: str) -> str:
        """Code for the distance to the goal in snapshot ``s`` (``state``/``prev_state``)."""
        if self.target is not None:
            return f'terms.norm({s}["{self.target}"])'
        return f'abs({s}["{self.primary_error}"])'

    @property
    def failures(self) -> tuple[str, ...]:
        return tuple(r.name for r in self.spec.termination_reasons if not r.success)


# ------------------------------------------------------------------------------ ingredients
@dataclass(frozen=True)
class Ingredient:
    """One reward term the designer knows how to write.

    Attributes:
        name: the term's key in the reward dict (and in packets' term stats).
        sign: +1 for rewards, -1 for penalties (weights are magnitudes).
        role: ``core`` (tied to the task metric), ``shaping``, ``guard`` (events that must
            not be dropped when they never fire) or ``smooth`` (regularizers).
        weight: base weight when the ingredient is added.
        expr: code of the unweighted term; may use ``dist``, ``prev_dist``, ``near`` and the
            locals its ``needs`` define.
        needs: names of local helper variables (see :data:`_LOCALS`) the expression uses.
    """

    name: str
    sign: int
    role: Role
    weight: float
    expr: str
    needs: tuple[str, ...] = ()


def catalogue(view: TaskView) -> dict[str, Ingredient]:
    """Every ingredient the task's state fields support, keyed by term name."""
    v = view
    out: list[Ingredient] = [
        Ingredient("distance", -1, "core", 1.0, "dist"),
        Ingredient("closeness", +1, "core", 1.0, "near", ("near",)),
    ]
    progress = "prev_dist - dist"
    if v.target == "gate_rel" and v.has("gates_passed"):
        # gate_rel jumps to the next gate when one is passed: no progress on that step.
        progress = (
            '(prev_dist - dist) if state["gates_passed"] == prev_state["gates_passed"] else 0.0'
        )
    out += [
        Ingredient("progress", +1, "shaping", round(2.5 / v.scale, 3), progress, ("prev_dist",)),
        Ingredient(
            "on_target",
            +1,
            "shaping",
            1.0,
            "terms.tolerance(dist, 0.0, 0.5 * tol, margin=tol)",
            ("tol",),
        ),
    ]
    if v.terminal_success and v.target in ("goal_rel", "object_rel_goal", "pad_rel"):
        out.append(
            Ingredient("goal_bonus", +1, "guard", 10.0, "terms.success_bonus(dist, tol)", ("tol",))
        )
    if v.vel is not None and not v.has("ref_vel"):
        out.append(
            Ingredient(
                "speed_near_goal",
                -1,
                "smooth",
                0.3,
                f'near * terms.velocity_penalty(state["{v.vel}"])',
                ("near",),
            )
        )
    if v.has("tilt"):
        out.append(Ingredient("tilt", -1, "guard", 0.5, 'terms.tilt_penalty(state["tilt"])'))
    if v.has("ang_vel"):
        out.append(
            Ingredient(
                "spin", -1, "smooth", 0.02, 'terms.angular_velocity_penalty(state["ang_vel"])'
            )
        )
    if v.has("pos", "tilt", "vel"):
        # Tipping over, or dropping faster than 1 m/s just above the floor. Not "being low":
        # drones that start on the floor rest below crash_penalty's default 0.05 m, and
        # penalizing the start state teaches them to end episodes early instead.
        out.append(
            Ingredient(
                "crash",
                -1,
                "guard",
                5.0,
                'terms.crash_penalty(state["pos"][2], state["tilt"], min_height=0.0, '
                'max_tilt=1.0) + (1.0 if state["pos"][2] < 0.1 and state["vel"][2] < -1.0 '
                "else 0.0)",
            )
        )
    if v.has("last_action"):
        out.append(
            Ingredient(
                "action_rate",
                -1,
                "smooth",
                0.1,
                'terms.action_rate(action, prev_state["last_action"])',
            )
        )
    out.append(Ingredient("effort", -1, "smooth", 0.01, "terms.action_magnitude(action)"))
    if v.has("clearance"):
        # Grows as the rim nears a surface: 1 when touching, 0.37 at 0.1 m.
        out.append(
            Ingredient(
                "clearance", -1, "guard", 1.0, 'terms.closeness(max(state["clearance"], 0.0), 0.1)'
            )
        )
    if v.has("gates_passed"):
        out.append(
            Ingredient(
                "gate_passed",
                +1,
                "guard",
                10.0,
                'state["gates_passed"] - prev_state["gates_passed"]',
            )
        )
    if v.has("gate_rel", "gate_normal"):
        out.append(
            Ingredient(
                "off_axis",
                -1,
                "shaping",
                1.0,
                "terms.closeness(abs(ahead), 0.6) * (1.0 - terms.closeness(lateral, 0.15))",
                ("gate_axis",),
            )
        )
    if v.has("wall_rel", "crossed"):
        out += [
            # Until the wall is behind it, being lower than 0.15 m over its top costs.
            Ingredient(
                "wall_clear",
                -1,
                "shaping",
                1.0,
                '(1.0 - state["crossed"]) * max(0.0, state["wall_rel"][2] + 0.15)',
            ),
            Ingredient("crossed", +1, "guard", 5.0, 'state["crossed"] - prev_state["crossed"]'),
        ]
    if v.has("pad_rel", "vel"):
        out.append(
            Ingredient(
                "soft_landing",
                -1,
                "guard",
                2.0,
                'terms.landing_softness(-state["vel"][2], -state["pad_rel"][2])',
            )
        )
    if v.has("rest_time"):
        out.append(
            Ingredient("resting", +1, "shaping", 1.0, '1.0 if state["rest_time"] > 0.0 else 0.0')
        )
    if v.has("ref_vel", "vel"):
        out.append(
            Ingredient(
                "vel_match",
                -1,
                "smooth",
                0.3,
                'terms.velocity_penalty(state["vel"], state["ref_vel"])',
            )
        )
    if v.has("ref_ahead_rel"):
        out.append(
            Ingredient(
                "lookahead",
                +1,
                "shaping",
                0.5,
                f'terms.closeness(terms.norm(state["ref_ahead_rel"]), {v.scale})',
            )
        )
    for err in v.error_fields:
        if err != v.primary_error:
            out.append(Ingredient(err, -1, "shaping", 0.5, f'abs(state["{err}"])'))
    if v.has("object_rel_ee"):
        out.append(
            Ingredient("reach", +1, "shaping", 5.0, "prev_reach - reach", ("reach", "prev_reach"))
        )
    if v.has("object_rel_ee", "gripper_width"):
        out.append(
            Ingredient(
                "grasp",
                +1,
                "shaping",
                1.0,
                'terms.grasp(state["object_rel_ee"], state["gripper_width"])',
            )
        )
    if v.has("object_pos", "gripper_width") and "object_size" in v.spec.constants:
        out.append(
            Ingredient(
                "lift",
                +1,
                "shaping",
                1.0,
                'terms.lift(state["object_pos"][2], 0.5 * task["object_size"], '
                '0.5 * task["object_size"] + 0.1)',
            )
        )
    if v.has("object_pos") and "drop_z" in v.spec.constants:
        out.append(
            Ingredient(
                "dropped",
                -1,
                "guard",
                5.0,
                '1.0 if state["object_pos"][2] < task["drop_z"] else 0.0',
            )
        )
    return {ing.name: ing for ing in out}


def _reach_expr(view: TaskView, s: str, dist: str) -> str:
    """Distance from the fingertips to where they should be: the cube itself when the arm
    can grasp, else a push point 0.05 m behind the cube on the side away from the goal."""
    if view.has("gripper_width") or view.target != "object_rel_goal":
        return f'terms.norm({s}["object_rel_ee"])'
    return f'terms.norm({s}["object_rel_ee"] + {s}["object_rel_goal"] * (0.05 / max({dist}, 1e-6)))'


#: Local helper variables: name -> (code builder, helpers it depends on).
_LOCALS: dict[str, tuple[Callable[[TaskView], str], tuple[str, ...]]] = {
    "tol": (lambda v: f"tol = {v.tol_expr}", ()),
    "prev_dist": (lambda v: f"prev_dist = {v.dist_expr('prev_state')}", ()),
    "near": (lambda v: f"near = terms.closeness(dist, {v.scale})", ()),
    "gate_axis": (
        lambda v: 'ahead, lateral = terms.axis_offsets(state["gate_rel"], state["gate_normal"])',
        (),
    ),
    "reach": (lambda v: f"reach = {_reach_expr(v, 'state', 'dist')}", ()),
    "prev_reach": (
        lambda v: f"prev_reach = {_reach_expr(v, 'prev_state', 'prev_dist')}",
        ("prev_dist",),
    ),
}


# ---------------------------------------------------------------------------------- genome
@dataclass
class Genome:
    """A reward candidate as data: ingredient -> weight, and which terms are goal-gated."""

    weights: dict[str, float]
    gated: set[str] = field(default_factory=set)

    def copy(self) -> Genome:
        return Genome(dict(self.weights), set(self.gated))

    def to_meta(self) -> dict[str, Any]:
        return {"weights": dict(self.weights), "gated": sorted(self.gated)}

    @classmethod
    def from_meta(cls, meta: Any, known: dict[str, Ingredient]) -> Genome | None:
        """Read a genome from ``Proposal.meta``; None if absent or foreign to this task."""
        if not isinstance(meta, dict) or not isinstance(meta.get("weights"), dict):
            return None
        weights = {str(k): float(w) for k, w in meta["weights"].items()}
        if not weights or not set(weights) <= set(known):
            return None
        return cls(weights, {g for g in meta.get("gated", []) if g in weights})


def render(view: TaskView, genome: Genome, header: str) -> str:
    """Reward-program source for a genome (the same format a model writes)."""
    cat = catalogue(view)
    names = [n for n in cat if n in genome.weights]  # catalogue order: stable source text
    needs: list[str] = []

    def need(name: str) -> None:
        for dep in _LOCALS[name][1]:
            need(dep)
        if name not in needs:
            needs.append(name)

    for n in names:
        for helper in cat[n].needs:
            need(helper)
        if n in genome.gated:
            need("near")
    body = [f"dist = {view.dist_expr('state')}", *(_LOCALS[h][0](view) for h in needs)]
    lines = [
        "def compute_reward(state, action, prev_state, task):",
        *(f"    {line}" if line else "" for line in _docstring(header)),
        *(f"    {line}" for line in body),
        "    return {",
    ]
    for n in names:
        ing = cat[n]
        w = _fmt(ing.sign * genome.weights[n])
        expr = _factor(ing.expr)
        if n in genome.gated:
            expr = f"near * {expr}"
        lines.append(f'        "{n}": {w} * {expr},')
    lines.append("    }")
    return "\n".join(lines) + "\n"


def _docstring(header: str) -> list[str]:
    """A docstring's lines: the header's first line, a blank line, then the rest."""
    lines = header.replace('"""', "'''").replace("\\", "/").splitlines() or [""]
    if len(lines) == 1:
        return [f'"""{lines[0]}"""']
    return [f'"""{lines[0]}', "", *lines[1:], '"""']


def _factor(expr: str) -> str:
    """``expr`` parenthesized unless it can stand as a factor of a product as it is."""
    node = ast.parse(expr, mode="eval").body
    simple = (ast.Name, ast.Call, ast.Subscript, ast.Attribute, ast.Constant)
    if isinstance(node, simple) or (isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult)):
        return expr
    return f"({expr})"


def _fmt(x: float) -> str:
    """A weight as source text: 4 significant digits, always with a decimal point."""
    text = f"{x:.4g}" if abs(x) >= 1e-4 else f"{x:.2e}"
    return text if any(c in text for c in ".e") else text + ".0"


def _round(x: float) -> float:
    return float(f"{x:.4g}")


# ----------------------------------------------------------------------------------- rules
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
    """Apply the documented rules of the module docstring to a genome."""

    def __init__(self, view: TaskView) -> None:
        self.view = view
        self.cat = catalogue(view)

    # small edits, each logged
    def boost(self, g: Genome, name: str, factor: float, rule: str, log: RuleLog, why: str) -> None:
        """Multiply a weight by ``factor``, or add the ingredient at its base weight."""
        if name not in self.cat:
            return
        if name in g.weights:
            old = g.weights[name]
            g.weights[name] = _round(old * factor)
            log.add(rule, f"{name} x{factor:g} ({_fmt(old)} -> {_fmt(g.weights[name])})", why)
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

        With a reward that is negative on every step, ending the episode early (crashing,
        leaving the arena) *raises* the return; ``closeness`` points the same way (toward
        the goal) but makes every step the robot survives worth more than nothing.
        """
        why = "a bounded positive per-step reward, so ending the episode early never pays"
        if "distance" in g.weights:
            w = g.weights.pop("distance")
            g.weights["closeness"] = max(g.weights.get("closeness", 0.0), w)
            if "distance" in g.gated:
                g.gated.discard("distance")
            log.add(rule, f"replaced distance by closeness ({_fmt(g.weights['closeness'])})", why)
        else:
            self.add(g, "closeness", rule, log, why)

    def core(self, g: Genome) -> str:
        return "closeness" if "closeness" in g.weights else "distance"

    # the rules
    def apply(self, parent: Genome, packet: DiagnosisPacket) -> tuple[Genome, RuleLog]:
        """The parent's genome with every rule that the packet triggers applied."""
        g, log = parent.copy(), RuleLog()
        codes = {f.code for f in packet.findings}
        failures = _failure_shares(packet, self.view)
        crash_share = sum(v for k, v in failures.items() if k in CRASH_LIKE)
        timeout_share = failures.get("timeout", 0.0)

        if "crash_dominated" in codes or crash_share > 0.5:
            why = f"{crash_share:.0%} of failed episodes ended in a crash-like termination"
            for name in ("tilt", "spin", "crash", "dropped"):
                self.boost(g, name, 2.0, "crash_dominated", log, why)
            if failures.get("collision", 0.0) > 0:
                self.boost(g, "clearance", 2.0, "crash_dominated", log, "collisions ended episodes")
            if failures.get("hard_landing", 0.0) > 0:
                self.boost(g, "soft_landing", 2.0, "crash_dominated", log, "hard landings")
            self.swap_core(g, "crash_dominated", log)
        if "timeout_dominated" in codes or timeout_share > 0.5:
            finding = packet.finding("timeout_dominated")
            evidence = finding.evidence if finding is not None else {}
            final = evidence.get("final_distance", _final_distance(packet, self.view))
            # The diagnostics measure "far" over the timed-out episodes themselves; without
            # that, the mean final distance of all episodes decides.
            far = (
                bool(evidence["far"])
                if "far" in evidence
                else final is None or final > FAR_FACTOR * self.view.tol
            )
            where = "unknown distance" if final is None else f"final distance {final:.3g} m"
            if far:
                why = f"episodes time out far from the goal ({where}, tolerance {self.view.tol:g})"
                self.boost(g, "progress", 2.0, "timeout_far", log, why)
                self.add(
                    g, "closeness", "timeout_far", log, "a gradient toward the goal everywhere"
                )
                for name in ("gate_passed", "reach", "crossed"):
                    self.boost(g, name, 1.5, "timeout_far", log, why)
            else:
                why = f"episodes time out near the goal ({where}) without meeting the tolerance"
                self.boost(g, "on_target", 2.0, "timeout_near", log, why)
                self.add(g, "goal_bonus", "timeout_near", log, why)
                for err in self.view.error_fields[1:]:
                    self.add(g, err, "timeout_near", log, f"{err} counts toward success too")
        if "oscillation_near_goal" in codes:
            why = "the policy reaches the goal region but oscillates there"
            damp = "vel_match" if "vel_match" in self.cat else "speed_near_goal"
            self.boost(g, damp, 2.0, "oscillation_near_goal", log, why)
            self.boost(g, "action_rate", 2.0, "oscillation_near_goal", log, why)
        for f in packet.findings:
            if f.code == "dominant_term" and f.term in g.weights:
                share = _share(packet, f.term, f.evidence)
                if len(g.weights) == 1:
                    self.add(g, "progress", "dominant_term", log, f"{f.term} is the only term")
                elif self.cat[f.term].role == "core":
                    # The goal term carrying the reward is the intended design; shrinking it
                    # weakens the pull to the goal (the other rules add what is missing).
                    why = f"{f.term} dominates, but it is the task objective"
                    log.add("dominant_term", f"kept {f.term}", why)
                else:
                    factor = min(0.7, max(0.2, (1.0 - share) / max(share, 1e-6)))
                    why = f"{f.term} carries {share:.0%} of the reward magnitude"
                    self.scale(g, f.term, round(factor, 3), "dominant_term", log, why)
        for f in packet.findings:
            if f.code == "inert_term" and f.term in g.weights:
                role = self.cat[f.term].role
                why = f"{f.term} never changes"
                if role == "guard":
                    log.add(
                        "inert_term", f"kept {f.term}", why + "; a guard that never fires is fine"
                    )
                elif role == "core":
                    self.scale(
                        g, f.term, 3.0, "inert_term", log, why + "; the core term is rescaled"
                    )
                else:
                    self.drop(g, f.term, "inert_term", log, why + "; it only adds noise")
        for f in packet.findings:
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
                    self.scale(
                        g, f.term, 0.5, "reward_hacking", log, why + "; now gated by closeness"
                    )
                    self.scale(g, self.core(g), 1.5, "reward_hacking", log, why)
            if f.code == "nonfinite_terms" and f.term in g.weights:
                self.drop(g, f.term, "nonfinite_terms", log, f"{f.term} went NaN/inf")
        if "randomization_gap" in codes:
            why = "success drops under randomized physics: smoother control"
            self.boost(g, "action_rate", 1.5, "randomization_gap", log, why)
            self.boost(g, "spin", 1.5, "randomization_gap", log, why)
        if "no_learning" in codes:
            why = "success and task metric stayed flat: the signal is too sparse"
            self.add(g, "closeness", "no_learning", log, why)
            self.add(g, "progress", "no_learning", log, why)
        unchanged = g.weights == parent.weights and g.gated == parent.gated
        if unchanged and packet.nominal.success_rate < 1.0:
            why = f"no finding; success {packet.nominal.success_rate:.0%}: reward precision"
            self.boost(g, "on_target", 1.5, "precision", log, why)
        return g, log


def _key(genome: Genome) -> str | None:
    return genome_key(genome.to_meta())


def _failure_shares(packet: DiagnosisPacket, view: TaskView) -> dict[str, float]:
    """Termination reason -> share of the failed nominal episodes."""
    success = {r.name for r in view.spec.termination_reasons if r.success} | {"success"}
    fails = {k: v for k, v in packet.nominal.termination_reasons.items() if k not in success}
    total = sum(fails.values())
    return {k: v / total for k, v in fails.items()} if total else {}


def _final_distance(packet: DiagnosisPacket, view: TaskView) -> float | None:
    """Mean final distance to the goal: the first metre-valued, lower-is-better task metric
    (``final_distance``, ``landing_error``, ``rmse``...), else a finding's evidence."""
    for m in view.spec.task_metrics:
        if m.unit == "m" and not m.higher_is_better and m.name in packet.nominal.metrics:
            return packet.nominal.metrics[m.name].mean
    for f in packet.findings:
        for key, value in f.evidence.items():
            if "distance" in key:
                return value
    return None


def _share(packet: DiagnosisPacket, term: str, evidence: dict[str, float]) -> float:
    if "share" in evidence:
        return float(evidence["share"])
    stats = next((t for t in packet.terms if t.name == term), None)
    return stats.share if stats is not None else 0.9


# -------------------------------------------------------------------------------- designer
class OfflineDesigner(Designer):
    """Rule-based reward designer; the default, no network (see the module docstring).

    Args:
        transcript: ``llm_transcript.jsonl`` to record proposals in (replayable).
        seed: seeds the perturbations and the exploration picks.
        sigma: standard deviation of the log-normal weight perturbation.
        memory: where to persist the refinement memory
            (:class:`~agentic_rl.designers.memory.DesignMemory`); default: beside the
            transcript (the run folder), or nowhere without one. The memory is rebuilt from
            the history on every call either way, so proposals never depend on the file.
    """

    name = "offline"

    def __init__(
        self,
        *,
        transcript: str | Path | None = None,
        seed: int = 0,
        sigma: float = PERTURB_SIGMA,
        memory: str | Path | None = None,
    ) -> None:
        super().__init__(transcript=transcript, seed=seed)
        if not sigma >= 0:
            raise DesignerError(f"offline designer sigma must be >= 0, got {sigma}")
        self.sigma = float(sigma)
        if memory is None and transcript is not None:
            memory = Path(transcript).parent / MEMORY_FILE
        self.memory_path = Path(memory) if memory is not None else None

    def remember(self, history: list[IterationRecord]) -> DesignMemory:
        """The refinement memory of ``history`` (persisted when a path is set)."""
        memory = DesignMemory.load(self.memory_path).update(history)
        if self.memory_path is not None:
            memory.save(self.memory_path)
        return memory

    @staticmethod
    def naive(spec: TaskSpec) -> Genome:
        """The naive first reward: the distance to the goal, nothing else."""
        TaskView.of(spec)  # fails early, with the message, for a task without a goal
        return Genome({"distance": 1.0})

    def propose(self, spec: TaskSpec, history: list[IterationRecord], n: int) -> list[Proposal]:
        """Proposals for iteration ``len(history)`` (see the module docstring)."""
        n = check_n(n)
        view = TaskView.of(spec)
        cat = catalogue(view)
        iteration = len(history)
        parent = best_candidate(history)
        memory = self.remember(history)
        base, log, parent_id, packet_note = self._refined(view, cat, parent)
        proposals = []
        tried = memory.tried_genomes()
        for k in range(n):
            rng = random.Random(f"offline:{self.seed}:{iteration}:{k}")
            genome, extra = base.copy(), []
            if iteration == 0 or parent is None:
                if k > 0:
                    extra.append(self._explore(genome, cat, rng, k))
            elif k > 0:
                self._perturb(genome, rng)
                extra.append(f"weights x exp(N(0, {self.sigma:g}))")
                if k % 2 == 1:
                    extra.append(self._explore(genome, cat, rng, k))
            # Training a reward that was already trained teaches nothing (it happens when
            # the rules' child of the best candidate did worse, so the best stays the same):
            # perturb until the genome is new.
            for _ in range(5):
                if _key(genome) not in tried:
                    break
                self._perturb(genome, rng)
                extra.append("already tried: weights perturbed")
            tried.add(_key(genome))  # type: ignore[arg-type]
            proposals.append(
                self._proposal(view, genome, log, parent_id, packet_note, iteration, k, extra)
            )
        self._record_proposals("propose", spec, iteration, n, proposals)
        return proposals

    def repair(
        self,
        spec: TaskSpec,
        proposal: Proposal,
        rejection: Rejection,
        history: Any = None,
        **_: Any,
    ) -> Proposal:
        """Rebuild a rejected proposal's genome without its optional terms.

        Offline programs are built from checked ingredients, so a rejection means a term
        failed on this task (e.g. a plugin's field with an unexpected shape): the repair keeps
        only the core terms, which every task with a goal offset supports.
        """
        view = TaskView.of(spec)
        cat = catalogue(view)
        old = Genome.from_meta(proposal.meta.get("genome"), cat) or self.naive(spec)
        genome = Genome({k: w for k, w in old.weights.items() if cat[k].role == "core"})
        if not genome.weights:
            genome = self.naive(spec)
        log = RuleLog()
        log.add(
            "repair", "kept only core terms", f"rejected at {rejection.stage}: {rejection.message}"
        )
        iteration = int(proposal.meta.get("iteration", 0))
        k = int(proposal.meta.get("candidate", 0))
        fixed = self._proposal(view, genome, log, proposal.parent, "", iteration, k, ["repair"])
        self._record_proposals(
            "repair", spec, iteration, 1, [fixed], rejection=rejection.model_dump()
        )
        return fixed

    # ------------------------------------------------------------------ internals
    def _refined(
        self, view: TaskView, cat: dict[str, Ingredient], parent: CandidateRecord | None
    ) -> tuple[Genome, RuleLog, str | None, str]:
        """The rules applied to the best candidate (or the naive reward at the start)."""
        log = RuleLog()
        if parent is None:
            log.add("naive", "distance only", "first iteration: start from the naive reward")
            return self.naive(view.spec), log, None, ""
        genome = Genome.from_meta(parent.proposal.meta.get("genome"), cat)
        if genome is None:
            # The best candidate came from another designer (or a person): its code is not a
            # genome we can edit, so rules start over from the naive reward.
            genome = self.naive(view.spec)
            log.add("restart", "naive reward", f"best candidate {parent.cid} has no offline genome")
        packet = load_packet(parent)
        if packet is None:
            log.add("no_packet", "weights unchanged", f"{parent.cid} has no readable packet.json")
            return genome, log, parent.cid, "no packet"
        refined, rule_log = Rules(view).apply(genome, packet)
        log.entries += rule_log.entries
        note = f"packet of {parent.cid}: success {packet.nominal.success_rate:.0%}"
        return refined, log, parent.cid, note

    def _perturb(self, genome: Genome, rng: random.Random) -> None:
        for name in sorted(genome.weights):
            genome.weights[name] = _round(
                genome.weights[name] * math.exp(rng.gauss(0.0, self.sigma))
            )

    def _explore(
        self, genome: Genome, cat: dict[str, Ingredient], rng: random.Random, k: int
    ) -> str:
        """Add one ingredient the genome lacks (distinct per k where possible)."""
        options = [n for n in cat if n not in genome.weights and cat[n].role != "core"]
        if not options:
            return "nothing left to add"
        # Spread candidates over the catalogue first, then pick at random.
        name = options[(k - 1) % len(options)] if k - 1 < len(options) else rng.choice(options)
        genome.weights[name] = cat[name].weight
        return f"explore: added {name}"

    def _proposal(
        self,
        view: TaskView,
        genome: Genome,
        log: RuleLog,
        parent_id: str | None,
        packet_note: str,
        iteration: int,
        k: int,
        extra: list[str],
    ) -> Proposal:
        changes = [e["change"] for e in log.entries] + extra
        short = view.spec.id.split("/")[-1]
        origin = f"refines {parent_id} ({packet_note})" if parent_id else "naive start"
        header = (
            f"Offline designer, {short}, iteration {iteration} candidate {k}: {origin}.\n"
            + "\n".join(f"- {c}" for c in changes)
        )
        source = render(view, genome, header)
        why = "; ".join(f"{e['rule']}: {e['change']} ({e['why']})" for e in log.entries)
        rationale = why + ("; " if why and extra else "") + "; ".join(extra)
        return Proposal(
            response=source,
            rationale=rationale or "unchanged",
            designer=self.name,
            parent=parent_id,
            meta={
                "genome": genome.to_meta(),
                "rules": log.entries,
                "extra": extra,
                "iteration": iteration,
                "candidate": k,
                "seed": self.seed,
            },
        )
