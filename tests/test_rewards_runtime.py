"""The training-time wrapper (rewards.runtime.RewardFunction) and its use inside a real env."""

from __future__ import annotations

import math
import pickle

import numpy as np
import pytest

import rewards
import sims
from rewards import RewardBudgetExceeded, RewardContext, RewardRuntimeError
from rewards.states import synthetic_states

CTX = RewardContext(
    task_id="test/Fake-v0",
    field_shapes=(("pos", (3,)), ("vel", (3,)), ("tilt", ()), ("goal_rel", (3,))),
    constants={"pos_tolerance": 0.1},
    action_shape=(4,),
)
HEAD = "def compute_reward(state, action, prev_state, task):\n"
# NaN only high above the ground and a ZeroDivisionError only exactly at z == 7: states the
# smoke run never shows, so the runtime guards must catch them.
RARE_FAULTS = HEAD + (
    "    z = float(state['pos'][2])\n"
    "    nan = float('nan') if z > 50.0 else 0.0\n"
    "    boom = 1.0 / (z - 7.0) if z == 7.0 else 0.0\n"
    "    return {'height': z, 'nan': nan, 'boom': boom}\n"
)


def _state(z: float):
    return {
        "pos": np.array([0.0, 0.0, z]),
        "vel": np.zeros(3),
        "tilt": np.float64(0.0),
        "goal_rel": np.zeros(3),
    }


def test_rare_nonfinite_terms_are_zeroed_and_counted():
    fn = rewards.compile_program(RARE_FAULTS, CTX)
    out = fn(_state(100.0), np.zeros(4), _state(1.0), CTX.constants)
    assert out == {"height": 100.0, "nan": 0.0, "boom": 0.0}
    fn(_state(100.0), np.zeros(4), _state(1.0), CTX.constants)
    assert fn.nonfinite_counts == {"nan": 2}
    assert all(isinstance(v, float) for v in out.values())
    assert fn.stats()["nonfinite_counts"] == {"nan": 2} and fn.stats()["calls"] == 2


def test_int_and_bool_terms_come_back_as_floats():
    # 0 + 0.5 + True sums to a finite float, so only a per-term type check catches these.
    fn = rewards.compile_program(HEAD + "    return {'zero': 0, 'half': 0.5, 'flag': True}\n", CTX)
    out = fn(_state(2.0), np.zeros(4), _state(1.0), CTX.constants)
    assert out == {"zero": 0.0, "half": 0.5, "flag": 1.0}
    assert [type(v) for v in out.values()] == [float, float, float]
    # the first call runs through the memory-tightening hook; later calls take the plain path
    out = fn(_state(2.0), np.zeros(4), _state(1.0), CTX.constants)
    assert [type(v) for v in out.values()] == [float, float, float]


def test_rare_exceptions_are_zeroed_then_fail_the_candidate():
    fn = rewards.compile_program(RARE_FAULTS, CTX, max_errors=2)
    assert fn.program.terms == ("height", "nan", "boom")  # read statically from the return
    for _ in range(2):
        assert fn(_state(7.0), np.zeros(4), _state(1.0), CTX.constants) == {
            "height": 0.0,
            "nan": 0.0,
            "boom": 0.0,
        }
    assert fn.error_counts == {"ZeroDivisionError": 2}
    assert "line 4" in fn.first_error
    with pytest.raises(RewardRuntimeError, match=r"3 exceptions in 3 calls.*ZeroDivisionError"):
        fn(_state(7.0), np.zeros(4), _state(1.0), CTX.constants)


def test_repeated_budget_overruns_fail_the_candidate_but_single_ones_do_not():
    src = HEAD + "    return {'s': float(np.sum(np.ones(20000)))}\n"
    fn = rewards.compile_program(src, CTX, budget_us=0.001, max_consecutive_overruns=5)
    for _ in range(4):
        fn(_state(1.0), np.zeros(4), _state(1.0), CTX.constants)
    assert fn.overruns == 4
    with pytest.raises(RewardBudgetExceeded, match="budget of 0 us per call on 5 consecutive"):
        fn(_state(1.0), np.zeros(4), _state(1.0), CTX.constants)
    # A generous budget never trips.
    fast = rewards.compile_program(src, CTX, budget_us=1e6, max_consecutive_overruns=1)
    for _ in range(50):
        fast(_state(1.0), np.zeros(4), _state(1.0), CTX.constants)
    assert fast.overruns == 0


def test_guarded_callable_pickles_by_recompiling():
    fn = rewards.compile_program(RARE_FAULTS, CTX, budget_us=123.0)
    fn(_state(100.0), np.zeros(4), _state(1.0), CTX.constants)
    clone = pickle.loads(pickle.dumps(fn))
    assert clone.program == fn.program and clone.budget_s == pytest.approx(123e-6)
    assert clone.nonfinite_counts == {}  # counters start fresh in the new process
    assert clone(_state(3.0), np.zeros(4), _state(1.0), CTX.constants)["height"] == 3.0


def test_wrapper_matches_the_plain_function_on_many_states():
    src = HEAD + (
        "    d = terms.norm(state['goal_rel'])\n"
        "    return {'near': terms.closeness(d, 0.5), 'tilt': -terms.tilt_penalty(state['tilt']),"
        " 'rate': -terms.action_rate(action, [0.0, 0.0, 0.0, 0.0])}\n"
    )
    fn = rewards.compile_program(src, CTX)
    batch = synthetic_states(CTX, n=64, seed=3)
    for state, action, prev in batch.transitions():
        out = fn(state, action, prev, CTX.constants)
        d = math.dist(state["goal_rel"], (0.0, 0.0, 0.0))
        assert out["near"] == pytest.approx(math.exp(-d / 0.5))
        assert out["tilt"] == pytest.approx(-(float(state["tilt"]) ** 2))
        assert out["rate"] == pytest.approx(-float(np.mean(np.square(action))))


def test_reference_reward_drives_a_real_env_step():
    spec = sims.get_spec("DroneHover")
    fn = rewards.load_reward(spec, "reference")
    env = sims.make("DroneHover", reward_fn=fn)
    try:
        env.reset(seed=0)
        total = 0.0
        for _ in range(20):
            _, reward, terminated, truncated, info = env.step(np.zeros(4))
            assert set(info["reward_terms"]) == set(fn.program.terms)
            assert reward == pytest.approx(sum(info["reward_terms"].values()))
            total += reward
            if terminated or truncated:
                break
    finally:
        env.close()
    assert fn.calls >= 1 and fn.nonfinite_counts == {} and fn.error_counts == {}
    assert math.isfinite(total)
