"""Runtime size caps inside the reward namespace, and the static checks that close the gaps.

Static rules reject what is certainly unbounded; sizes that depend on the state are caught by
the runtime caps (:mod:`rewards.caps`) before anything is built, with the limit named.
"""

from __future__ import annotations

import numpy as np
import pytest

import rewards
from rewards.program import RewardContext
from rewards.validate import validate

CTX = RewardContext(
    task_id="Toy",
    field_shapes=(("pos", (3,)), ("goal_rel", (3,))),
    constants={"scale": 2.0},
    action_shape=(2,),
)
STATE = {"pos": np.array([0.0, 0.0, 5.0]), "goal_rel": np.array([1.0, 2.0, 2.0])}

# n is about 5e7 at STATE: a size only the state decides.
_TEMPLATE = """
def helper(z):
    return [z, z]


def exponent(z):
    return int(z) + 10**8


def compute_reward(state, action, prev_state, task):
    n = int(float(state['pos'][2]) * 1e7)
    x = {expr}
    return {{'x': 1.0}}
"""


def _call(expr: str) -> None:
    fn = rewards.compile_program(_TEMPLATE.format(expr=expr), CTX)
    fn(STATE, np.zeros(2), STATE, {"scale": 2.0})


@pytest.mark.parametrize(
    ("expr", "says"),
    [
        ("np.zeros(n)", "np.zeros(...) would hold 50,000,000 items"),
        ("np.ones((n, 2))", "np.ones(...)"),
        ("np.full(n, 1.0)", "np.full(...)"),
        ("np.arange(0, n)", "np.arange(...)"),
        ("np.linspace(0, 1, n)", "np.linspace(...)"),
        ("np.tile(state['pos'], n)", "np.tile(...)"),
        ("np.outer(np.ones(n // 10000), np.ones(n // 1000))", "np.outer(...)"),
        ("np.concatenate([np.ones(n // 100)] * 30)", "np.concatenate(...)"),
        ("helper(1.0) * n", "repeating a list of 2 items 50,000,000 times"),
        ("7 ** exponent(n)", "would be an integer of about"),
        ("pow(7, exponent(n))", "would be an integer of about"),
        ("1 << exponent(n)", "bits; the limit is 4,096"),
        ("'%*d' % (n, 1)", "a format width of 50,000,000 characters"),
    ],
)
def test_runtime_caps_fail_before_building(expr, says):
    with pytest.raises(rewards.RewardLimitExceeded) as info:
        _call(expr)
    assert info.value.limit == "size"
    assert says in str(info.value)
    assert "at line 11" in str(info.value)  # the program's line, for the designer


def test_concatenation_doubling_past_the_cap_fails():
    src = """
def grow(s):
    return s + s


def compute_reward(state, action, prev_state, task):
    s = grow(['x'] * 1000)
    for i in range(20):
        s = grow(s)
    return {'x': float(len(s))}
"""
    fn = rewards.compile_program(src, CTX)
    with pytest.raises(rewards.RewardLimitExceeded, match="concatenating lists"):
        fn(STATE, np.zeros(2), STATE, {"scale": 2.0})


