"""Bag tools: simulated bags read back by two decoders, sim/replay parity, fault bags, compare."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from agentic_rl.cli import app
from agentic_rl.export.simbag import record_sim
from ros_bridge import State, load_bundle, load_profile
from ros_bridge.bags import (
    ACTION_TOPIC,
    BagWriter,
    bag_topics,
    commands_at_ticks,
    compare,
    read_bag,
    replay,
)
from tests.test_ros_fixtures import arm_bundle, hover_bundle, hover_run

__all__ = ["arm_bundle", "hover_bundle", "hover_run"]

runner = CliRunner()


#: Commands and actions of a bag by (topic, time) (other test files import it from here).
commands = commands_at_ticks


PARITY_PROFILES = [
    ("px4", {}),
    ("px4", {"params.state_input": "local_position", "params.px4_version": "1.14"}),
    ("mavros", {}),
    # the Python server's odometry carries the gyro; the C++ one's attitude is differenced
    ("crazyflie", {"params.backend": "python"}),
    ("generic_drone", {}),
]


@pytest.mark.parametrize(("profile", "sets"), PARITY_PROFILES)
def test_replay_reproduces_the_simulated_commands(hover_bundle, tmp_path, profile, sets):
    sim_bag, out_bag = tmp_path / "sim", tmp_path / "replay"
    rec = record_sim(hover_bundle, sim_bag, profile=profile, episodes=2, overrides=sets)
    assert rec.steps == 2 * 384  # DroneHover: 8 s at 48 Hz, twice
    prof = load_profile(profile).with_overrides(sets)
    res = replay(load_bundle(hover_bundle), prof, sim_bag, out_bag)
    assert res.episodes == 2 and res.faults == [] and res.final_state == "ACTIVE"
    assert sum(res.safety.values()) == 0  # the safety filter never had to intervene
    sim, rep = commands(sim_bag), commands(out_bag)
    common = set(sim) & set(rep)
    assert len(common) == len(sim) == 2 * rec.steps  # every command and action, at its time
    err = max(float(np.abs(sim[k] - rep[k]).max()) for k in common)
    assert err < 1e-5, err


def test_arm_replay_reproduces_joint_targets(arm_bundle, tmp_path):
    sim_bag, out_bag = tmp_path / "sim", tmp_path / "replay"
    rec = record_sim(arm_bundle, sim_bag, profile="arm_jtc", episodes=1, seed=5)
    # A random policy moves fast: give the velocity limit room so parity is checked alone.
    prof = load_profile("arm_jtc").with_overrides(
        {"safety.velocity_scale": 1.0, "safety.slew_rate": 1e3}
    )
    res = replay(load_bundle(arm_bundle), prof, sim_bag, out_bag)
    sim, rep = commands(sim_bag), commands(out_bag)
    common = set(sim) & set(rep)
    assert len(common) == 2 * rec.steps and res.faults == []
    assert max(float(np.abs(sim[k] - rep[k]).max()) for k in common) < 1e-5


def test_mcap_bag_reads_back_with_the_independent_mcap_decoder(hover_bundle, tmp_path):
    from mcap.reader import make_reader
    from mcap_ros2.decoder import DecoderFactory

    bag = tmp_path / "px4bag"
    record_sim(hover_bundle, bag, profile="px4", episodes=1)
    ours = list(read_bag(bag))
    with open(next(bag.glob("*.mcap")), "rb") as f:
        theirs = list(make_reader(f, decoder_factories=[DecoderFactory()]).iter_decoded_messages())
    assert len(theirs) == len(ours)
    odom = [(m.log_time, d) for _, c, m, d in theirs if c.topic == "/fmu/out/vehicle_odometry"]
    mine = [m for m in ours if m.topic == "/fmu/out/vehicle_odometry"]
    assert len(odom) == len(mine) == 385
    np.testing.assert_array_equal(np.asarray(odom[10][1].q), mine[10].msg.q)
    assert odom[10][1].pose_frame == 1 and odom[10][0] == round(mine[10].t * 1e9)
    schemas = {c.topic: s.name for s, c, _, _ in theirs}
    assert schemas["/fmu/in/trajectory_setpoint"] == "px4_msgs/msg/TrajectorySetpoint"


@pytest.mark.parametrize("storage", ["sqlite3", "sqlite3-humble"])
def test_sqlite_bags_read_back(hover_bundle, tmp_path, storage):
    bag = tmp_path / "b"
    record_sim(hover_bundle, bag, profile="mavros", episodes=1, storage=storage)
    assert next(bag.glob("*.db3"))
    meta = yaml.safe_load((bag / "metadata.yaml").read_text())["rosbag2_bagfile_information"]
    assert meta["version"] == (5 if storage == "sqlite3-humble" else 8)
    if storage == "sqlite3-humble":
        import sqlite3

        con = sqlite3.connect(next(bag.glob("*.db3")))
        assert con.execute("SELECT schema_version FROM schema").fetchone()[0] == 3
        con.close()
    topics = bag_topics(bag)
    assert topics["/mavros/local_position/odom"] == "nav_msgs/msg/Odometry"
    msgs = [m for m in read_bag(bag) if m.topic == "/mavros/setpoint_velocity/cmd_vel"]
    assert len(msgs) == 384 and msgs[0].msg.header.frame_id == "map"


def _rewrite(src: Path, dst: Path, edit) -> None:
    """Copy a bag message by message; ``edit(m)`` returns the message, or None to drop it."""
    with BagWriter(dst) as w:
        for m in read_bag(src):
            kept = edit(m)
            if kept is not None:
                w.write(m.topic, m.type, kept, m.t)


@pytest.fixture(scope="module")
def generic_bag(hover_bundle, tmp_path_factory):
    bag = tmp_path_factory.mktemp("g") / "sim"
    record_sim(hover_bundle, bag, profile="generic_drone", episodes=1)
    return bag


def test_replay_falls_back_when_a_topic_drops_out(hover_bundle, generic_bag, tmp_path):
    gap = (3.0, 3.5)  # the Imu goes silent for half a second
    _rewrite(
        generic_bag,
        tmp_path / "drop",
        lambda m: None if m.topic == "/imu" and gap[0] < m.t < gap[1] else m.msg,
    )
    res = replay(
        load_bundle(hover_bundle),
        load_profile("generic_drone"),
        tmp_path / "drop",
        tmp_path / "out",
    )
    assert any("stale inputs: ['imu']" in f for f in res.faults)
    assert res.states["FALLBACK"] >= 1 and res.final_state == "STOPPED"
    cmds = [m for m in read_bag(tmp_path / "out") if m.topic == "/cmd_vel"]
    assert all(m.t < gap[0] + 0.25 + 3.0 + 1e-6 for m in cmds)  # nothing after FALLBACK ends


def test_replay_drops_nan_samples_and_falls_back_when_they_last(
    hover_bundle, generic_bag, tmp_path
):
    poisoned = []

    def poison(m):
        if m.topic == "/odom" and (2.0 < m.t < 2.03 or 4.0 < m.t < 4.3):
            m.msg.pose.pose.position.x = float("nan")
            poisoned.append(m.t)
        return m.msg

    _rewrite(generic_bag, tmp_path / "nan", poison)
    res = replay(
        load_bundle(hover_bundle), load_profile("generic_drone"), tmp_path / "nan", tmp_path / "out"
    )
    # the glitch at 2 s is dropped and flown through; the 0.3 s of NaN at 4 s go stale
    assert res.safety["implausible"] == len(poisoned) and poisoned[0] < 2.03 < poisoned[1]
    assert any("stale inputs: ['odometry']" in f for f in res.faults)
    actions = [m for m in read_bag(tmp_path / "out") if m.topic == ACTION_TOPIC]
    assert all(np.all(np.isfinite(m.msg.data)) for m in actions)
    assert min(abs(m.t - 3.0) for m in actions) < 0.03  # still flying after the first glitch
    assert res.final_state == "STOPPED"


def test_replay_falls_back_on_a_geofence_breach(hover_bundle, generic_bag, tmp_path):
    def drift(m):
        if m.topic == "/odom" and m.t > 4.0:
            # drifting east at 1 m/s (a plausible motion): out of the 2.5 m box after 3 s
            m.msg.pose.pose.position.x += min(m.t - 4.0, 3.0)
        return m.msg

    _rewrite(generic_bag, tmp_path / "fence", drift)
    res = replay(
        load_bundle(hover_bundle),
        load_profile("generic_drone"),
        tmp_path / "fence",
        tmp_path / "out",
    )
    assert any("geofence breach" in f for f in res.faults)
    diag = [m.msg.status[0] for m in read_bag(tmp_path / "out") if m.topic == "/diagnostics"]
    assert any(s.message.startswith("FALLBACK: geofence breach") and s.level == 2 for s in diag)


def test_replay_without_enable_stays_ready(hover_bundle, generic_bag, tmp_path):
    res = replay(
        load_bundle(hover_bundle),
        load_profile("generic_drone"),
        generic_bag,
        tmp_path / "o",
        enable=False,
    )
    assert res.active_ticks == 0 and res.commands == 0 and res.final_state == State.READY.value


def test_compare_reports_agreement(hover_bundle, generic_bag, tmp_path):
    same = compare(generic_bag, generic_bag)
    assert same["trajectory_rmse"] == 0.0 and same["command_rmse"] == 0.0
    assert same["success_agreement"] == 1.0 and same["episodes"] == 1
    assert same["command_parity"]["max_abs"] == 0.0 and same["command_parity"]["missing"] == 0

    def offset(m):
        if m.topic == "/odom":
            m.msg.pose.pose.position.z += 0.1
        if m.topic == "/cmd_vel":
            m.msg.linear.x += 0.2
        return m.msg

    _rewrite(generic_bag, tmp_path / "real", offset)
    rep = compare(tmp_path / "real", generic_bag)
    assert rep["trajectory_rmse"] == pytest.approx(0.1, abs=1e-6)
    assert rep["command_rmse"] == pytest.approx(0.2, abs=1e-6)
    assert rep["success_agreement"] == 1.0  # the episode markers were copied
    # the same ticks in both bags: compared one by one, the offset is the worst difference
    assert rep["command_parity"]["max_abs"] == pytest.approx(0.2, abs=1e-6)
    assert rep["command_parity"]["worst_topic"] == "/cmd_vel"
    r = runner.invoke(app, ["ros", "compare", "--real", str(tmp_path / "real"),
                            "--sim", str(generic_bag)])  # fmt: skip
    assert r.exit_code == 0 and "commands at the same ticks" in r.output
    assert "safety.slew_from_zero=0" in " ".join(r.output.split())


def test_cli_record_replay_compare_end_to_end(hover_run, tmp_path):
    bundle = tmp_path / "bundle"
    r = runner.invoke(app, ["export", "--run", str(hover_run), "--out", str(bundle),
                            "--eval-episodes", "1", "--force"])  # fmt: skip
    assert r.exit_code == 0, r.output
    r = runner.invoke(
        app,
        ["ros", "record-sim", "--bundle", str(bundle), "--task", "DroneHover", "--episodes", "1",
         "--profile", "px4", "--out", str(tmp_path / "sim"), "--json"],
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["steps"] == 384
    r = runner.invoke(
        app,
        ["ros", "replay", "--bundle", str(bundle), "--bag", str(tmp_path / "sim"), "--profile", "px4",
         "--out", str(tmp_path / "rep"), "--json"],
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["active_ticks"] == 385
    r = runner.invoke(
        app, ["ros", "compare", "--real", str(tmp_path / "sim"), "--sim", str(tmp_path / "sim")]
    )
    assert r.exit_code == 0 and "trajectory RMSE" in r.output
    # parity as the README states it (384 commands and 384 actions), without the slew start-up
    parity = ["--set", "safety.slew_from_zero=0", "--set", "safety.slew_rate=1000"]
    for argv in (
        ["ros", "record-sim", "--bundle", str(bundle), "--task", "DroneHover", "--episodes", "1",
         "--profile", "px4", "--out", str(tmp_path / "sim0"), *parity],
        ["ros", "replay", "--bundle", str(bundle), "--bag", str(tmp_path / "sim0"), "--profile",
         "px4", "--out", str(tmp_path / "rep0"), *parity],
    ):  # fmt: skip
        assert runner.invoke(app, argv).exit_code == 0
    r = runner.invoke(app, ["ros", "compare", "--real", str(tmp_path / "rep0"),
                            "--sim", str(tmp_path / "sim0"), "--json"])  # fmt: skip
    got = json.loads(r.output)["command_parity"]
    assert got["commands"] == 2 * 384 and got["missing"] == 0 and got["max_abs"] < 1e-5
    r = runner.invoke(
        app,
        ["ros", "replay", "--bundle", str(bundle), "--bag", str(tmp_path / "sim"), "--profile", "mavros",
         "--out", str(tmp_path / "rep2")],
    )  # fmt: skip
    assert r.exit_code == 2 and "lacks" in r.output  # a usage error naming the missing topics


@pytest.fixture(scope="module")
def yawing_bundle(tmp_path_factory):
    """A DroneHover bundle of a random-weight policy that also yaws steadily: PyBullet's
    quaternion changes sign during its episodes (w crosses zero after half a turn)."""
    from agentic_rl.export import export_bundle
    from tests.test_ros_fixtures import random_policy

    path = tmp_path_factory.mktemp("yaw") / "bundle"
    import sims

    spec = sims.get_spec("DroneHover")
    policy = random_policy(spec.obs_size, 4, seed=11, scale=0.5)
    w, b = policy.actor[-1]
    policy.actor[-1] = (w, b + np.array([0.0, 0.0, 0.1, 0.9]))
    export_bundle(policy, "DroneHover", path, golden_episodes=1)
    return path


@pytest.mark.parametrize("profile", ["px4", "generic_drone"])
def test_parity_holds_where_the_quaternion_changes_sign(yawing_bundle, tmp_path, profile):
    sets = {"safety.slew_from_zero": 0.0}
    sim_bag, out_bag = tmp_path / "sim", tmp_path / "replay"
    record_sim(yawing_bundle, sim_bag, profile=profile, episodes=1, overrides=sets)
    res = replay(load_bundle(yawing_bundle), load_profile(profile).with_overrides(sets),
                 sim_bag, out_bag)  # fmt: skip
    assert res.faults == [] and res.safety["slew_limited"] == 0
    sim = commands(sim_bag)
    rep = commands(out_bag)
    acts = {k: v for k, v in sim.items() if k[0] == ACTION_TOPIC}
    assert len(acts) > 300 and set(acts) <= set(rep)
    assert max(float(np.abs(sim[k] - rep[k]).max()) for k in acts) < 1e-5
    # the recorded attitude really did change hemisphere
    from ros_bridge import frames

    ws = []
    for m in read_bag(sim_bag):
        if "Odometry" in m.type and "px4" in m.type:
            ws.append(frames.quat_ned_frd_to_enu_flu([float(c) for c in m.msg.q])[3])
        elif m.type == "nav_msgs/msg/Odometry":
            ws.append(m.msg.pose.pose.orientation.w)
    assert min(ws) < -0.1 and max(ws) > 0.1


def test_a_sign_flipping_stack_gives_the_policy_the_same_input(yawing_bundle, tmp_path):
    """Flip the sign of every other recorded quaternion (as PX4's EKF may): same actions."""
    sets = {"safety.slew_from_zero": 0.0}
    sim_bag = tmp_path / "sim"
    record_sim(yawing_bundle, sim_bag, profile="px4", episodes=1, overrides=sets)
    flips = []

    def flip(m):
        if m.topic == "/fmu/out/vehicle_odometry" and len(flips) % 2:
            m.msg.q = -m.msg.q
        if m.topic == "/fmu/out/vehicle_odometry":
            flips.append(m.t)
        return m.msg

    _rewrite(sim_bag, tmp_path / "flipped", flip)
    prof = load_profile("px4").with_overrides(sets)
    replay(load_bundle(yawing_bundle), prof, tmp_path / "flipped", tmp_path / "out")
    sim, rep = commands(sim_bag), commands(tmp_path / "out")
    acts = [k for k in sim if k[0] == ACTION_TOPIC]
    assert max(float(np.abs(sim[k] - rep[k]).max()) for k in acts) < 1e-5
