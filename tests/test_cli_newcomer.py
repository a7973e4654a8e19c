"""The CLI as a newcomer meets it: bad input gives a one-line error, never a traceback;
``--help`` and ``tasks`` fit an 80-column terminal; no library warning reaches the console.

Every subcommand is driven in ONE child process (imports are paid once) through the console
script's own ``main()``, so the last-line-of-defence handler is what is under test.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.test_ros_fixtures import random_policy

REPO = Path(__file__).resolve().parents[1]

# Runs each argv through agentic_rl.cli.main() and reports exit code and console text.
DRIVER = textwrap.dedent(
    """
    import contextlib, io, json, sys
    from agentic_rl.cli import main
    out = []
    for argv in json.loads(sys.argv[1]):
        sys.argv = ["agentic-rl", *argv]
        buf_out, buf_err = io.StringIO(), io.StringIO()
        code = 0
        with contextlib.redirect_stdout(buf_out), contextlib.redirect_stderr(buf_err):
            try:
                main()
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        out.append({"argv": argv, "code": code, "out": buf_out.getvalue(),
                    "err": buf_err.getvalue()})
    print(json.dumps(out))
    """
)


def _drive(argvs: list[list[str]], tmp_path: Path, columns: int = 80) -> list[dict]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONWARNINGS", "AGENTIC_RL_DEBUG")}
    env.update(COLUMNS=str(columns), TERM="dumb", NO_COLOR="1")
    proc = subprocess.run(
        [sys.executable, "-c", DRIVER, json.dumps(argvs)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    # Anything written around the redirected calls (e.g. by native code) still counts.
    assert "Traceback" not in proc.stderr and "Warning" not in proc.stderr, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.fixture()
def junk(tmp_path: Path) -> dict[str, str]:
    """Files a newcomer might hand to the wrong option."""
    text = tmp_path / "notes.txt"
    text.write_text("these are my notes, not a bag or a checkpoint\n")
    fake_png = tmp_path / "scene.png"
    fake_png.write_text("not an image")
    fake_pt = tmp_path / "checkpoint.pt"
    fake_pt.write_bytes(b"\x00\x01garbage")
    prose = tmp_path / "reward.py"
    prose.write_text("Here is a reward that makes the drone hover: reward = -distance\n")
    empty = tmp_path / "empty_dir"
    empty.mkdir()
    # a run folder of a custom task written before runs recorded the class path
    old_run = tmp_path / "old_run"
    old_run.mkdir()
    random_policy(12, 4, seed=0).save(old_run / "policy.npz")
    (old_run / "config.json").write_text(json.dumps({"task_id": "mine/Gone-v0"}))
    return {
        "old_run": str(old_run),
        "text": str(text),
        "png": str(fake_png),
        "pt": str(fake_pt),
        "prose": str(prose),
        "empty": str(empty),
        "missing": str(tmp_path / "does_not_exist"),
        "out": str(tmp_path / "out"),
        "lib": str(tmp_path / "lib"),
    }


def test_every_subcommand_answers_bad_input_with_a_message_not_a_traceback(tmp_path, junk):
    j = junk
    cases = [
        ["refine", "--task", "NoSuchTask"],
        ["refine", "--config", j["missing"] + ".yaml"],
        ["refine", "--config", j["text"]],
        ["refine", "--resume", j["missing"]],
        ["refine", "--task", "DroneHover", "--iterations", "0", "--steps", "-5"],
        ["report", j["missing"]],
        ["report", j["empty"]],
        ["train", "--task", "NoSuchTask"],
        ["train", "--task", "DroneHover", "--reward", j["missing"] + ".py"],
        ["train", "--task", "DroneHover", "--reward", j["prose"], "--steps", "1000"],
        ["train", "--task", "DroneHover", "--set", "learning_rate=fast", "--steps", "1000"],
        ["eval", "--checkpoint", j["missing"]],
        ["eval", "--checkpoint", j["pt"]],
        ["eval", "--checkpoint", j["old_run"] + "/policy.npz"],
        ["eval", "--checkpoint", j["old_run"] + "/policy.npz", "--task", "NoSuchTask"],
        ["export", "--run", j["old_run"], "--out", j["out"]],
        ["robustness", "--bundle", j["old_run"]],
        ["tasks", "check", "nosuchmod:X"],
        ["export", "--run", j["missing"], "--out", j["out"]],
        ["export", "--run", j["empty"], "--out", j["out"]],
        ["select", "--image", j["missing"] + ".png", "--library", j["lib"]],
        ["select", "--image", j["png"], "--library", j["lib"]],
        ["robustness", "--bundle", j["missing"]],
        ["robustness", "--bundle", j["empty"]],
        ["rewards", "check", j["missing"], "--task", "DroneHover"],
        ["rewards", "check", j["prose"], "--task", "NoSuchTask"],
        ["rewards", "show-state", "--task", "NoSuchTask"],
        ["ros", "package", "--bundle", j["missing"], "--profile", "px4", "--out", j["out"]],
        ["ros", "package", "--bundle", j["empty"], "--profile", "nosuch", "--out", j["out"]],
        ["ros", "record-sim", "--bundle", j["empty"], "--out", j["out"]],
        ["ros", "replay", "--bundle", j["empty"], "--bag", j["missing"], "--out", j["out"]],
        ["ros", "compare", "--real", j["missing"], "--sim", j["missing"]],
        ["ros", "compare", "--real", j["text"], "--sim", j["text"]],
        ["library", "add", j["missing"], "--library", j["lib"]],
        ["library", "remove", "nosuch", "--library", j["lib"]],
        ["library", "train-selector", "--library", j["lib"]],
        ["library", "ros-package", "--profile", "px4", "--out", j["out"], "--library", j["lib"]],
    ]
    results = _drive(cases, tmp_path)
    problems = []
    for r in results:
        text = r["out"] + r["err"]
        if r["code"] == 0:
            problems.append(f"{r['argv']}: exit 0 on bad input")
        if "Traceback" in text or 'File "' in text:
            problems.append(f"{r['argv']}: traceback:\n{text[-1500:]}")
        if "unexpected" in text and "agentic-rl: unexpected" in text:
            problems.append(f"{r['argv']}: reached the last-resort handler:\n{text[-800:]}")
        if not text.strip():
            problems.append(f"{r['argv']}: failed without a word")
        if "\u274c" in text:  # rich's emoji for ':x:' in a user's 'nosuchmod:X:'
            problems.append(f"{r['argv']}: user text printed as an emoji:\n{text[-800:]}")
    assert not problems, "\n".join(problems)


def test_help_and_task_list_fit_80_columns_without_warnings(tmp_path):
    groups = [[], ["rewards"], ["ros"], ["library"]]
    commands = [
        ["refine"], ["report"], ["tasks"], ["train"], ["eval"], ["export"], ["select"],
        ["robustness"], ["rewards", "check"], ["rewards", "show-state"], ["ros", "package"],
        ["ros", "record-sim"], ["ros", "replay"], ["ros", "compare"], ["library", "add"],
        ["library", "list"],
    ]  # fmt: skip
    argvs = [[*g, "--help"] for g in groups] + [[*c, "--help"] for c in commands] + [["tasks"]]
    results = _drive(argvs, tmp_path, columns=80)
    for r in results:
        assert r["code"] == 0, r
        text = r["out"] + r["err"]
        assert "warning" not in text.lower() or r["argv"] == ["tasks"], text
        too_wide = [line for line in text.splitlines() if len(line) > 80]
        assert not too_wide, f"{r['argv']}: lines over 80 columns:\n" + "\n".join(too_wide)
    tasks_out = results[-1]["out"]
    assert "agentic_rl/DroneWallLanding-v0" in tasks_out and "ArmPickPlace" in tasks_out
    # the goal sentence is printed whole (wrapped), not cut to an ellipsis
    assert "…" not in tasks_out


def test_unexpected_errors_leave_a_traceback_file_and_one_line(tmp_path):
    """A bug inside a command still ends in a message; the traceback goes to a file."""
    script = textwrap.dedent(
        """
        import sys
        import agentic_rl.cli as cli
        @cli.app.command("boom")
        def boom() -> None:
            raise RuntimeError("something broke inside")
        sys.argv = ["agentic-rl", "boom"]
        cli.main()
        """
    )
    env = {k: v for k, v in os.environ.items() if k != "AGENTIC_RL_DEBUG"}
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120
    )
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert "unexpected RuntimeError: something broke inside" in proc.stderr
    path = proc.stderr.split("traceback is in ")[1].split(";")[0]
    assert "RuntimeError" in Path(path).read_text()
    Path(path).unlink()
