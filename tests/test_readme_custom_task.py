"""The README's custom-task walk-through works as written: its Crazyflie example, copied
verbatim from the README into a fresh package, passes `agentic-rl tasks check` and trains."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _blocks() -> dict[str, str]:
    """The README's custom-task code blocks that start with a '# <file>.py' line."""
    text = (ROOT / "README.md").read_text()
    section = text[text.index("### Custom tasks") : text.index("### Speed")]
    out = {}
    for block in re.findall(r"```python\n(.*?)```", section, flags=re.S):
        first = block.splitlines()[0]
        m = re.match(r"# (\w+\.py)\b", first)
        if m:
            out[m.group(1)] = block
    return out


def test_readme_drone_example_runs_as_written(tmp_path):
    blocks = _blocks()
    assert set(blocks) == {"observe.py", "task.py"}
    pkg = tmp_path / "agentic_rl_altitude"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    for name, code in blocks.items():
        (pkg / name).write_text(code)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)])}
    task = "agentic_rl_altitude.task:DroneAltitude"
    out = subprocess.run(
        [sys.executable, "-m", "agentic_rl.cli", "tasks", "check", task],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=300,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "ready to train" in out.stdout


def _section() -> str:
    text = (ROOT / "README.md").read_text()
    return text[text.index("### Custom tasks") : text.index("### Speed")]


def test_readme_names_the_deploy_hooks_and_the_imports_a_newcomer_needs():
    section = _section()
    for word in ("command_model", "from_measurement", "to_measurement", "track", "joint_group",
                 '"effort"', '"velocity"', "--reward"):  # fmt: skip
        assert word in section, word
    (imports,) = [b for b in re.findall(r"```python\n(.*?)```", section, flags=re.S)
                  if b.startswith("from sims import SimTask")]  # fmt: skip
    code = subprocess.run([sys.executable, "-c", imports], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=120)  # fmt: skip
    assert code.returncode == 0, code.stderr[-2000:]
    for name in ("TaskSpec", "ActionSpec", "TerminationReason", "Hazard", "RandomParam"):
        assert name in imports


def test_readme_task_to_robot_commands_parse_with_the_real_cli():
    """Every command of the 'From task to robot' block names options the CLI has, and the
    block goes through train, refine, export, ros package, record-sim and replay."""
    import shlex

    import typer

    from agentic_rl.cli import app

    section = _section()
    block = section[section.index("**From task to robot**") :]
    block = re.search(r"```bash\n(.*?)```", block, flags=re.S).group(1)
    seen = []
    for line in block.splitlines():
        argv = shlex.split(line, comments=True)
        assert argv[0] == "agentic-rl", line
        cmd, args = typer.main.get_command(app), argv[1:]
        while hasattr(cmd, "commands"):  # a command group
            seen.append(args[0])
            cmd, args = cmd.commands[args[0]], args[1:]
        cmd.make_context(cmd.name, list(args))  # raises on an unknown or missing option
    for step in ("train", "refine", "export", "package", "record-sim", "replay"):
        assert step in seen, step
