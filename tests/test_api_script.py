"""The Python API works from a plain script, with no ``if __name__ == "__main__":`` guard.

The reward pipeline starts child processes (the smoke run, guarded workers); they must not
import the caller's main module, or a script that calls the API at module level would run
again inside every child (multiprocessing's "bootstrapping phase" error).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _readme_training_snippet() -> str:
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    (snippet,) = [b for b in blocks if "train(make_config(" in b]
    return snippet


@pytest.mark.slow
def test_readme_training_snippet_runs_as_a_plain_script(tmp_path):
    snippet = _readme_training_snippet()
    # The README's code, verbatim except for a budget small enough for a test.
    small = snippet.replace("seed=1)", "seed=1, total_steps=1024, num_envs=4, num_steps=64)")
    small = small.replace("range(100)", "range(2)")
    assert small != snippet and "if __name__" not in small
    script = tmp_path / "train_hover.py"
    script.write_text(small)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert "bootstrapping" not in out.stderr
    assert (tmp_path / "runs" / "hover" / "config.json").exists()
