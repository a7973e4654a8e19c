"""The reward term library: small, documented building blocks for reward programs.

Reward programs see this module as the read-only name ``terms`` (no import needed), the
reference rewards in ``rewards/reference/`` are written with it, and the offline designer
composes its programs from it. Every function takes numbers or small vectors (numpy arrays,
lists or tuples, e.g. ``state["goal_rel"]``) and returns a plain Python ``float``.

Conventions, so terms compose without surprises:

* **Rewards** (``closeness``, ``tolerance``, ``progress``, ``success_bonus``, ``alignment``,
  ``gate_alignment``, ``grasp``, ``lift``) are bounded and larger-is-better.
* **Penalties** (every ``*_penalty``, ``action_rate``, ``landing_softness``) return a
  non-negative *cost*; a reward program subtracts them with a weight, e.g.
  ``"tilt": -0.5 * terms.tilt_penalty(state["tilt"])``.
* Distances are in metres, angles in radians, speeds in m/s, as in the task's state fields.

The functions work on Python floats (``ndarray.tolist()`` first) with ``math.hypot``/``dist``
doing the sums in C, because a reward runs millions of times per training run and numpy's
per-call overhead dominates on 3-vectors (``benchmarks/reward_overhead.py``).

Example:
    >>> from rewards import terms
    >>> round(terms.closeness(0.0, scale=0.5), 3)
    1.0
    >>> terms.progress([0.0, 0.0, 0.5], [0.0, 0.0, 1.0])
    0.5
"""

from __future__ import annotations

import math
import operator
from collections.abc import Sequence

import numpy as np

#: Anything a term accepts as a vector: a numpy array, list or tuple of numbers.
Vector = np.ndarray | Sequence[float]
#: Anything a term accepts as a scalar: a Python or numpy number, or a 0-d array.
Scalar = float | int | np.floating | np.ndarray

__all__ = [
    "action_magnitude",
    "action_rate",
    "alignment",
    "angular_velocity_penalty",
    "axis_offsets",
    "closeness",
    "crash_penalty",
    "distance",
    "gate_alignment",
    "grasp",
    "landing_softness",
    "lift",
    "norm",
    "progress",
    "success_bonus",
    "tilt_penalty",
    "tolerance",
    "velocity_penalty",
]

_ndarray = np.ndarray
_mul = operator.mul


def _vec(v: Vector) -> list[float]:
    """A vector as a list of floats (fast path for numpy arrays)."""
    if type(v) is _ndarray:
        out = v.tolist()
        return out if isinstance(out, list) else [out]
    if isinstance(v, (list, tuple)):
        return list(map(float, v))
    return [float(v)]  # a scalar counts as a 1-vector, so norm(x) == abs(x)


def norm(v: Vector) -> float:
    """Euclidean length of a vector (``abs`` of a scalar).

    Args:
        v: vector, e.g. ``state["goal_rel"]`` (m) or ``state["vel"]`` (m/s).
    """
    return math.hypot(*_vec(v))


def distance(a: Vector, b: Vector) -> float:
    """Euclidean distance between two points of the same length.

    Raises:
        ValueError: if the points have different lengths.
    """
    xa, xb = _vec(a), _vec(b)
    if len(xa) != len(xb):
        raise ValueError(f"distance() needs points of equal length, got {len(xa)} and {len(xb)}")
    return math.dist(xa, xb)


def closeness(d: Scalar, scale: float) -> float:
    """Dense, bounded reward for being near a target: ``exp(-d / scale)``, in [0, 1].

    It is 1 at ``d = 0``, ``1/e`` at ``d = scale`` and positive at any distance short of
    hundreds of scales, so the gradient toward the target exists wherever the robot can be.
    Choose ``scale`` about the size of the start error.

    Args:
        d: a non-negative distance (m) or error magnitude.
        scale: distance at which the reward falls to 0.37; must be > 0.

    Raises:
        ValueError: if ``scale`` is not positive.
    """
    if not scale > 0.0:
        raise ValueError(f"closeness() needs scale > 0, got {scale}")
    return math.exp(-float(d) / scale)


def tolerance(
    x: Scalar,
    lower: float,
    upper: float,
    margin: float = 0.0,
    value_at_margin: float = 0.1,
) -> float:
    """1 inside ``[lower, upper]``, falling off smoothly (Gaussian) outside it.

    The shape of dm_control's ``rewards.tolerance``: with ``margin = 0`` it is a 0/1
    indicator; otherwise the reward is ``value_at_margin`` at ``margin`` beyond a bound.

    Args:
        x: the quantity, e.g. a height or a distance.
        lower: lower bound of the target interval.
        upper: upper bound of the target interval.
        margin: distance outside the bounds over which the reward decays; >= 0.
        value_at_margin: reward at ``margin`` outside the interval, in (0, 1).

    Raises:
        ValueError: for ``lower > upper``, a negative margin, or ``value_at_margin``
            outside (0, 1).
    """
    if lower > upper:
        raise ValueError(f"tolerance() needs lower <= upper, got {lower} > {upper}")
    if margin < 0.0:
        raise ValueError(f"tolerance() needs margin >= 0, got {margin}")
    if not 0.0 < value_at_margin < 1.0:
        raise ValueError(f"tolerance() needs 0 < value_at_margin < 1, got {value_at_margin}")
    x = float(x)
    if lower <= x <= upper:
        return 1.0
    if margin == 0.0:
        return 0.0
    gap = (lower - x if x < lower else x - upper) / margin
    # Gaussian scaled so that gap == 1 gives exactly value_at_margin.
    return math.exp(gap * gap * math.log(value_at_margin))


