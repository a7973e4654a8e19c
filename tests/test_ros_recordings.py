"""Real recordings: vendored definitions against upstream, and bags built the way robots write them.

The PX4 bags here are written as ``ros2 bag record`` writes them on a robot: MCAP with the
message definitions of the PX4 release on board embedded (v1.16 here, whose VehicleStatus
differs from the vendored v1.15 one), or a Humble sqlite3 bag with no definitions at all. Their
content is what hardware logs hold: a disarmed vehicle carried by hand (63 degrees of roll),
quaternions whose sign flips, visual-odometry velocity spikes, estimator resets.
"""

from __future__ import annotations

import hashlib
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from agentic_rl.cli import app
from ros_bridge import frames, load_bundle, load_profile
from ros_bridge.bags import BagError, command_of, compare, read_bag, replay, typestore
from ros_bridge.bundle import BundleError
from ros_bridge.msgdefs import INTERFACES, definitions, upstream
from tests.test_ros_fixtures import hover_bundle, hover_run

__all__ = ["hover_bundle", "hover_run"]

UPSTREAM_DATA = Path(__file__).parent / "data" / "px4_msgs_upstream"
#: RIHS01 type hashes of the upstream definitions (PX4/px4_msgs v1.15.4, crazyswarm2, mavros
#: 2.12.0), computed from the upstream files when they were vendored.
UPSTREAM_RIHS01 = {
    "px4_msgs/msg/VehicleOdometry": "4295b96ad312084aa35c84bdcec65ba2f57eb4f6a293d57d52d95acbe99ff817",
    "px4_msgs/msg/VehicleLocalPosition": "d7958e559f8434b5af0f4ee73139f08ba52174f4dfae724a18caa608597f820b",
    "px4_msgs/msg/VehicleAttitude": "9af74ac6c01335f3a8612e3579d4eaa89a9d81550d933ed057f5d6252dc7e50c",
    "px4_msgs/msg/VehicleStatus": "cea1c125c9ecf78934ef9829ab070231fb3cd1b7cc502abcb66740363d1426c0",
    "px4_msgs/msg/OffboardControlMode": "e87463f252f320d2f197d1feadd643b8645e5ef53a2b158dccfdf11372e00f9f",
    "px4_msgs/msg/TrajectorySetpoint": "9a7deb0cb7db5e52b441169a284b90188c4efdf06b302d55cb1db33ca0358c1a",
    "px4_msgs/msg/VehicleCommand": "1f0ab537807e2e20e04826633ea2c52e5431bea8eb0187152ff23bd07f1dd30b",
    "px4_msgs/msg/VehicleAngularVelocity": "a9085b1ed1b428c4e7a6c7f5564f3c0b026de1c5791c3362dd1982092a7699da",
    "crazyflie_interfaces/msg/Hover": "25174c75e2d9b9cce22d06151519f4797623067832701966ff555b861546db7b",
    "crazyflie_interfaces/msg/FullState": "bd2e17994c6bec891c6ea8232010a47ecd291bc282ef452814229fd9297ba56f",
    "mavros_msgs/msg/State": "11ba7686163d22281871f1cb42557e8957407469b0be813bdb1a8922c66e3131",
    # service requests (as the runtime writes them to bags), from the rosidl generators' own
    # type description of the vendored files (tests/ros_interfaces.py builds)
    "mavros_msgs/srv/CommandTOL_Request": "1951417193611bfb7fb13a244647476c2180ec1f8c80a78aa59b675612e3822e",
    "crazyflie_interfaces/srv/Land_Request": "fb3a031f3ed00f8b0dc357ebc39166c1de4070c427e062e660648f1d5bbc1a4d",
}
DT = 0.01  # PX4 publishes odometry at ~100 Hz


