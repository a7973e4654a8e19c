"""``agentic-rl train`` and ``agentic-rl eval`` end to end, through the real console app."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from agentic_rl.cli import app

runner = CliRunner()


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    result = runner.invoke(
        app,
        [
            "train", "--task", "DroneHover", "--reward", "sparse", "--steps", "512",
            "--seed", "3", "--preset", "smoke", "--set", "eval_episodes=2",
            "--out", str(out), "--no-progress", "--json",
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["steps"] == 512 and summary["seed"] == 3
    return out


def test_train_writes_a_resumable_run(run_dir):
    saved = json.loads((run_dir / "config.json").read_text())
    assert saved["ppo"]["seed"] == 3 and saved["reward"] == "sparse"
    assert (run_dir / "checkpoint.pt").is_file() and (run_dir / "policy.npz").is_file()


def test_resume_picks_up_the_runs_own_config_and_reward(run_dir):
    # no --reward, --steps or --seed: a resumed run takes them from its folder
    result = runner.invoke(
        app, ["train", "--task", "DroneHover", "--out", str(run_dir), "--resume", "--json"]
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["reward"] == "sparse" and summary["steps"] == 512 and summary["seed"] == 3


def test_eval_reports_success_reasons_and_metrics(run_dir):
    result = runner.invoke(
        app, ["eval", "--checkpoint", str(run_dir), "--episodes", "3", "--randomized", "--json"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert len(report["seeds"]) == 3 and report["randomized"] is True
    assert sum(report["termination_reasons"].values()) == 3
    assert "final_distance" in report["mean_metrics"]


def test_eval_writes_a_gif(run_dir, tmp_path):
    gif = tmp_path / "hover.gif"
    result = runner.invoke(
        app,
        ["eval", "--checkpoint", str(run_dir / "checkpoint.pt"), "--episodes", "1",
         "--video", str(gif)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    from PIL import Image

    with Image.open(gif) as img:
        assert img.n_frames > 100  # one whole episode (8 s at 48 Hz)


def test_unknown_task_and_bad_override_give_helpful_errors():
    result = runner.invoke(app, ["train", "--task", "DroneHovr", "--reward", "sparse"])
    assert result.exit_code != 0 and "Did you mean" in result.output
    result = runner.invoke(
        app, ["train", "--task", "DroneHover", "--reward", "sparse", "--set", "gama=0.9"]
    )
    assert result.exit_code != 0 and "gamma" in result.output


def test_eval_of_a_missing_checkpoint_fails_cleanly(tmp_path):
    result = runner.invoke(app, ["eval", "--checkpoint", str(tmp_path)])
    assert result.exit_code != 0 and "checkpoint.pt" in result.output
