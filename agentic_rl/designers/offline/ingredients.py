"""The reward terms the offline designer knows how to write, built from a task's declarations.

=====================  =============================================  ===========================
ingredient             declared by                                    code (before its weight)
=====================  =============================================  ===========================
distance (naive)       the goal's primary error                       ``-dist``
closeness              same                                           ``+exp(-dist / scale)``
closing                same (paused on the steps the goal advances    ``+(prev_dist - dist)``
                       to its next target, ``Goal.advances_on``)
on_target              same, with its tolerance constant              ``+tolerance(dist, tol)``
goal_bonus             success ends the episode                       ``+[dist <= tol]``
near_<err>, on_<err>   each further goal error (e.g. a pole angle)    closeness, tolerance
approach               a landmark locating the goal's subject         ``+(prev_reach - reach)``
steady                 the body's velocity field                      ``-near * |v|^2``
match_velocity         a goal field in the velocity's unit and shape  ``-|v - v_goal|^2``
attitude, body_rates   the body's tilt / angular velocity fields      ``-tilt^2``, ``-|w|^2``
action_rate            the policy's fed-back action field             ``-|a - a_prev|^2``
effort                 always                                         ``-|a|^2``
event_<field>          each scalar progress field                     ``+delta / threshold``
crit_<name>            a success criterion on another field           ``+[criterion met]`` (soft)
guard_<reason>         a hazard's predictor fields                    ``-proximity * motion``
alive                  the survival offset (see ``survival``)         ``+1``
=====================  =============================================  ===========================

A goal that advances (``Goal.advances_on``: the next gate once one is crossed) gets no **dwell
terms** (:data:`DWELL`): ``closeness``, ``on_target`` and ``goal_bonus`` pay for being near the
current target on every step, and reaching it moves the goal on and takes that pay away, so
they reward hovering at a gate rather than passing it; ``steady`` charges for speed near the
target, which is for a goal the robot must come to rest at, not one it passes through (on
DroneGates' crashing parents it made the median step negative, and the checks before
training refused every child that kept it). ``closing`` (which telescopes to the
distance covered toward each target) and the advancing field's event bonus carry such goals;
the naive ``distance`` stays in the catalogue as the baseline, and the rules replace it.

A hazard guard reads the units and roles of the fields the hazard names: motion of the robot or
an object (m/s, rad, rad/s) is the precursor; a relative distance (m) to something that is not
the goal, or the height of a world-frame position, is the proximity that makes it dangerous
(``exp(-d / HAZARD_RANGE)``). A hazard named only by absolute positions or by the goal's own
error gets no guard: no declaration says which side of those is dangerous.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from agentic_rl.designers.offline.view import TaskView, _num

if TYPE_CHECKING:
    from sims.spec import Criterion, Hazard

Role = Literal["core", "shaping", "guard", "smooth"]

#: Distance (m) at which a hazard's proximity factor falls to 1/e.
HAZARD_RANGE = 0.1
#: Roles of fields whose motion is a hazard's precursor (not a commanded or scene quantity).
MOVING_ROLES = ("robot", "object")
#: Name of the constant survival term.
ALIVE = "alive"
#: Name of the success bonus (raised with the survival offset when success ends an episode).
GOAL_BONUS = "goal_bonus"
#: Terms paying per step for being near the current target: not offered for a goal that
#: advances (see the module docstring).
DWELL = ("closeness", "on_target", GOAL_BONUS, "steady")


@dataclass(frozen=True)
class Ingredient:
    """One reward term the designer knows how to write.

    Attributes:
        name: the term's key in the reward dict (and in packets' term stats).
        sign: +1 for rewards, -1 for penalties (weights are magnitudes).
        role: ``core`` (tied to the task metric), ``shaping``, ``guard`` (events and hazards
            that must not be dropped when they never fire) or ``smooth`` (regularizers).
        weight: base weight when the ingredient is added.
        expr: code of the unweighted term; may use ``dist``, ``prev_dist``, ``near`` and the
            locals its ``needs`` define.
        needs: names of local helper variables (see :data:`LOCALS`) the expression uses.
        reason: the hazard a guard protects against, or the criterion a term serves.
    """

    name: str
    sign: int
    role: Role
    weight: float
    expr: str
    needs: tuple[str, ...] = ()
    reason: str | None = None


def _ref_expr(ref: str, s: str = "state") -> tuple[str, str, int | None]:
    """(code, field name, index) of a declared field reference ``name`` or ``name[i]``."""
    from sims.semantics import parse_ref

    name, index = parse_ref(ref)
    code = f'{s}["{name}"]' + (f"[{index}]" if index is not None else "")
    return code, name, index


def _closing_expr(view: TaskView) -> str:
    if view.advances_on is None:
        return "prev_dist - dist"
    # The goal offset jumps to the next target when the goal advances (the next gate): the
    # distances before and after that step measure different targets, so no closing is paid.
    p = view.advances_on
    return f'(prev_dist - dist) if state["{p}"] == prev_state["{p}"] else 0.0'


def _threshold_of(view: TaskView, key: str) -> str:
    """Code for the threshold of an at-least criterion on ``key`` (field or metric), else 1."""
    for c in view.spec.success_criteria:
        if c.key == key and c.compare in (">", ">="):
            t = c.threshold
            value = view.spec.threshold(c)
            if value > 0:
                return f'task["{t}"]' if isinstance(t, str) else _num(value)
    return "1.0"


def _criterion_term(view: TaskView, c: Criterion) -> Ingredient | None:
    """A bounded term paying for meeting a field criterion on a non-goal, non-progress field."""
    if c.source != "field":
        return None
    code, name, _ = _ref_expr(c.key)
    if view.error(name) is not None or name in view.progress:
        return None
    value = {"value": code, "abs": f"abs({code})", "norm": f"terms.norm({code})"}[c.reduce]
    t = c.threshold
    thr = f'task["{t}"]' if isinstance(t, str) else _num(float(t))
    margin = abs(view.spec.threshold(c)) or 1.0
    gap = f"max({value} - {thr}, 0.0)" if c.compare in ("<", "<=") else f"max({thr} - {value}, 0.0)"
    expr = f"terms.tolerance({gap}, 0.0, 0.0, margin={_num(margin)})"
    needs: tuple[str, ...] = ()
    if c.hold is not None:
        # held at the end of the episode, at the goal: pay for it near the goal
        expr, needs = f"near * {expr}", ("near",)
    return Ingredient(f"crit_{c.name}", +1, "shaping", 0.5, expr, needs, reason=c.name)


def _hazard_guard(view: TaskView, hazard: Hazard) -> Ingredient | None:
    """A penalty on the precursors of a failure (see the module docstring)."""
    motion: list[str] = []
    proximity: list[tuple[str, bool]] = []  # (code, measured to the goal itself)
    landmarks = {lm.field for lm in view.spec.landmarks}
    for ref in hazard.fields:
        code, name, index = _ref_expr(ref)
        f = view.field(name)
        scalar = index is not None or f.shape == ()
        moving = f.role in MOVING_ROLES
        if moving and f.unit == "m/s":
            motion.append(f"{code} ** 2" if scalar else f"terms.velocity_penalty({code})")
        elif moving and f.unit == "rad" and scalar:
            motion.append(f"terms.tilt_penalty({code})")
        elif moving and f.unit == "rad/s" and f.shape == (3,) and index is None:
            motion.append(f"0.1 * terms.angular_velocity_penalty({code})")
        elif f.unit == "m":
            absolute = name == view.spec.body.position or (moving and name not in landmarks)
            if absolute:
                # only the height (z of a world-frame position) says how near the ground is;
                # other absolute coordinates name no danger
                if index == 2 and f.frame == "world":
                    proximity.append((f"terms.closeness(max({code}, 0.0), {HAZARD_RANGE})", False))
            elif scalar or f.shape == (3,):
                size = f"abs({code})" if scalar else f"terms.norm({code})"
                goal = view.error(name) is not None
                proximity.append((f"terms.closeness({size}, {HAZARD_RANGE})", goal))
    if motion:
        total = " + ".join(motion)
        gates = [c for c, _ in proximity]
        expr = " * ".join(gates) + f" * ({total})" if gates else total
    else:
        # proximity alone: repel only from what is not the goal
        repel = [c for c, goal in proximity if not goal]
        if not repel:
            return None
        expr = " + ".join(repel)
    return Ingredient(f"guard_{hazard.reason}", -1, "guard", 1.0, expr, reason=hazard.reason)


def catalogue(view: TaskView) -> dict[str, Ingredient]:
    """Every ingredient the task's declarations support, keyed by term name, in render order."""
    v, p = view, view.primary
    sc = p.shaping_scale
    out: list[Ingredient] = [
        Ingredient("distance", -1, "core", 1.0, "dist"),
        Ingredient("closeness", +1, "core", 1.0, "near", ("near",)),
        Ingredient("closing", +1, "shaping", round(2.5 / sc, 3), _closing_expr(v), ("prev_dist",)),
        Ingredient(
            "on_target",
            +1,
            "shaping",
            1.0,
            "terms.tolerance(dist, 0.0, 0.5 * tol, margin=tol)",
            ("tol",),
        ),
    ]
    if v.terminal_success:
        out.append(
            Ingredient(GOAL_BONUS, +1, "guard", 10.0, "terms.success_bonus(dist, tol)", ("tol",))
        )
    for e in v.secondary:
        size = e.size_expr("state")
        out += [
            Ingredient(
                f"near_{e.field}", +1, "shaping", 0.5, f"terms.closeness({size}, {e.shaping_scale})"
            ),
            Ingredient(
                f"on_{e.field}",
                +1,
                "shaping",
                0.5,
                f"terms.tolerance({size}, 0.0, 0.5 * {e.tol_expr}, margin={e.tol_expr})",
            ),
        ]
    if v.approach is not None:
        out.append(
            Ingredient(
                "approach", +1, "shaping", 5.0, "prev_reach - reach", ("reach", "prev_reach")
            )
        )
    if v.velocity is not None and v.target_velocity is not None:
        out.append(
            Ingredient(
                "match_velocity",
                -1,
                "smooth",
                0.3,
                f'terms.velocity_penalty(state["{v.velocity}"], state["{v.target_velocity}"])',
            )
        )
    elif v.velocity is not None:
        out.append(
            Ingredient(
                "steady",
                -1,
                "smooth",
                0.3,
                f'near * terms.velocity_penalty(state["{v.velocity}"])',
                ("near",),
            )
        )
    if v.tilt is not None:
        out.append(
            Ingredient("attitude", -1, "guard", 0.5, f'terms.tilt_penalty(state["{v.tilt}"])')
        )
    if v.angular_velocity is not None:
        out.append(
            Ingredient(
                "body_rates",
                -1,
                "smooth",
                0.02,
                f'terms.angular_velocity_penalty(state["{v.angular_velocity}"])',
            )
        )
    if v.last_action is not None:
        out.append(
            Ingredient(
                "action_rate",
                -1,
                "smooth",
                0.1,
                f'terms.action_rate(action, prev_state["{v.last_action}"])',
            )
        )
    out.append(Ingredient("effort", -1, "smooth", 0.01, "terms.action_magnitude(action)"))
    for name in v.progress:
        thr = _threshold_of(v, name)
        expr = f'(state["{name}"] - prev_state["{name}"])'
        out.append(
            Ingredient(
                f"event_{name}",
                +1,
                "guard",
                10.0,
                expr if thr == "1.0" else f"{expr} / {thr}",
                reason=name,
            )
        )
    for c in v.spec.success_criteria:
        term = _criterion_term(v, c)
        if term is not None:
            out.append(term)
    for h in v.spec.hazards:
        guard = _hazard_guard(v, h)
        if guard is not None:
            out.append(guard)
    out.append(Ingredient(ALIVE, +1, "guard", 0.0, "1.0"))
    if v.advances_on is not None:
        out = [ing for ing in out if ing.name not in DWELL]
    return {ing.name: ing for ing in out}


#: Local helper variables: name -> (code builder, helpers it depends on).
LOCALS: dict[str, tuple[Callable[[TaskView], str], tuple[str, ...]]] = {
    "tol": (lambda v: f"tol = {v.primary.tol_expr}", ()),
    "prev_dist": (lambda v: f"prev_dist = {v.dist_expr('prev_state')}", ()),
    "near": (lambda v: f"near = terms.closeness(dist, {v.primary.shaping_scale})", ()),
    "reach": (lambda v: f'reach = terms.norm(state["{v.approach}"])', ()),
    "prev_reach": (lambda v: f'prev_reach = terms.norm(prev_state["{v.approach}"])', ()),
}
