"""Build a generated ROS 2 package with colcon, the way its README says, for the package tests."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path


def colcon_build(package: Path, workspace: Path) -> Path:
    """Copy ``package`` into ``workspace/src``, build it and return its install prefix.

    Runs exactly the command the generated README gives (``colcon build --packages-select``)
    with the test interpreter's ``bin`` first on ``PATH``; fails the test with colcon's
    output when the build fails.
    """
    shutil.copytree(package, workspace / "src" / package.name)
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    proc = subprocess.run(
        [
            str(bin_dir / "colcon"),
            "build",
            "--packages-select",
            package.name,
            "--event-handlers",
            "console_direct-",
        ],
        cwd=workspace,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return workspace / "install" / package.name


def run_installed(code: str, *args: str | Path) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in an isolated interpreter (``python -I``: no repository, no user site),
    so only what the install tree holds can be imported; ``args`` become ``sys.argv[1:]``."""
    return subprocess.run(
        [sys.executable, "-I", "-c", code, *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
    )
