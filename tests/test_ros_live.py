"""Live ROS 2: the generated node runs on real rclpy, driven over DDS by ``ros_bridge.live_check``.

rclpy and the standard message packages come from the community wheels on PyPI (ROS 2 Kilted,
Python 3.11), installed into a separate virtual environment (``.venv/ros2``) so their ``.pth``
bootstrap hook never touches the main environment. The message packages of the px4, crazyflie
and mavros profiles are built there once from the vendored definitions with the rosidl
generator wheels (:mod:`tests.ros_interfaces`). The node and the harness run inside a private
network namespace (``unshare -n``) with discovery limited to localhost, so the tests neither
see nor disturb any other ROS 2 graph on the machine.

* generic_drone: a record-sim bag's inputs -> the node's commands equal the simulator's.
* px4 (and mavros): the arming/Offboard gate, the heartbeat from READY, leaving Offboard or disarming ends
  ACTIVE, FALLBACK = position hold where the vehicle is, then NAV_LAND, then the stream stops.
* crazyflie: Hover.yaw_rate in rad/s (the core's value), and disable and FALLBACK both call
  notify_setpoints_stop + land well inside the firmware's 2 s setpoint timeout.

The tests are skipped, loudly, only when those wheels cannot be installed.
"""

from __future__ import annotations

import fcntl
import json
import math
import os
import random
import shutil
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from agentic_rl.export.simbag import record_sim
from ros_bridge.bags import build, command_of, read_bag
from ros_bridge.bundle import load_bundle
from ros_bridge.measurement import Measurement
from ros_bridge.package import generate_package
from ros_bridge.profiles import load_profile
from ros_bridge.robots import make_adapter
from ros_bridge.runtime import Runtime
from tests.ros_interfaces import ROSIDL_WHEELS, ensure_built
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
GOAL = [0.0, 0.0, 1.0]
#: A vehicle hovering off the goal, so an active policy commands something.
HOVER = Measurement(
    position=np.array([0.4, -0.3, 1.3]),
    orientation=np.array([0.0, 0.0, 0.0, 1.0]),
    velocity=np.zeros(3),
    body_rates=np.zeros(3),
)

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


def _pip(py: Path, wheels: list[str]) -> None:
    proc = subprocess.run(
        [str(py), "-m", "pip", "install", "-q", *wheels],
        capture_output=True,
        text=True,
        timeout=1200,
    )
    if proc.returncode != 0:
        _skip_loudly(f"cannot install the ROS 2 wheels from PyPI: {proc.stderr[-1500:]}")


def _ros_python(interfaces: list[str] = ()) -> Path:
    """The ROS venv's python, created on first use, with ``interfaces`` built into it (a lock
    keeps parallel runs apart)."""
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
        if not ok:
            base = _python311()
            if base is None:
                _skip_loudly("the ROS 2 Kilted wheels need Python 3.11, and none was found")
            shutil.rmtree(ROS_VENV, ignore_errors=True)
            subprocess.run([base, "-m", "venv", str(ROS_VENV)], check=True)
            _pip(py, ROS_WHEELS)
        if interfaces:
            if not (ROS_VENV / "share" / "ament_cmake_ros_core").is_dir():
                _pip(py, ROSIDL_WHEELS)
            ensure_built(py, list(interfaces))
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