def git_blob(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def test_vendored_files_are_the_upstream_files():
    sources = upstream()
    files = sorted(p for p in INTERFACES.rglob("*") if p.suffix in (".msg", ".srv"))
    assert len(files) == len(sources) >= 20
    for path in files:
        rel = path.relative_to(INTERFACES).as_posix()
        assert git_blob(path.read_bytes()) == sources[rel]["git_blob"], rel


@pytest.mark.parametrize("name", sorted(UPSTREAM_RIHS01))
def test_type_hashes_match_upstream(name):
    assert typestore().hash_rihs01(name) == "RIHS01_" + UPSTREAM_RIHS01[name]


def test_offboard_control_mode_layout_per_px4_release():
    assert "bool actuator" in definitions("1.14")["px4_msgs/msg/OffboardControlMode"]
    assert "bool direct_actuator" in definitions("1.15")["px4_msgs/msg/OffboardControlMode"]
    assert definitions("1.17") == definitions("1.15")
    with pytest.raises(ValueError, match=r"v1\.14 and newer"):
        definitions("1.13")


# ------------------------------------------------------------------ bags as robots write them
def _store(extra: dict[str, str]):
    """Humble's types + the vendored ones, with ``extra`` (name -> .msg text) replacing them."""
    from rosbags.typesys import Stores, get_types_from_msg, get_typestore

    types = dict(typestore().fielddefs)
    for name, text in extra.items():
        types.update(get_types_from_msg(text, name))
    ts = get_typestore(Stores.EMPTY)
    ts.register(types)
    return ts


def _write(path: Path, store, messages: list[tuple[str, str, float, dict]], storage: str) -> None:
    """Write (topic, type, t, fields) as a rosbag2, definitions embedded as by ros2 bag record."""
    import rosbags.rosbag2 as rb

    from ros_bridge.bags.io import _downgrade_to_humble

    plugin = rb.StoragePlugin.MCAP if storage == "mcap" else rb.StoragePlugin.SQLITE3
    with rb.Writer(path, version=8, storage_plugin=plugin) as writer:
        conns = {}
        for topic, typename, t, fields in messages:
            if topic not in conns:
                conns[topic] = writer.add_connection(topic, typename, typestore=store)
            cls = store.types[typename]
            defaults = {n: _default(store, k, s) for n, (k, s) in store.fielddefs[typename][1]}
            msg = cls(**{**defaults, **fields})
            writer.write(conns[topic], round(t * 1e9), store.serialize_cdr(msg, typename))
    if storage == "sqlite3-humble":
        _downgrade_to_humble(path)


def _default(store, kind, spec):
    if kind.name == "BASE":
        return "" if spec[0] == "string" else 0
    if kind.name == "NAME":
        _, fields = store.fielddefs[spec]
        return store.types[spec](**{n: _default(store, k, s) for n, (k, s) in fields})
    (_, espec), count = spec
    dtype = {"float32": np.float32, "float64": np.float64, "bool": np.bool_}.get(espec[0], np.uint8)
    return np.zeros(count, dtype)


def _hardware_log(disarmed_s: float = 4.0, flight_s: float = 4.0) -> list[tuple]:
    """A PX4 v1.16 log: disarmed and carried by hand, then armed in Offboard, with glitches."""
    msgs, t, reset = [], 1.0, 0
    rng = np.random.default_rng(0)
    while t < 1.0 + disarmed_s + flight_s:
        flying = t >= 1.0 + disarmed_s
        # rolled up to 63 degrees while carried, level from 4 s, lifted to 1 m by 5 s
        roll = math.radians(63) * math.sin(math.pi * (t - 1.0) / 3.0) if t < 4.0 else 0.0
        pos = np.array([0.3 * math.sin(t), 0.2, min(0.8 + 0.05 * (t - 1.0), 1.0)])
        vel = np.array([0.3 * math.cos(t), 0.0, 0.05 if t < 5.0 else 0.0])
        if 2.0 <= t < 2.02 or 6.0 <= t < 6.01:
            vel = vel + np.array([22.0, 0.0, 0.0])  # visual-odometry velocity spike
        if t >= 3.0:  # estimator reset at 3 s: the position jumps by 1.2 m
            pos = pos + np.array([1.2, 0.0, 0.0])
            reset = 1
        q_enu = frames.euler_to_quat(roll, 0.0, 0.4)
        q = frames.quat_enu_flu_to_ned_frd(q_enu)
        if rng.random() < 0.3:
            q = -q  # the same attitude, the other sign
        msgs.append(("/fmu/out/vehicle_odometry", "px4_msgs/msg/VehicleOdometry", t, {
            "timestamp": int(t * 1e6), "timestamp_sample": int(t * 1e6), "pose_frame": 1,
            "position": frames.enu_to_ned(pos).astype(np.float32),
            "q": np.asarray(q, np.float32), "velocity_frame": 1,
            "velocity": frames.enu_to_ned(vel).astype(np.float32),
            "angular_velocity": np.zeros(3, np.float32), "reset_counter": reset,
        }))  # fmt: skip
        if round(t / DT) % 20 == 0:  # VehicleStatus at 5 Hz
            msgs.append(("/fmu/out/vehicle_status_v1", "px4_msgs/msg/VehicleStatus", t, {
                "timestamp": int(t * 1e6), "arming_state": 2 if flying else 1,
                "nav_state": 14 if flying else 2,
            }))  # fmt: skip
        t = round(t + DT, 6)
    return msgs


@pytest.fixture(scope="module")
def px4_mcap(tmp_path_factory) -> Path:
    """An MCAP log of PX4 v1.16 (its own VehicleStatus/VehicleOdometry definitions embedded)."""
    store = _store(
        {
            "px4_msgs/msg/VehicleStatus": (UPSTREAM_DATA / "VehicleStatus_v1.16.0.msg").read_text(),
            "px4_msgs/msg/VehicleOdometry": (
                UPSTREAM_DATA / "VehicleOdometry_v1.16.0.msg"
            ).read_text(),
        }
    )
    path = tmp_path_factory.mktemp("px4") / "flight"
    _write(path, store, _hardware_log(), "mcap")
    return path


PX4_V116 = {"topics.vehicle_status": "/fmu/out/vehicle_status_v1", "params.px4_version": "1.16"}


def test_a_px4_mcap_of_another_release_is_read_with_its_own_definitions(px4_mcap):
    status = [m.msg for m in read_bag(px4_mcap, ["/fmu/out/vehicle_status_v1"])]
    assert status and {int(s.arming_state) for s in status} == {1, 2}
    assert not hasattr(status[0], "avoidance_system_required")  # gone in v1.16


def test_replaying_a_hardware_px4_log_is_safe(hover_bundle, px4_mcap, tmp_path):
    prof = load_profile("px4").with_overrides(PX4_V116)
    res = replay(load_bundle(hover_bundle), prof, px4_mcap, tmp_path / "out", goal=[0.0, 0.0, 1.0])
    assert res.active_ticks > 0  # it flew once armed in Offboard
    assert res.safety["implausible"] >= 3  # spikes and the reset were dropped
    assert res.safety["refused_by_vehicle"] > 0  # the disarmed vehicle was never enabled
    cmds = [(m.t, command_of(m.type, m.msg)) for m in read_bag(tmp_path / "out")
            if m.topic == "/fmu/in/trajectory_setpoint"]  # fmt: skip
    assert cmds
    scale = np.asarray(load_bundle(hover_bundle).command["scale"])
    for t, c in cmds:
        if t < 5.0:  # disarmed: only the zero-velocity heartbeat setpoint
            assert np.all(c == 0.0)
        if np.all(np.isfinite(c)):
            assert np.all(np.abs(c) <= scale + 1e-6)
        else:  # a FALLBACK position hold: velocity NaN by PX4's convention
            assert np.all(np.isnan(c))
    actions = [m.t for m in read_bag(tmp_path / "out") if m.topic == "/agentic_rl/action"]
    assert actions and min(actions) >= 5.0  # the policy acted only armed and in Offboard
    assert compare(px4_mcap, px4_mcap)["trajectory_rmse"] == 0.0


def test_a_humble_sqlite_bag_of_local_position_replays_and_compares(hover_bundle, tmp_path):
    msgs = []
    for k in range(300):
        t = 1.0 + k * DT
        p = frames.enu_to_ned([0.1 * math.sin(t), 0.0, 1.0]).tolist()
        v = frames.enu_to_ned([0.1 * math.cos(t), 0.0, 0.0]).tolist()
        us = int(t * 1e6)
        valid = {"xy_valid": True, "z_valid": True, "v_xy_valid": True, "v_z_valid": True}
        msgs.append(("/fmu/out/vehicle_local_position", "px4_msgs/msg/VehicleLocalPosition", t,
                     {"timestamp": us, **valid, **dict(zip("xyz", p, strict=True)),
                      **dict(zip(("vx", "vy", "vz"), v, strict=True))}))  # fmt: skip
        q = frames.quat_enu_flu_to_ned_frd(frames.yaw_to_quat(0.3)).astype(np.float32)
        msgs.append(("/fmu/out/vehicle_attitude", "px4_msgs/msg/VehicleAttitude", t,
                     {"timestamp": us, "q": q}))  # fmt: skip
        if k % 20 == 0:
            msgs.append(("/fmu/out/vehicle_status", "px4_msgs/msg/VehicleStatus", t,
                         {"timestamp": us, "arming_state": 2, "nav_state": 14}))  # fmt: skip
    bag = tmp_path / "sitl"
    _write(bag, typestore(), msgs, "sqlite3-humble")
    prof = load_profile("px4").with_overrides({"params.state_input": "local_position"})
    res = replay(load_bundle(hover_bundle), prof, bag, tmp_path / "out", goal=[0.0, 0.0, 1.0])
    assert res.active_ticks > 100 and res.safety["implausible"] == 0
    report = compare(bag, tmp_path / "out")
    assert report["episodes"] == 1


def test_a_corrupt_bundle_is_a_clear_error(hover_bundle, tmp_path):
    broken = tmp_path / "bundle"
    shutil.copytree(hover_bundle, broken)
    (broken / "weights.npz").write_bytes(b"not a zip file")
    with pytest.raises(BundleError, match=r"weights.npz or golden.npz is unreadable.*re-export"):
        load_bundle(broken)


def test_replay_without_a_goal_source_is_a_clear_error(hover_bundle, px4_mcap, tmp_path):
    prof = load_profile("px4").with_overrides(PX4_V116)
    with pytest.raises(BagError, match="observes a goal, and neither --goal"):
        replay(load_bundle(hover_bundle), prof, px4_mcap, tmp_path / "out")


@pytest.mark.parametrize(
    "args",
    [
        ["ros", "replay", "--bag", "{bag}", "--out", "{tmp}/o", "--profile", "px4"],
        ["ros", "replay", "--bag", "{tmp}/none", "--out", "{tmp}/o2", "--goal", "0,0,1"],
        ["ros", "compare", "--real", "{tmp}/none", "--sim", "{bag}"],
        ["ros", "record-sim", "--out", "{tmp}/r", "--profile", "nope"],
        ["ros", "package", "--out", "{tmp}/p", "--profile", "px4", "--set", "params.x=1"],
        ["ros", "package", "--out", "{bag}/metadata.yaml", "--profile", "px4"],
        ["ros", "record-sim", "--out", "{tmp}/r0", "--episodes", "0"],
        [
            *("ros", "replay", "--bag", "{bag}", "--out", "{tmp}/o3", "--profile", "px4"),
            *("--set", "topics.vehicle_status=/fmu/out/vehicle_status_v1"),
            *("--layout", '{{"goal": 5}}'),
        ],
        [
            *("ros", "replay", "--bag", "{bag}", "--out", "{tmp}/o4", "--profile", "crazyflie"),
            *("--set", "params.rates=x"),
        ],
    ],
)
def test_ros_commands_fail_with_one_line_and_no_traceback(hover_bundle, px4_mcap, tmp_path, args):
    argv = [a.format(bag=px4_mcap, tmp=tmp_path) for a in args]
    if argv[1] != "compare":
        argv += ["--bundle", str(hover_bundle)]
    r = CliRunner().invoke(app, argv)
    assert r.exit_code == 2, r.output
    assert r.exception is None or isinstance(r.exception, SystemExit), repr(r.exception)
    assert "Traceback" not in r.output