def progress(rel: Vector, prev_rel: Vector) -> float:
    """How much closer the robot got to a target in this step (m; negative if it moved away).

    Args:
        rel: target minus position now, e.g. ``state["goal_rel"]``.
        prev_rel: the same vector one step earlier, e.g. ``prev_state["goal_rel"]``.
    """
    return math.hypot(*_vec(prev_rel)) - math.hypot(*_vec(rel))


def velocity_penalty(vel: Vector, target: Vector | None = None) -> float:
    """Squared speed, or squared deviation from a target velocity ((m/s)^2, >= 0).

    Args:
        vel: velocity, e.g. ``state["vel"]``.
        target: desired velocity of the same length; ``None`` means standing still.
    """
    v = _vec(vel)
    if target is None:
        h = math.hypot(*v)
        return h * h
    t = _vec(target)
    if len(t) != len(v):
        raise ValueError(f"velocity_penalty() target has length {len(t)}, velocity {len(v)}")
    d = math.dist(v, t)
    return d * d


def tilt_penalty(tilt: Scalar) -> float:
    """Squared tilt from upright (rad^2, >= 0); small tilts cost little, flips cost a lot."""
    t = float(tilt)
    return t * t


def angular_velocity_penalty(ang_vel: Vector) -> float:
    """Squared body rates ((rad/s)^2, >= 0); damps wobble and spinning."""
    h = math.hypot(*_vec(ang_vel))
    return h * h


def action_rate(action: Vector, last_action: Vector) -> float:
    """Mean squared change of the action between steps (>= 0): penalizes jittery control.

    Actions are normalized to [-1, 1], so the result is at most 4.

    Args:
        action: the action just applied.
        last_action: the action of the previous step, e.g. ``prev_state["last_action"]``.
    """
    a, b = _vec(action), _vec(last_action)
    if len(a) != len(b):
        raise ValueError(f"action_rate() got actions of length {len(a)} and {len(b)}")
    d = math.dist(a, b)
    return d * d / len(a)


def action_magnitude(action: Vector) -> float:
    """Mean squared action (>= 0, at most 1): a small effort penalty."""
    a = _vec(action)
    h = math.hypot(*a)
    return h * h / len(a)


def crash_penalty(
    height: Scalar, tilt: Scalar, min_height: float = 0.05, max_tilt: float = 1.2
) -> float:
    """1.0 when the state looks like a crash (too low or tipped over), else 0.0.

    The env's ground-truth termination is not visible to a reward, so this mirrors the
    usual crash conditions from the state; use a large negative weight.

    Args:
        height: height above the floor (m), e.g. ``state["pos"][2]``.
        tilt: angle from upright (rad), e.g. ``state["tilt"]``.
        min_height: heights below this count as a crash.
        max_tilt: tilts above this count as a crash (1.2 rad is about 70 degrees).
    """
    return 1.0 if float(height) < min_height or float(tilt) > max_tilt else 0.0


def success_bonus(
    dist: Scalar, tol: float, speed: Scalar = 0.0, max_speed: float = math.inf
) -> float:
    """1.0 when within ``tol`` of the target (and slower than ``max_speed``), else 0.0.

    Args:
        dist: distance to the target (m).
        tol: success radius (m), usually a task constant.
        speed: current speed (m/s); only checked if ``max_speed`` is finite.
        max_speed: the target must be reached at most this fast (e.g. to hold a hover).
    """
    return 1.0 if float(dist) <= tol and float(speed) <= max_speed else 0.0


def alignment(a: Vector, b: Vector, eps: float = 1e-6) -> float:
    """Cosine of the angle between two vectors, in [-1, 1]; 0 if either is shorter than eps."""
    return _cosine(_vec(a), _vec(b), eps)


def _cosine(x: list[float], y: list[float], eps: float = 1e-6) -> float:
    if len(x) != len(y):
        raise ValueError(f"alignment() got vectors of length {len(x)} and {len(y)}")
    nx, ny = math.hypot(*x), math.hypot(*y)
    if nx < eps or ny < eps:
        return 0.0
    return sum(map(_mul, x, y)) / (nx * ny)


