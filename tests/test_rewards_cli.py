"""``agentic-rl rewards check`` and ``agentic-rl rewards show-state``."""

from __future__ import annotations

import json

from typer.testing import CliRunner

import rewards
from agentic_rl.cli import app

runner = CliRunner()


def test_check_accepts_a_reference_with_exit_0(tmp_path):
    path = tmp_path / "hover.py"
    path.write_text(rewards.reference_source("DroneHover"))
    result = runner.invoke(app, ["rewards", "check", str(path), "--task", "DroneHover"])
    assert result.exit_code == 0, result.output
    assert "accepted" in result.output and "near_goal" in result.output
    result = runner.invoke(app, ["rewards", "check", str(path), "--task", "DroneHover", "--json"])
    assert result.exit_code == 0
    data = json.loads(result.output)
    assert data["accepted"] is True and data["cost_us"] > 0 and len(data["source_hash"]) == 64


def test_check_rejects_with_exit_2_and_stage_line_message(tmp_path):
    path = tmp_path / "response.md"
    path.write_text(
        "Try this:\n```python\ndef compute_reward(state, action, prev_state, task):\n"
        "    return {'x': float(state['position'][0])}\n```\n"
    )
    result = runner.invoke(app, ["rewards", "check", str(path), "--task", "DroneHover", "--json"])
    assert result.exit_code == 2
    data = json.loads(result.output)
    assert (data["accepted"], data["stage"], data["line"]) == (False, "validate", 2)
    assert "Did you mean 'pos'?" in data["message"]
    result = runner.invoke(app, ["rewards", "check", str(path), "--task", "DroneHover"])
    assert result.exit_code == 2
    assert "rejected" in result.output and "state['position']" in result.output


def test_check_usage_errors_exit_1(tmp_path):
    result = runner.invoke(app, ["rewards", "check", str(tmp_path / "nope.py"), "--task", "X"])
    assert result.exit_code == 1
    path = tmp_path / "r.py"
    path.write_text(rewards.SPARSE_SOURCE)
    result = runner.invoke(app, ["rewards", "check", str(path), "--task", "DroneHovr"])
    assert result.exit_code == 1 and "Did you mean" in result.output


def test_show_state_lists_fields_with_units_and_meanings():
    result = runner.invoke(app, ["rewards", "show-state", "--task", "DroneObstacles"])
    assert result.exit_code == 0, result.output
    for needle in ("clearance", "obstacle_rel", "m/s", "goal_tolerance", "terms"):
        assert needle in result.output
    result = runner.invoke(app, ["rewards", "show-state", "--task", "ArmPickPlace", "--json"])
    data = json.loads(result.output)
    fields = {f["name"]: f for f in data["state_fields"]}
    assert fields["gripper_width"]["unit"] == "m" and fields["gripper_width"]["shape"] == []
    assert data["action"]["shape"] == [4]
    result = runner.invoke(app, ["rewards", "show-state", "--task", "DroneHover", "--prompt"])
    assert "`goal_rel` (3, m, world)" in result.output
