"""Extraction of reward programs from model responses (rewards.extract)."""

from __future__ import annotations

import ast

import pytest

from rewards import RewardRejected, extract_code

FN = (
    "def compute_reward(state, action, prev_state, task):\n"
    "    return {'distance': -float(state['goal_rel'][0])}\n"
)


def _defines_entry(code: str) -> bool:
    tree = ast.parse(code)
    return any(isinstance(n, ast.FunctionDef) and n.name == "compute_reward" for n in tree.body)


@pytest.mark.parametrize(
    "response",
    [
        pytest.param(f"```python\n{FN}```", id="python-tag"),
        pytest.param(f"```py\n{FN}```", id="py-tag"),
        pytest.param(f"```Python3\n{FN}```", id="python3-tag"),
        pytest.param(f"```\n{FN}```", id="no-tag"),
        pytest.param(f"~~~python\n{FN}~~~", id="tilde-fence"),
        pytest.param(f"````python\n{FN}````", id="long-fence"),
        pytest.param(f"Here you go:\n\n```python\n{FN}```\n\nThis rewards progress.", id="prose"),
        pytest.param(f"Sure!\n```python\n{FN}", id="unclosed-fence"),
        pytest.param(f"  ```python\n  {FN.replace(chr(10), chr(10) + '  ')}```", id="indented"),
        pytest.param(FN, id="plain-file"),
        pytest.param(f"```python\r\n{FN.replace(chr(10), chr(13) + chr(10))}```", id="crlf"),
    ],
)
def test_single_program_shapes(response):
    code = extract_code(response)
    assert _defines_entry(code)
    assert "```" not in code and "~~~" not in code


def test_several_blocks_pick_the_last_one_defining_compute_reward():
    draft = FN.replace("distance", "draft")
    final = FN.replace("distance", "final")
    response = (
        "A sketch:\n```python\nreward = -d\n```\nFirst try:\n```python\n" + draft + "```\n"
        "Usage:\n```python\nprint(compute_reward(s, a, p, t))\n```\n"
        "Final version:\n```python\n" + final + "```\n"
        "And a shell command:\n```bash\nagentic-rl rewards check r.py --task DroneHover\n```\n"
    )
    code = extract_code(response)
    assert "'final'" in code and "'draft'" not in code


def test_bare_function_inside_prose_keeps_imports_and_helpers():
    response = (
        "Here is the reward. It uses a helper.\n\n"
        "import numpy as np\n"
        "SCALE = 0.5\n\n"
        "def helper(d):\n"
        "    return np.exp(-d / SCALE)\n\n"
        + FN
        + "\nThe helper keeps the distance term bounded.\nLet me know if it works!\n"
    )
    code = extract_code(response)
    assert code.startswith("import numpy as np\nSCALE = 0.5")
    assert "def helper" in code and _defines_entry(code)
    assert "Let me know" not in code and "Here is" not in code


def test_block_without_entry_point_is_returned_for_validation_to_explain():
    code = extract_code("```python\ndef reward(state):\n    return 1.0\n```")
    assert "def reward" in code


@pytest.mark.parametrize(
    ("response", "fragment"),
    [
        ("", "empty"),
        ("   \n\n", "empty"),
        ("I think the reward should penalize distance and tilt.", "no Python code"),
        ('```json\n{"distance": 1.0}\n```', "none is a Python program"),
        ("x" * 300_000, "limit"),
    ],
)
def test_responses_without_code_are_rejected_with_a_clear_message(response, fragment):
    with pytest.raises(RewardRejected) as info:
        extract_code(response)
    assert info.value.stage == "extract"
    assert fragment in info.value.message
    assert info.value.line is None


def test_cut_off_bare_code_is_trimmed_to_what_parses():
    response = "Reward:\n" + FN + "    # and then the model stopped mid-\nsentence here"
    code = extract_code(response)
    assert _defines_entry(code)
