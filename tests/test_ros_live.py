"""Live ROS 2: the generated node runs on real rclpy, fed a bag's inputs over DDS.

rclpy and the message packages come from the community wheels on PyPI (ROS 2 Kilted, Python
3.11), installed into a separate virtual environment (``.venv/ros2``) so their ``.pth``
bootstrap hook never touches the main environment. The node and the harness run inside a
private network namespace (``unshare -n``) with discovery limited to localhost, so the test
neither sees nor disturbs any other ROS 2 graph on the machine.

The test is skipped, loudly, only when those wheels cannot be installed.
"""

from __future__ import annotations

import fcntl
import json
import os
import random
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from agentic_rl.export.simbag import record_sim
from ros_bridge.bags import command_of, read_bag
from ros_bridge.package import generate_package
from tests.test_ros_fixtures import hover_bundle, hover_run

__all__ = ["hover_bundle", "hover_run"]

REPO = Path(__file__).resolve().parent.parent
ROS_VENV = REPO / ".venv" / "ros2"
#: The Kilted wheels (rclpy 9.1, interfaces 5.5) the harness and node need.
ROS_WHEELS = [
    "ros-rclpy[fastrtps]>=9.1,<9.2",
    "ros-std-msgs>=5.5,<5.6",
    "ros-geometry-msgs>=5.5,<5.6",
    "ros-nav-msgs>=5.5,<5.6",
    "ros-sensor-msgs>=5.5,<5.6",
    "ros-diagnostic-msgs>=5.5,<5.6",
    "ros-std-srvs>=5.5,<5.6",
    "ros-trajectory-msgs>=5.5,<5.6",
    "numpy",
    "pyyaml",
    "rosbags>=0.10",
]
STEPS = 60

pytestmark = pytest.mark.slow


def _skip_loudly(reason: str) -> None:
    text = f"LIVE ROS 2 TEST SKIPPED: {reason}"
    print(f"\n{'!' * 80}\n{text}\n{'!' * 80}", file=sys.stderr)
    warnings.warn(text, stacklevel=2)
    pytest.skip(text)


def _python311() -> str | None:
    base = getattr(sys, "_base_executable", sys.executable)
    if sys.version_info[:2] == (3, 11):
        return base
    return shutil.which("python3.11")


def _ros_python() -> Path:
    """The ROS venv's python, created on first use (a lock keeps parallel runs apart)."""
    py = ROS_VENV / "bin" / "python"
    ROS_VENV.parent.mkdir(exist_ok=True)
    with open(ROS_VENV.parent / "ros2.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        ok = (
            py.exists()
            and subprocess.run(
                [str(py), "-c", "import rclpy, nav_msgs.msg, rosbags"], capture_output=True
            ).returncode
            == 0
        )
        if ok:
            return py
        base = _python311()
        if base is None:
            _skip_loudly("the ROS 2 Kilted wheels need Python 3.11, and none was found")
        shutil.rmtree(ROS_VENV, ignore_errors=True)
        subprocess.run([base, "-m", "venv", str(ROS_VENV)], check=True)
        proc = subprocess.run(
            [str(py), "-m", "pip", "install", "-q", *ROS_WHEELS],
            capture_output=True,
            text=True,
            timeout=1200,
        )
        if proc.returncode != 0:
            shutil.rmtree(ROS_VENV, ignore_errors=True)
            _skip_loudly(f"cannot install the ROS 2 wheels from PyPI: {proc.stderr[-1500:]}")
    return py


def _netns_prefix() -> list[str]:
    """``unshare`` arguments for a private network namespace (root, or a user namespace)."""
    for args in (["unshare", "-n"], ["unshare", "-rn"]):
        if (
            shutil.which("unshare")
            and subprocess.run([*args, "true"], capture_output=True).returncode == 0
        ):
            return args
    pytest.fail("cannot create a private network namespace (unshare -n / -rn): run as root")


def test_ros_venv_does_not_leak_into_the_main_environment():
    import site

    for d in site.getsitepackages():
        assert not list(Path(d).glob("ros_wheels*.pth")), f"ROS wheel hook found in {d}"
    assert "rclpy" not in sys.modules


def test_generated_node_runs_on_real_rclpy(hover_bundle, tmp_path):
    py = _ros_python()
    ns = _netns_prefix()
    pkg = generate_package(
        hover_bundle, "generic_drone", tmp_path / "ws" / "src", goal=[0.0, 0.0, 1.0]
    )
    bin_dir = Path(sys.executable).parent
    build = subprocess.run(
        [str(bin_dir / "colcon"), "build", "--event-handlers", "console_direct-"],
        cwd=tmp_path / "ws",
        env={**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert build.returncode == 0, build.stderr[-3000:]
    bag = tmp_path / "sim"
    record_sim(hover_bundle, bag, profile="generic_drone", episodes=1)
    out = tmp_path / "received.json"
    env = {
        k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONHOME", "PYTHONPATH")
    }
    env.update(
        PYTHONPATH=str(REPO),  # ros_bridge (numpy + yaml + rosbags) for the harness
        ROS_DOMAIN_ID=str(random.randint(1, 100)),
        ROS_LOCALHOST_ONLY="1",  # Humble..Jazzy spelling
        ROS_AUTOMATIC_DISCOVERY_RANGE="LOCALHOST",  # Jazzy and newer
        RMW_IMPLEMENTATION="rmw_fastrtps_cpp",
    )
    harness = (
        f"ip link set lo up && exec {py} -m ros_bridge.live_check"
        f" --prefix {tmp_path / 'ws' / 'install' / pkg.name} --package {pkg.name}"
        f" --profile generic_drone --bag {bag} --out {out} --steps {STEPS} --control-hz 48"
    )
    proc = subprocess.run(
        [*ns, "sh", "-c", harness], env=env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    result = json.loads(out.read_text())
    assert result["enable"] == "policy active", result["node_log"]
    assert {"READY", "ACTIVE"} <= {s.split(" ")[0].rstrip(":") for s in result["states"]}
    got = [
        np.array([o["msg"]["linear"][a] for a in "xyz"] + [o["msg"]["angular"]["z"]])
        for step in result["steps"]
        for o in step["outputs"]
    ]
    want = [command_of(m.type, m.msg) for m in read_bag(bag, ["/cmd_vel"])][:STEPS]
    assert len(got) == STEPS, f"{len(got)} commands for {STEPS} steps\n{result['node_log']}"
    err = max(float(np.abs(g - w).max()) for g, w in zip(got, want, strict=True))
    assert err < 1e-5, err