def test_numbers_keep_native_operators_and_small_sizes_pass():
    src = """
def compute_reward(state, action, prev_state, task):
    d = float(np.linalg.norm(state['goal_rel']))
    k = len(state['pos'])
    row = [d] * 3 + [0.0]
    a = np.zeros(k) + np.ones((2, 3)).sum() + np.arange(4).sum()
    return {'d': -d * task['scale'] + d ** 2, 'n': float(k ** 2), 'r': float(len(row)),
            'a': float(a.sum()), 's': float(len('%5.2f' % d))}
"""
    fn = rewards.compile_program(src, CTX)
    out = fn(STATE, np.zeros(2), STATE, {"scale": 2.0})
    assert out["d"] == pytest.approx(-6.0 + 9.0) and out["r"] == 4.0 and out["s"] == 5.0
    # Only the sequence and string operations go through a guard; the number arithmetic
    # keeps Python's operators, so a reward of numbers pays nothing per call.
    guarded = sorted(n for n in fn._fn.__code__.co_names if n.startswith("__cap_"))
    assert guarded == ["__cap_add__", "__cap_mod__", "__cap_mul__"], guarded
    # The shipped reference rewards (numbers throughout, helpers included) use no guard.
    import sims

    for which in rewards.reference_names():
        ref = rewards.compile_program(rewards.reference_source(which), sims.get_spec(which))
        program_functions = [
            v
            for v in ref._fn.__globals__.values()
            if getattr(getattr(v, "__code__", None), "co_filename", "") == "<reward_program>"
        ]
        names = {n for f in program_functions for n in f.__code__.co_names}
        assert not any(n.startswith("__cap_") for n in names), (which, sorted(names))


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ("row = [0.0, 1.0]\n    big = row * 20000", "`row` holds a sequence"),
        ("s = [1.0]\n    for i in range(40):\n        s = s + s", "grows `s` geometrically"),
        ("s = 'ab'\n    for i in range(40):\n        s += s", "grows `s` geometrically"),
        ("x = len(state['pos']) * 1000\n    y = x ** x", "integer with no known bound"),
        ("n = int(state['pos'][0])\n    y = 3 << n", "integer with no known bound"),
        ("width = 10\n    t = f'{0:>{width}}'", "format specs must be literal"),
        ("t = f'{0:>99999}'", "format width or precision of 99,999"),
        ("t = '%0999999d' % 1", "format width or precision of 999,999"),
        ("a = np.ones((100000, 100000))", "up to 10,000,000,000 elements"),
        ("a = np.zeros(10 ** 8)", "up to 100,000,000 elements"),
        ("a = np.full((5000, 5000), 1.0)", "up to 25,000,000 elements"),
        ("a = np.arange(10 ** 9)", "up to 1,000,000,000 elements"),
        ("a = np.linspace(0, 1, 10 ** 7)", "up to 10,000,000 elements"),
        ("a = np.tile(state['pos'], 10 ** 7)", "up to 10,000,000 elements"),
    ],
)
def test_static_gaps_are_closed_with_actionable_messages(body, says):
    src = f"def compute_reward(state, action, prev_state, task):\n    {body}\n    return {{'x': 1.0}}\n"
    with pytest.raises(rewards.RewardRejected) as info:
        validate(src, CTX)
    assert info.value.stage == "validate" and info.value.line is not None
    assert says in info.value.message, info.value.message


def test_float_powers_and_loops_of_numbers_stay_accepted():
    src = """
def compute_reward(state, action, prev_state, task):
    d = float(np.linalg.norm(state['goal_rel']))
    p = task['scale']
    w = 1.0
    for i in range(5):
        w *= 0.9
        w = w + w * 0.01
    return {'x': -(d ** p) * w + d ** d}
"""
    validate(src, CTX)


def test_constants_unpacked_from_a_tuple_keep_their_kinds():
    """``A, B = 0.2, 0.3`` at module level binds numbers (it was rejected as repeating a
    sequence); an unpacked sequence is still one."""
    src = (
        "NEAR, FAR = 0.2, 0.3\nROW, K = [0.0], 2\n\n"
        "def compute_reward(state, action, prev_state, task):\n"
        "    d = float(np.linalg.norm(state['goal_rel']))\n"
        "    return {'x': NEAR * d + FAR * d + len(ROW * K)}\n"
    )
    fn = rewards.compile_program(src, CTX)
    assert fn(STATE, np.zeros(2), STATE, {"scale": 2.0})["x"] == pytest.approx(0.5 * 3.0 + 2)
    with pytest.raises(rewards.RewardRejected, match="`ROW` holds a sequence"):
        validate(src.replace("ROW * K", "ROW * int(d * 1e6)"), CTX)
