"""Static checks of reward programs (rewards.validate): what passes, what fails and how."""

from __future__ import annotations

import pytest

from rewards import RewardContext, RewardRejected
from rewards.validate import MAX_AST_DEPTH, MAX_SOURCE_CHARS, validate

CTX = RewardContext(
    task_id="test/Fake-v0",
    field_shapes=(("pos", (3,)), ("vel", (3,)), ("tilt", ()), ("goal_rel", (3,))),
    constants={"pos_tolerance": 0.1, "n_gates": 3.0},
    action_shape=(4,),
)
HEAD = "def compute_reward(state, action, prev_state, task):\n"


def _ok(body: str, prefix: str = ""):
    return validate(prefix + HEAD + body, CTX)


def _rejected(body: str, prefix: str = "") -> RewardRejected:
    with pytest.raises(RewardRejected) as info:
        validate(prefix + HEAD + body, CTX)
    return info.value


@pytest.mark.parametrize(
    "body",
    [
        "    return {'d': -terms.norm(state['goal_rel'])}\n",
        "    d = np.linalg.norm(state['pos'] - prev_state['pos'])\n    return {'d': float(d)}\n",
        "    return dict(a=1.0, b=math.exp(-float(state['tilt'])))\n",
        "    out = {}\n    for i in range(3):\n        out[f'axis{i}'] = -abs(float(state['pos'][i]))\n"
        "    return out\n",
        "    xs = sorted(state['vel'].tolist(), key=lambda v: -abs(v))\n    return {'w': xs[0]}\n",
        "    r = {k: float(v) for k, v in zip(('a', 'b'), (1, 2))}\n    r.update({'c': 0.0})\n"
        "    return r\n",
        "    n = int(task['n_gates'])\n    s = sum(i for i in range(len(state['pos'])))\n"
        "    return {'s': float(s + n) if state.get('tilt') < 1 else 0.0}\n",
        "    norm = np.linalg.norm\n    return {'n': float(norm(state['vel']))}\n",
        "    p = np.array(state['pos'])\n    p[0] = 0.0\n    return {'p': float(p @ p)}\n",
        "    return {'o': 1.0 if state.get('optional_field', None) is None else 0.0}\n",
    ],
)
def test_ordinary_programs_pass(body):
    assert _ok(body).params == ("state", "action", "prev_state", "task")


def test_harmless_imports_are_mapped_and_annotations_dropped():
    src = (
        "from __future__ import annotations\nfrom typing import Dict\nimport numpy as npy\n"
        "import math\nfrom math import sqrt\nfrom rewards import terms as T\n"
        "from numpy.linalg import norm\n\n"
        "def compute_reward(state: Dict[str, npy.ndarray], action, prev_state, task) -> dict:\n"
        "    x: float = sqrt(2.0)\n"
        "    return {'a': float(npy.sum(state['pos'])) + x + T.norm(state['vel'])"
        " + float(norm(state['vel']))}\n"
    )
    program = validate(src, CTX)
    assert program.aliases["npy"] == ("numpy", None)
    assert program.aliases["sqrt"] == ("math", "sqrt")
    assert program.aliases["T"] == ("rewards.terms", None)
    assert program.aliases["norm"] == ("numpy.linalg", "norm")
    assert any("import math" in n for n in program.notes)  # dropped, math is provided


def test_static_terms_are_read_from_dict_literals():
    program = _ok(
        "    if state['tilt'] > 1:\n        return {'a': 0.0, 'b': 1.0}\n"
        "    return dict(a=1.0, c=2.0)\n"
    )
    assert program.static_terms == ("a", "b", "c")
    assert _ok("    r = {}\n    r['x'] = 1.0\n    return r\n").static_terms is None


def test_unknown_state_field_lists_the_valid_ones_with_a_hint():
    err = _rejected("    return {'x': float(state['goal'][0])}\n")
    assert err.stage == "validate" and err.line == 2
    assert "Did you mean 'goal_rel'?" in err.message
    assert "pos, vel, tilt, goal_rel" in err.message
    err = _rejected("    return {'x': float(prev_state.get('velocity')[0])}\n")
    assert "'vel'" in err.message


def test_unknown_task_constant_lists_the_valid_ones():
    err = _rejected("    return {'x': task['pos_tol']}\n")
    assert "Did you mean 'pos_tolerance'?" in err.message and "n_gates" in err.message


def test_state_attribute_access_is_explained():
    err = _rejected("    return {'x': float(state.tilt)}\n")
    assert "state['tilt']" in err.message