def _live(
    bundle: Path,
    profile: str,
    tmp_path: Path,
    source: list[str],
    *,
    interfaces: list[str] = (),
    overrides: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Generate, colcon-build and run the node for ``profile`` under the live harness;
    ``source`` is the harness's ``--bag ...`` or ``--scenario ...`` arguments."""
    py = _ros_python(interfaces)
    ns = _netns_prefix()
    pkg = generate_package(bundle, profile, tmp_path / "ws" / "src", goal=GOAL, overrides=overrides)
    bin_dir = Path(sys.executable).parent
    built = subprocess.run(
        [str(bin_dir / "colcon"), "build", "--event-handlers", "console_direct-"],
        cwd=tmp_path / "ws",
        env={**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert built.returncode == 0, built.stderr[-3000:]
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
    hz = load_bundle(bundle).control_hz
    harness = (
        f"ip link set lo up && exec {py} -m ros_bridge.live_check"
        f" --prefix {tmp_path / 'ws' / 'install' / pkg.name} --package {pkg.name}"
        f" --profile {profile} --out {out} --control-hz {hz} {' '.join(map(str, source))}"
    )
    proc = subprocess.run(
        [*ns, "sh", "-c", harness], env=env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return json.loads(out.read_text())


def _scenario(tmp_path: Path, steps: list[dict[str, Any]]) -> list[str]:
    path = tmp_path / "scenario.json"
    path.write_text(json.dumps({"steps": steps}))
    return ["--scenario", path]


def _inputs(bundle: Path, profile: str, t: float, overrides: dict[str, Any]) -> list[list[Any]]:
    """The profile's input messages (role, fields) for the vehicle hovering at ``HOVER``."""
    adapter = make_adapter(load_profile(profile).with_overrides(overrides), load_bundle(bundle))
    return [[role, fields] for role, fields in adapter.encode_inputs(HOVER, t)]


def _state(step: dict[str, Any]) -> str:
    return step["state"].split(" ")[0].rstrip(":")


def test_ros_venv_does_not_leak_into_the_main_environment():
    import site

    for d in site.getsitepackages():
        assert not list(Path(d).glob("ros_wheels*.pth")), f"ROS wheel hook found in {d}"
    assert "rclpy" not in sys.modules


def test_generated_node_runs_on_real_rclpy(hover_bundle, tmp_path):
    bag = tmp_path / "sim"
    record_sim(hover_bundle, bag, profile="generic_drone", episodes=1)
    result = _live(hover_bundle, "generic_drone", tmp_path, ["--bag", bag, "--steps", STEPS])
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


# ---------------------------------------------------------------------------------------- PX4
DISARMED = {"arming_state": 1, "nav_state": 14}
POSCTL = {"arming_state": 2, "nav_state": 2}  # armed, but the pilot flies (Position mode)
OFFBOARD = {"arming_state": 2, "nav_state": 14}
PX4_OVERRIDES = {"params.land_after_s": 0.5, "safety.fallback_s": 1.0}


def _phases(
    bundle: Path,
    profile: str,
    overrides: dict[str, Any],
    phases: list[tuple],
    status_role: str = "vehicle_status",
) -> tuple[list[dict[str, Any]], list[str]]:
    """Scenario steps from (name, ticks, status patch, call on the first tick, send the
    state); returns the steps and each step's phase name."""
    steps, names = [], []
    dt = 1.0 / load_bundle(bundle).control_hz
    for name, ticks, status, call, send_state in phases:
        for i in range(ticks):
            t = 1000.0 + len(steps) * dt
            inputs = []
            for role, fields in _inputs(bundle, profile, t, overrides):
                if role == status_role:
                    inputs.append([role, {**fields, **status}])
                elif send_state:
                    inputs.append([role, fields])
            steps.append({"inputs": inputs, "call": call if i == 0 else None})
            names.append(name)
    return steps, names


def _offline(
    bundle: Path, profile: str, overrides: dict[str, Any], steps: list[dict[str, Any]]
) -> list[dict[str, list[dict[str, Any]]]]:
    """Per step, what the runtime core sends (role -> field dicts) when fed the same steps on
    the harness's clock: inputs at the previous step's time, then the call, then the tick."""
    from ros_bridge.live_check import T0_NS

    prof = load_profile(profile).with_overrides(overrides)
    rt = Runtime(load_bundle(bundle), prof, goal=GOAL, backend="numpy")
    dt_ns = int(1e9 / rt.bundle.control_hz) + 1
    out = []
    for i, step in enumerate(steps):
        t_prev = (T0_NS + i * dt_ns) * 1e-9
        for role, fields in step["inputs"]:
            rt.on_message(role, build(prof.inputs[role].type, fields), t_prev)
        if step["call"] == "enable":
            rt.enable(t_prev)
        elif step["call"] == "disable":
            rt.disable(t_prev)
        sent: dict[str, list[dict[str, Any]]] = {}
        for o in rt.tick((T0_NS + (i + 1) * dt_ns) * 1e-9):
            sent.setdefault(o.role, []).append(o.data)
        out.append(sent)
    return out


def _by_role(step: dict[str, Any], role: str) -> list[dict[str, Any]]:
    return [o["msg"] for o in step["outputs"] if o["role"] == role]


def test_px4_gating_heartbeat_and_fallback_on_real_rclpy(hover_bundle, tmp_path):
    phases = [
        ("disarmed", 12, DISARMED, None, True),
        ("enable disarmed", 4, DISARMED, "enable", True),
        ("enable in Position mode", 4, POSCTL, "enable", True),
        ("active", 10, OFFBOARD, "enable", True),
        ("pilot took over", 5, POSCTL, None, True),
        ("active again", 8, OFFBOARD, "enable", True),
        ("disarmed in flight", 5, DISARMED, None, True),
        ("active before the fault", 8, OFFBOARD, "enable", True),
        ("odometry lost", 70, OFFBOARD, None, False),
    ]
    steps, names = _phases(hover_bundle, "px4", PX4_OVERRIDES, phases)
    result = _live(
        hover_bundle,
        "px4",
        tmp_path,
        _scenario(tmp_path, steps),
        interfaces=["px4_msgs"],
        overrides=PX4_OVERRIDES,
    )
    got, log = result["steps"], result["node_log"]
    first = {n: names.index(n) for n in dict.fromkeys(names)}
    answer = {n: got[i]["response"] for n, i in first.items() if steps[i]["call"]}
    assert answer["enable disarmed"][0] is False and "disarmed" in answer["enable disarmed"][1]
    assert answer["enable in Position mode"][0] is False
    assert "mode" in answer["enable in Position mode"][1]
    for n in ("active", "active again", "active before the fault"):
        assert answer[n] == [True, "policy active"], (n, answer[n], log)
    # A disarmed vehicle, or one outside Offboard, never flies the policy: leaving either ends
    # ACTIVE on the very tick the status arrives.
    for step, got_step in zip(steps, got, strict=True):
        status = next(f for r, f in step["inputs"] if r == "vehicle_status")
        if (status["arming_state"], status["nav_state"]) != (2, 14):
            assert _state(got_step) != "ACTIVE", (got_step, log)
    assert _state(got[first["pilot took over"]]) == "READY"
    assert _state(got[first["disarmed in flight"]]) == "READY"
    active = [g for n, g in zip(names, got, strict=True) if n == "active"]
    assert all(_state(g) == "ACTIVE" for g in active)
    # ACTIVE: the policy's velocity setpoints, exactly as the runtime core computes them
    want = _offline(hover_bundle, "px4", PX4_OVERRIDES, steps)
    for g, w in zip(got, want, strict=True):
        if _state(g) == "ACTIVE":
            (sp,) = _by_role(g, "setpoint")
            np.testing.assert_allclose(sp["velocity"], w["setpoint"][0]["velocity"], atol=1e-5)
    moving = [
        w["setpoint"][0]["velocity"] for n, w in zip(names, want, strict=True) if n == "active"
    ]
    assert np.abs(moving).max() > 1e-3, "the policy never moved: nothing was compared"
    # The heartbeat and a zero-velocity setpoint stream on every READY tick, before the first
    # enable too (PX4 accepts the switch to Offboard only while they arrive).
    ready = [g for g in got if _state(g) == "READY"]
    assert _state(ready[0]) == "READY" and got.index(ready[0]) < first["enable disarmed"]
    for g in ready:
        (mode,) = _by_role(g, "offboard_mode")
        (sp,) = _by_role(g, "setpoint")
        assert mode["velocity"] and not mode["position"], mode
        assert "thrust_and_torque" in mode  # the v1.15+ layout of the profile's default
        assert sp["velocity"] == [0.0, 0.0, 0.0], sp
        assert abs(mode["timestamp"] - g["t"] * 1e6) <= 1.0  # this tick's, in microseconds
    # Odometry lost: FALLBACK holds position where the vehicle is, lands after land_after_s,
    # and the stream ends at fallback_s (PX4's offboard-loss failsafe then takes over).
    lost = first["odometry lost"]
    fb = next(i for i in range(lost, len(got)) if _state(got[i]) == "FALLBACK")
    dt = got[1]["t"] - got[0]["t"]
    assert got[fb]["t"] - got[lost - 1]["t"] <= 0.2 + 2 * dt + 1e-6
    x, y, z = HOVER.position
    hold_ned = [y, x, -z]
    land = [i for i, g in enumerate(got) if _by_role(g, "command")]
    assert len(land) == 1, land
    (cmd,) = _by_role(got[land[0]], "command")
    assert cmd["command"] == 21 and cmd["target_system"] == 1  # VEHICLE_CMD_NAV_LAND
    assert 0.5 - 1e-6 <= got[land[0]]["t"] - got[fb]["t"] <= 0.5 + dt + 1e-6
    stopped = next(i for i in range(fb, len(got)) if _state(got[i]) == "STOPPED")
    assert 1.0 - 1e-6 <= got[stopped]["t"] - got[fb]["t"] <= 1.0 + dt + 1e-6
    for g in got[fb:stopped]:
        (mode,) = _by_role(g, "offboard_mode")
        (sp,) = _by_role(g, "setpoint")
        assert mode["position"] and not mode["velocity"], mode
        np.testing.assert_allclose(sp["position"], hold_ned, atol=1e-6)
        assert all(math.isnan(v) for v in sp["velocity"])
        assert sp["yaw"] == pytest.approx(math.pi / 2, abs=1e-6)  # ENU yaw 0 = facing east
    assert not any(g["outputs"] for g in got[stopped:]), "the stream must end after FALLBACK"


# ----------------------------------------------------------------------------------- Crazyflie
CF_OVERRIDES = {"params.command": "cmd_hover"}


def test_crazyflie_lands_on_disable_and_fallback_on_real_rclpy(hover_bundle, tmp_path):
    phases = [
        ("ready", 8, {}, None, True),
        ("active", 12, {}, "enable", True),
        ("disabled", 6, {}, "disable", True),
        ("active again", 6, {}, "enable", True),
        ("odometry lost", 24, {}, None, False),
    ]
    steps, names = _phases(hover_bundle, "crazyflie", CF_OVERRIDES, phases)
    result = _live(
        hover_bundle,
        "crazyflie",
        tmp_path,
        _scenario(tmp_path, steps),
        interfaces=["crazyflie_interfaces"],
        overrides=CF_OVERRIDES,
    )
    got, log = result["steps"], result["node_log"]
    first = {n: names.index(n) for n in dict.fromkeys(names)}
    assert got[first["active"]]["response"] == [True, "policy active"], log
    assert got[first["disabled"]]["response"] == [True, "policy disabled"], log
    want = [
        w["cmd_hover"][0]["yaw_rate"] if "cmd_hover" in w else None
        for w in _offline(hover_bundle, "crazyflie", CF_OVERRIDES, steps)
    ]
    last_setpoint = None
    landings = []
    for i, (name, g) in enumerate(zip(names, got, strict=True)):
        hover = _by_role(g, "cmd_hover")
        if _state(g) == "ACTIVE":
            # yaw rate in rad/s, as both Crazyswarm2 servers expect: the core's value, within
            # the policy's rad/s bound (a deg/s value would be 57 times larger)
            assert len(hover) == 1 and want[i] is not None, (name, g)
            assert hover[0]["yaw_rate"] == pytest.approx(want[i], abs=1e-5)
            assert abs(hover[0]["yaw_rate"]) <= math.pi / 2 + 1e-6
            last_setpoint = g["t"]
        else:
            assert not hover, (name, g)  # no setpoints outside ACTIVE: the firmware's hold
        if g["services"]:
            landings.append(i)
            roles = [c["role"] for c in g["services"]]
            assert sorted(roles) == ["land", "notify_setpoints_stop"], roles
            land = next(c["request"] for c in g["services"] if c["role"] == "land")
            assert land["height"] == 0.0 and land["duration"] == {"sec": 2, "nanosec": 0}
            # handed back to the high-level commander long before the 2 s setpoint timeout
            assert g["t"] - last_setpoint < 0.5, (g["t"], last_setpoint)
    assert any(w not in (None, 0.0) for w in want), "the policy never turned: no yaw-rate check"
    fb = next(i for i, g in enumerate(got) if _state(g) == "FALLBACK")
    assert landings == [first["disabled"], fb], (landings, log)


# -------------------------------------------------------------------------------------- MAVROS
MAVROS_OVERRIDES = {"params.land_after_s": 0.5, "safety.fallback_s": 1.0}


def test_mavros_gating_and_fallback_hold_then_land_on_real_rclpy(hover_bundle, tmp_path):
    pos = {"mode": "POSCTL"}
    off = {"mode": "OFFBOARD"}
    phases = [
        ("ready", 8, pos, None, True),
        ("enable in Position mode", 4, pos, "enable", True),
        ("active", 8, off, "enable", True),
        ("odometry lost", 60, off, None, False),
    ]
    steps, names = _phases(hover_bundle, "mavros", MAVROS_OVERRIDES, phases, status_role="state")
    result = _live(
        hover_bundle,
        "mavros",
        tmp_path,
        _scenario(tmp_path, steps),
        interfaces=["mavros_msgs"],
        overrides=MAVROS_OVERRIDES,
    )
    got, log = result["steps"], result["node_log"]
    first = {n: names.index(n) for n in dict.fromkeys(names)}
    refused = got[first["enable in Position mode"]]["response"]
    assert refused[0] is False and "POSCTL" in refused[1], refused
    assert got[first["active"]]["response"] == [True, "policy active"], log
    for name, g in zip(names, got, strict=True):
        if name != "active" and name != "odometry lost":
            assert _state(g) != "ACTIVE"
        if _state(g) == "READY":  # zero-velocity setpoints stream before the enable
            (tw,) = _by_role(g, "cmd_vel")
            assert tw["twist"]["linear"] == {"x": 0.0, "y": 0.0, "z": 0.0}
    fb = next(i for i, g in enumerate(got) if _state(g) == "FALLBACK")
    stopped = next(i for i in range(fb, len(got)) if _state(got[i]) == "STOPPED")
    x, y, z = HOVER.position
    for g in got[fb:stopped]:  # a position hold where the vehicle is, no velocity setpoints
        (sp,) = _by_role(g, "position_setpoint")
        assert sp["pose"]["position"] == pytest.approx({"x": x, "y": y, "z": z})
        assert not _by_role(g, "cmd_vel")
    lands = [i for i, g in enumerate(got) if g["services"]]
    assert len(lands) == 1, (lands, log)
    (call,) = got[lands[0]]["services"]
    assert call["role"] == "land" and math.isnan(call["request"]["latitude"])
    assert 0.5 - 1e-6 <= got[lands[0]]["t"] - got[fb]["t"] <= 0.5 + 0.03
    assert not any(g["outputs"] for g in got[stopped:])
