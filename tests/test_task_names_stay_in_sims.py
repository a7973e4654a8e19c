"""A task's meaning lives in its TaskSpec: no code outside sims/ names a built-in task's state
fields or robots (it reads the spec's declarations instead: roles, body, goal, criteria,
hazards). Task code (sims/, examples/) and tests are exempt.

Names count where code uses them: a string literal that *is* a field or robot name
(``"gate_rel"``, ``has("tilt")``), a subscript inside a string (``'state["goal_rel"]'`` in a
reward template), or a robot name anywhere in a string (``if spec.robot == "crazyflie2x"``).
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from pathlib import Path

import sims

ROOT = Path(__file__).resolve().parent.parent
#: Code that must stay task-agnostic.
SCANNED = ("agentic_rl", "ros_bridge", "benchmarks", "launch")
#: Field names that are also ordinary words of other concepts here: "progress" is the PPO
#: config's progress-bar option and a reward term name.
GENERIC = {"progress"}


def _builtin_names() -> tuple[set[str], set[str]]:
    fields, robots = set(), set()
    for task in sims.BUILTIN_TASKS:
        spec = sims.get_spec(task)
        fields.update(spec.field_names)
        robots.add(spec.robot)
    return fields - GENERIC, robots


def offenders(root: Path = ROOT, folders: tuple[str, ...] = SCANNED) -> dict[str, list[str]]:
    """file -> sorted built-in names it uses, for every scanned file that uses any."""
    fields, robots = _builtin_names()
    subscript = re.compile(r"""\[\s*\\?['"](\w+)\\?['"]\s*\]""")
    robot = re.compile(r"\b(" + "|".join(map(re.escape, sorted(robots))) + r")\b")
    found: dict[str, set[str]] = {}
    for folder in folders:
        for path in sorted((root / folder).rglob("*.py")):
            source = path.read_text()
            for tok in tokenize.generate_tokens(io.StringIO(source).readline):
                if tok.type != tokenize.STRING:
                    continue
                try:
                    text = ast.literal_eval(tok.string)
                except (ValueError, SyntaxError):  # f-strings: scan the raw text
                    text = tok.string
                if not isinstance(text, str):
                    continue
                names = {text.strip()} & fields
                names |= {m for m in subscript.findall(text) if m in fields}
                names |= set(robot.findall(text))
                if names:
                    where = f"{path.relative_to(root)}"
                    found.setdefault(where, set()).update(names)
    return {k: sorted(v) for k, v in sorted(found.items())}


def test_the_scanner_finds_planted_names(tmp_path):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "x.py").write_text(
        '''"""Words in prose such as the tilt of a drone do not count."""\n'''
        'if spec.robot == "crazyflie2x":\n'
        '    d = state.get("goal_rel")\n'
        """TEMPLATE = 'r = -state["gate_rel"][0]'\n"""
        'ok = "progress"\n'
    )
    assert offenders(tmp_path, ("pkg",)) == {"pkg/x.py": ["crazyflie2x", "gate_rel", "goal_rel"]}


def test_no_builtin_field_or_robot_names_outside_sims():
    left = offenders()
    report = "\n".join(f"  {path}: {', '.join(names)}" for path, names in left.items())
    assert not left, (
        "code outside sims/ names built-in task fields or robots; read the TaskSpec's "
        "declarations (spec.body, spec.goal, spec.success_criteria, spec.hazards, "
        f"spec.fields_with_role) instead:\n{report}"
    )
