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