@pytest.mark.parametrize(
    ("body", "prefix", "fragment"),
    [
        ("    return {'x': np.random.rand()}\n", "", "`np.random` is not available"),
        ("    return {'x': math.factorial(1000)}\n", "", "math.factorial"),
        ("    return {'x': terms.distnce(1, 2)}\n", "", "Did you mean 'distance'?"),
        ("    return {'x': foo}\n", "", "name `foo` is not defined"),
        ("    return {'x': state['pos'].dump()}\n", "", "`.dump` is not allowed"),
        ("    return {'x': 1.0}, 2.0\n", "", "return only the dict"),
        ("    return 1.0\n", "", "must return a dict"),
        ("    f = lambda v: v\n    return {'x': 1.0}\n", "", "lambda may only be passed"),
        (
            "    for i in range(n):\n        pass\n    return {'x': 1.0}\n",
            "",
            "range must have a bound",
        ),
        ("    return {'x': float(pow(9, 9 ** 60))}\n", "", "exponents and shifts above 64"),
        ("    return {'x': 1.0}\n", "@staticmethod\n", "decorators"),
        ("    return {'x': 1.0}\n", "X = compute()\n", "module-level assignments"),
        ("    return {'x': 1.0}\n", "import torch\n", "torch is not available"),
        ("    return {'x': 1.0}\n", "from numpy import save\n", "numpy.save is not available"),
        ("    return {'x': 1.0}\n", "from math import *\n", "`import *` is not allowed"),
        ("    return {'x': 1.0}\n", "import math as np\n", "would rebind `np`"),
    ],
)
def test_rejections_say_what_to_do(body, prefix, fragment):
    err = _rejected(body, prefix)
    assert err.stage == "validate"
    assert fragment in err.message, err.message


def test_missing_entry_point_names_what_was_defined():
    with pytest.raises(RewardRejected) as info:
        validate("def reward(state, action, prev_state, task):\n    return {'x': 1.0}\n", CTX)
    assert "`reward`" in info.value.message and "compute_reward" in info.value.message


def test_size_and_depth_limits_are_parse_errors():
    with pytest.raises(RewardRejected) as info:
        validate(HEAD + "    return {'x': 1.0}\n" + "#" * MAX_SOURCE_CHARS, CTX)
    assert info.value.stage == "parse" and "characters" in info.value.message
    deep = "[" * (MAX_AST_DEPTH + 5) + "1" + "]" * (MAX_AST_DEPTH + 5)
    nested = "-" * (MAX_AST_DEPTH + 5) + "1.0"
    huge = "(" * 5000 + "1" + ")" * 5000  # beyond the Python parser's own limit
    for expr in (deep, nested, huge):
        with pytest.raises(RewardRejected) as info:
            validate(HEAD + f"    return {{'x': {expr}}}\n", CTX)
        assert info.value.stage == "parse"
    with pytest.raises(RewardRejected) as info:
        validate(HEAD + "    return {'x': 1.0}  \x00\n", CTX)
    assert info.value.stage == "parse"


def test_syntax_errors_carry_the_line():
    with pytest.raises(RewardRejected) as info:
        validate(HEAD + "    x = (1 +\n    return {'x': x}\n", CTX)
    assert info.value.stage == "parse" and info.value.line in (2, 3)
    assert "syntax" in info.value.message


def test_every_problem_is_reported_in_one_pass():
    """A torch-style answer: the import, the decorator, the undefined name and a typo'd
    field all come back in one rejection, so one repair round can fix them all."""
    import sims
    from rewards.errors import RewardRejected
    from rewards.program import RewardContext

    src = (
        "import torch\n"
        "@torch.no_grad()\n"
        "def compute_reward(state, action, prev_state, task):\n"
        "    d = torch.norm(torch.tensor(state['goal_rell']))\n"
        "    return {'near': -d}\n"
    )
    with pytest.raises(RewardRejected) as err:
        validate(src, RewardContext.from_spec(sims.get_spec("DroneHover")))
    msg = err.value.message
    assert msg.startswith("4 problems")
    for needle in (
        "line 1: `import torch`",
        "line 2: `compute_reward` has a decorator",
        "line 4: name `torch` is not defined",
        "Did you mean 'goal_rel'",
    ):
        assert needle in msg
    assert err.value.line == 1
    assert "attribute `.norm`" not in msg, "no cascade from the undefined base name"