def axis_offsets(rel: Vector, axis: Vector) -> tuple[float, float]:
    """Split a relative position into its part along an axis and its distance from the axis.

    For a gate, ``axis_offsets(state["gate_rel"], state["gate_normal"])`` gives how far the
    gate plane is ahead (m, positive before crossing) and how far the drone is off the line
    through the gate's centre (m, >= 0).

    Args:
        rel: target minus position (m).
        axis: direction of the axis; need not be unit length.

    Returns:
        ``(along, across)``: signed distance along the axis, unsigned distance from it.

    Raises:
        ValueError: if the vectors differ in length or the axis is (nearly) zero.
    """
    r, a = _vec(rel), _vec(axis)
    if len(r) != len(a):
        raise ValueError(f"axis_offsets() got vectors of length {len(r)} and {len(a)}")
    n = math.hypot(*a)
    if n < 1e-9:
        raise ValueError("axis_offsets() needs a non-zero axis")
    along = sum(map(_mul, r, a)) / n
    length = math.hypot(*r)
    across2 = length * length - along * along
    return along, math.sqrt(across2) if across2 > 0.0 else 0.0


def gate_alignment(vel: Vector, to_gate: Vector, min_speed: float = 0.1) -> float:
    """How well the flight direction points through the next gate, in [-1, 1].

    The cosine between the velocity and the vector to the gate centre, faded in over
    ``[0, min_speed]`` m/s so that hovering in place earns nothing.

    Args:
        vel: velocity (m/s), e.g. ``state["vel"]``.
        to_gate: gate centre minus position (m), e.g. ``state["gate_rel"]``.
        min_speed: speed at which the full cosine counts.
    """
    v = _vec(vel)
    fade = min(1.0, math.hypot(*v) / min_speed) if min_speed > 0.0 else 1.0
    return fade * _cosine(v, _vec(to_gate))


def landing_softness(
    approach_speed: Scalar, gap: Scalar, safe_speed: float = 0.5, zone: float = 0.3
) -> float:
    """Cost (>= 0) of approaching a surface faster than ``safe_speed`` when close to it.

    Zero when farther than ``zone`` from the surface or slower than ``safe_speed``;
    otherwise the squared excess speed, so a touchdown at 1 m/s with ``safe_speed=0.5``
    costs 0.25.

    Args:
        approach_speed: speed toward the surface (m/s, positive when closing in).
        gap: distance to the surface (m).
        safe_speed: the fastest touchdown that is still soft.
        zone: distance from the surface within which speed is checked.
    """
    if float(gap) > zone:
        return 0.0
    excess = float(approach_speed) - safe_speed
    return excess * excess if excess > 0.0 else 0.0


def grasp(
    ee_to_object: Vector,
    gripper_width: Scalar,
    reach_scale: float = 0.01,
    closed_width: float = 0.045,
    open_width: float = 0.08,
    open_value: float = 0.3,
) -> float:
    """Reward in [0, 1] for holding an object: the fingers open while away, closed once on it.

    Closing is paid by how near the end effector is (``closeness`` at ``reach_scale``) and
    keeping the fingers open pays a flat ``open_value``, so closing pays only where
    ``closeness > open_value`` (within ``reach_scale * ln(1 / open_value)``: 1.2 cm at the
    defaults) and closing anywhere else loses reward. A gripper that shuts far from the object
    cannot grasp it; the flat open value lets the reach come first without a cost for
    approaching with the fingers open.

    Args:
        ee_to_object: object position minus end-effector position (m).
        gripper_width: current opening between the fingers (m).
        reach_scale: distance at which the closed-grip reward falls to 0.37 (m); about the
            distance from the grasp point at which the fingers still close on the object.
        closed_width: openings at or below this count as closed on the object (m).
        open_width: the fully open gripper (m).
        open_value: the reward for an open gripper, in [0, 1).

    Raises:
        ValueError: if ``open_width <= closed_width`` or ``open_value`` is not in [0, 1).
    """
    if open_width <= closed_width:
        raise ValueError(
            f"grasp() needs open_width > closed_width, got {open_width} <= {closed_width}"
        )
    if not 0.0 <= open_value < 1.0:
        raise ValueError(f"grasp() needs open_value in [0, 1), got {open_value}")
    near = closeness(norm(ee_to_object), reach_scale)
    closed = (open_width - float(gripper_width)) / (open_width - closed_width)
    closed = 0.0 if closed < 0.0 else (1.0 if closed > 1.0 else closed)
    return near * closed + open_value * (1.0 - closed)


def lift(object_height: Scalar, rest_height: float, target_height: float) -> float:
    """Fraction of the way an object is lifted from rest to the target height, in [0, 1].

    Raises:
        ValueError: if ``target_height <= rest_height``.
    """
    if target_height <= rest_height:
        raise ValueError(f"lift() needs target_height > rest_height, got {target_height}")
    frac = (float(object_height) - rest_height) / (target_height - rest_height)
    return 0.0 if frac < 0.0 else (1.0 if frac > 1.0 else frac)
