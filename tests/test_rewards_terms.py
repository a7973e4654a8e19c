"""The reward term library (rewards.terms): values checked by hand, and properties."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from rewards import terms

finite = st.floats(-1e3, 1e3, allow_nan=False)
vec3 = st.lists(finite, min_size=3, max_size=3)
unit_action = st.lists(st.floats(-1, 1), min_size=4, max_size=4)


def test_norm_and_distance_accept_arrays_lists_and_scalars():
    assert terms.norm(np.array([3.0, 4.0, 0.0])) == 5.0
    assert terms.norm([3.0, 4.0]) == 5.0
    assert terms.norm(np.float64(-2.0)) == 2.0
    assert terms.norm(np.array(-2.0)) == 2.0  # 0-d arrays, as scalar state fields may be
    assert terms.distance([1.0, 1.0, 1.0], np.array([1.0, 1.0, 3.0])) == 2.0
    with pytest.raises(ValueError, match="equal length"):
        terms.distance([1.0], [1.0, 2.0])


def test_closeness_and_tolerance_shapes():
    assert terms.closeness(0.0, 0.5) == 1.0
    assert terms.closeness(0.5, 0.5) == pytest.approx(math.exp(-1))
    with pytest.raises(ValueError, match="scale > 0"):
        terms.closeness(1.0, 0.0)
    assert terms.tolerance(0.05, 0.0, 0.1) == 1.0
    assert terms.tolerance(0.2, 0.0, 0.1) == 0.0  # no margin: an indicator
    assert terms.tolerance(0.2, 0.0, 0.1, margin=0.1) == pytest.approx(0.1)
    assert terms.tolerance(-0.1, 0.0, 0.1, margin=0.1, value_at_margin=0.5) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="lower <= upper"):
        terms.tolerance(0.0, 1.0, 0.0)


def test_progress_is_the_decrease_in_distance():
    assert terms.progress([0.0, 0.0, 0.5], [0.0, 0.0, 1.0]) == pytest.approx(0.5)
    assert terms.progress([0.0, 2.0, 0.0], [0.0, 1.0, 0.0]) == pytest.approx(-1.0)


def test_penalties_by_hand():
    assert terms.velocity_penalty([1.0, 2.0, 2.0]) == pytest.approx(9.0)
    assert terms.velocity_penalty([1.0, 2.0, 2.0], target=[1.0, 2.0, 0.0]) == pytest.approx(4.0)
    assert terms.tilt_penalty(0.5) == 0.25
    assert terms.angular_velocity_penalty(np.array([1.0, 0.0, 2.0])) == pytest.approx(5.0)
    assert terms.action_rate([1, 1, 1, 1], [-1, 1, 1, 1]) == pytest.approx(1.0)
    assert terms.action_magnitude([1.0, 0.0, 0.0, 0.0]) == pytest.approx(0.25)
    assert terms.crash_penalty(0.01, 0.0) == 1.0
    assert terms.crash_penalty(1.0, 1.5) == 1.0
    assert terms.crash_penalty(1.0, 0.1) == 0.0
    assert terms.landing_softness(1.0, 0.1, safe_speed=0.5) == pytest.approx(0.25)
    assert terms.landing_softness(1.0, 1.0, safe_speed=0.5) == 0.0  # far from the surface
    assert terms.landing_softness(0.3, 0.1, safe_speed=0.5) == 0.0  # slow enough


def test_bonuses_and_alignment_by_hand():
    assert terms.success_bonus(0.05, 0.1) == 1.0
    assert terms.success_bonus(0.05, 0.1, speed=1.0, max_speed=0.5) == 0.0
    assert terms.alignment([1.0, 0.0, 0.0], [2.0, 0.0, 0.0]) == pytest.approx(1.0)
    assert terms.alignment([1.0, 0.0, 0.0], [0.0, 3.0, 0.0]) == pytest.approx(0.0)
    assert terms.alignment([0.0, 0.0, 0.0], [1.0, 0.0, 0.0]) == 0.0
    assert terms.gate_alignment([0.05, 0.0, 0.0], [1.0, 0.0, 0.0], min_speed=0.1) == 0.5
    along, across = terms.axis_offsets([2.0, 1.0, 0.0], [1.0, 0.0, 0.0])
    assert (along, across) == pytest.approx((2.0, 1.0))
    with pytest.raises(ValueError, match="non-zero axis"):
        terms.axis_offsets([1.0, 0.0, 0.0], [0.0, 0.0, 0.0])


def test_grasp_and_lift():
    assert terms.grasp([0.0, 0.0, 0.0], 0.04, closed_width=0.045) == 1.0
    assert terms.grasp([0.0, 0.0, 0.0], 0.08, closed_width=0.045) == 0.3  # still open
    # closed away from the object: less than open, so the gripper stays open on the way
    far_closed = terms.grasp([0.1, 0.0, 0.0], 0.04, reach_scale=0.05)
    assert far_closed == pytest.approx(math.exp(-2))
    assert far_closed < terms.grasp([0.1, 0.0, 0.0], 0.08, reach_scale=0.05)
    # half closed within 5 mm: between open and closed
    assert 0.3 < terms.grasp([0.005, 0.0, 0.0], 0.0625) < 1.0
    with pytest.raises(ValueError, match="open_width"):
        terms.grasp([0.0, 0.0, 0.0], 0.04, closed_width=0.08, open_width=0.08)
    assert terms.lift(0.02, 0.02, 0.07) == 0.0
    assert terms.lift(0.045, 0.02, 0.07) == pytest.approx(0.5)
    assert terms.lift(0.5, 0.02, 0.07) == 1.0
    with pytest.raises(ValueError, match="target_height"):
        terms.lift(0.1, 0.1, 0.1)


@given(vec3, vec3)
def test_bounded_terms_stay_in_range(a, b):
    assert 0.0 <= terms.closeness(terms.norm(a), 0.3) <= 1.0
    assert -1.0 - 1e-9 <= terms.alignment(a, b) <= 1.0 + 1e-9
    assert 0.0 <= terms.tolerance(a[0], -1.0, 1.0, margin=0.5) <= 1.0
    along, across = terms.axis_offsets(a, [1.0, 0.5, 0.0])
    assert across >= 0.0
    assert math.hypot(along, across) == pytest.approx(terms.norm(a), rel=1e-6, abs=1e-6)


@given(vec3, vec3, unit_action, unit_action)
def test_penalties_are_non_negative_and_finite(v, w, a, b):
    for value in (
        terms.velocity_penalty(v),
        terms.velocity_penalty(v, w),
        terms.angular_velocity_penalty(w),
        terms.action_rate(a, b),
        terms.action_magnitude(a),
        terms.tilt_penalty(v[0]),
        terms.landing_softness(v[0], abs(w[0]) % 0.3),
    ):
        assert value >= 0.0 and math.isfinite(value)
    assert terms.action_rate(a, b) <= 4.0 + 1e-9


@given(vec3, vec3)
def test_progress_telescopes(a, b):
    # progress(b <- a) + progress(a <- b) == 0: no reward for moving back and forth
    assert terms.progress(b, a) + terms.progress(a, b) == pytest.approx(0.0, abs=1e-9)


def test_every_exported_term_has_a_docstring_and_returns_a_float():
    for name in terms.__all__:
        fn = getattr(terms, name)
        assert fn.__doc__ and len(fn.__doc__.strip()) > 20, name
    assert isinstance(terms.norm(np.array([1.0, 2.0])), float)
    assert isinstance(terms.closeness(np.float64(0.1), 1.0), float)
