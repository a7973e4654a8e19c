"""The runtime core and its safety layer, driven by hand-made messages on a hand-stepped clock."""

from __future__ import annotations

import json
import math
import shutil

import numpy as np
import pytest

from ros_bridge import AdapterError, ProfileError, Runtime, State, frames, load_bundle, load_profile
from ros_bridge.bags import build
from ros_bridge.measurement import Measurement
from ros_bridge.observation import ObservationError
from sims.arm import observe as arm_observe
from sims.drone import observe as drone_observe
from tests.test_ros_fixtures import arm_bundle, const_bundle, hover_bundle, hover_run

__all__ = ["arm_bundle", "hover_bundle", "hover_run"]

DT = 1.0 / 48.0


def drone_state(pos=(0.0, 0.0, 1.0), yaw=0.0, tilt=0.0, vel=(0.0, 0.0, 0.0), goal=(0.0, 0.0, 1.0)):
    q = frames.quat_multiply(
        frames.yaw_to_quat(yaw), [math.sin(tilt / 2), 0.0, 0.0, math.cos(tilt / 2)]
    )
    return {
        "pos": np.array(pos, float),
        "quat": q,
        "vel": np.array(vel, float),
        "ang_vel": np.zeros(3),
        "goal_rel": np.array(goal, float) - np.array(pos, float),
    }


def measured(state: dict) -> tuple[Measurement, np.ndarray | None]:
    """A test state named by task fields as the measurement (the task's own to_measurement)
    and the goal the robot stack would publish."""
    if "joint_pos" in state:
        return Measurement.from_values(arm_observe.to_measurement(state)), state.get("goal_pos")
    goal = state["pos"] + state["goal_rel"] if "goal_rel" in state else None
    return Measurement.from_values(drone_observe.to_measurement(state)), goal


def feed(rt: Runtime, state: dict, t: float, skip: tuple[str, ...] = ()) -> None:
    """Publish the messages the robot stack would send for ``state`` at time ``t``."""
    m, goal = measured(state)
    for role, data in rt.adapter.encode_inputs(m, t, goal):
        if role not in skip:
            rt.on_message(role, build(rt.profile.inputs[role].type, data), t)


def active(rt: Runtime, state: dict | None = None, t: float = 10.0) -> float:
    """Bring a runtime to ACTIVE at time ``t``; returns the time."""
    # two samples: sources without a gyro (Crazyswarm2's C++ odometry) difference attitudes
    feed(rt, state or drone_state(), t - DT)
    feed(rt, state or drone_state(), t)
    assert rt.tick(t) == [] or rt.state is State.READY
    assert rt.state is State.READY, rt.diagnostics(t)
    ok, why = rt.enable(t)
    assert ok, why
    return t


@pytest.fixture(scope="module")
def up_bundle(tmp_path_factory):
    """DroneHover bundle whose policy always commands (0.5, -0.5, 0.8, 0.2)."""
    return const_bundle(tmp_path_factory, "DroneHover", [0.5, -0.5, 0.8, 0.2])


def test_waits_for_inputs_self_tests_and_never_enables_itself(hover_bundle):
    rt = Runtime(load_bundle(hover_bundle), load_profile("generic_drone"), goal=[0, 0, 1])
    assert rt.tick(0.0) == [] and rt.state is State.WAIT_INPUTS
    status = rt.diagnostics(0.0)["status"][0]
    assert status["level"] == 1 and "waiting for odometry, imu" in status["message"]
    feed(rt, drone_state(), 0.0, skip=("imu",))
    rt.tick(0.01)
    assert rt.state is State.WAIT_INPUTS  # the Imu is still missing
    for k in range(50):
        feed(rt, drone_state(), 0.02 + k * DT)
        assert rt.tick(0.02 + k * DT) == []  # READY sends nothing on this profile
        assert rt.state is State.READY
    assert rt.self_test_error < 1e-9
    ok, _ = rt.enable(1.1)
    outs = rt.tick(1.1)
    assert ok and rt.state is State.ACTIVE
    assert [o.role for o in outs] == ["cmd_vel"] and outs[0].type == "geometry_msgs/msg/Twist"


def test_enable_is_refused_unless_ready(hover_bundle):
    rt = Runtime(load_bundle(hover_bundle), load_profile("generic_drone"), goal=[0, 0, 1])
    ok, why = rt.enable(0.0)
    assert not ok and "needs READY" in why


def test_px4_ready_streams_heartbeat_and_hold_then_ned_velocity(up_bundle):
    rt = Runtime(load_bundle(up_bundle), load_profile("px4"), goal=[0, 0, 1])
    feed(rt, drone_state(), 1.0)
    idle = rt.tick(1.0)
    assert rt.state is State.READY
    assert [o.role for o in idle] == ["offboard_mode", "setpoint"]
    assert idle[0].data["velocity"] is True and idle[0].data["position"] is False
    assert idle[1].data["velocity"] == [0.0, 0.0, 0.0] and math.isnan(idle[1].data["position"][0])
    rt.enable(1.0)
    rt.filter.max_step = 10.0  # no slew limit here: check the mapping alone
    out = rt.tick(1.0)
    # action (0.5, -0.5, 0.8, 0.2) x scale (1, 1, 1, pi/2) in ENU -> NED (north, east, down)
    np.testing.assert_allclose(out[1].data["velocity"], [-0.5, 0.5, -0.8])
    assert out[1].data["yawspeed"] == pytest.approx(-0.2 * math.pi / 2)
    assert out[0].data["timestamp"] == 1_000_000


def test_stale_input_falls_back_then_stops_and_reset_rearms(hover_bundle):
    rt = Runtime(load_bundle(hover_bundle), load_profile("mavros"), goal=[0, 0, 1])
    t = active(rt)
    assert rt.tick(t)[0].role == "cmd_vel"
    t += 0.25  # no odometry for 0.25 s > staleness_s 0.2
    out = rt.tick(t)
    assert rt.state is State.FALLBACK and "stale inputs: ['odometry']" in rt.fault
    pose = out[0].data["pose"]  # hold where the vehicle is (MAVROS: a position setpoint)
    assert out[0].role == "position_setpoint" and pose["position"] == {"x": 0.0, "y": 0.0, "z": 1.0}
    assert rt.diagnostics(t)["status"][0]["level"] == 2
    t += rt.config.fallback_s
    assert rt.tick(t) == [] and rt.state is State.STOPPED
    assert not rt.enable(t)[0]
    assert rt.reset()[0] and rt.state is State.WAIT_INPUTS


def test_non_finite_samples_never_reach_the_policy_and_go_stale(hover_bundle):
    rt = Runtime(load_bundle(hover_bundle), load_profile("generic_drone"), goal=[0, 0, 1])
    t = active(rt)
    rt.tick(t)
    bad = drone_state()
    bad["vel"] = np.array([np.nan, 0.0, 0.0])
    for k in range(1, 12):  # only NaN odometry from now on
        feed(rt, bad, t + k * DT)
        rt.tick(t + k * DT)
        assert np.all(np.isfinite(rt.last_obs)) or rt.state is State.FALLBACK
    assert rt.counters.implausible == 11
    assert rt.state is State.FALLBACK and "stale inputs: ['odometry']" in rt.fault


def test_geofence_zeroes_outward_velocity_and_breach_falls_back(up_bundle):
    rt = Runtime(load_bundle(up_bundle), load_profile("generic_drone"), goal=[0, 0, 1])
    rt.profile.params["cmd_frame"] = "world"
    rt.adapter.params["cmd_frame"] = "world"
    # on the top face of DroneHover's box (z max 2.5 m): the climb (+0.8) is removed
    t = active(rt, drone_state(pos=(0.0, 0.0, 2.55)))
    lin = rt.tick(t)[0].data["linear"]
    assert lin["z"] == 0.0 and lin["x"] > 0.0 and rt.counters.fenced == 1
    # drifts up (plausibly: 0.35 m in 0.2 s) to 0.4 m out > geofence_breach_m 0.3
    for k in range(1, 11):
        feed(rt, drone_state(pos=(0.0, 0.0, 2.55 + 0.035 * k), vel=(0, 0, 1.2)), t + k * DT)
        rt.tick(t + k * DT)
    assert rt.counters.implausible == 0
    assert rt.state is State.FALLBACK and "geofence breach" in rt.fault


def test_tilt_beyond_the_kill_angle_stops_at_once(hover_bundle):
    rt = Runtime(load_bundle(hover_bundle), load_profile("generic_drone"), goal=[0, 0, 1])
    t = active(rt)
    feed(rt, drone_state(tilt=math.radians(70)), t + DT)
    assert rt.tick(t + DT) == []
    assert rt.state is State.STOPPED and "tilt kill" in rt.fault


def test_slew_rate_limits_how_fast_the_action_changes(up_bundle):
    prof = load_profile("generic_drone").with_overrides({"safety.slew_rate": 2.4})
    rt = Runtime(load_bundle(up_bundle), prof, goal=[0, 0, 1])
    t = active(rt)
    seen = []
    for k in range(30):
        feed(rt, drone_state(), t + k * DT)
        rt.tick(t + k * DT)
        seen.append(rt.last_action[2])
    steps = np.diff([0.0, *seen])
    assert steps.max() == pytest.approx(2.4 * DT) and seen[-1] == pytest.approx(0.8)
    assert rt.counters.slew_limited > 0


def test_self_test_failure_stops_before_anything_moves(hover_bundle, tmp_path):
    broken = tmp_path / "bundle"
    shutil.copytree(hover_bundle, broken)
    with np.load(broken / "golden.npz") as g:
        data = dict(g)
    data["action"] = data["action"] + 1e-3  # golden actions the policy no longer reproduces
    np.savez(broken / "golden.npz", **data)
    rt = Runtime(load_bundle(broken), load_profile("generic_drone"), goal=[0, 0, 1])
    feed(rt, drone_state(), 0.0)
    assert rt.tick(0.0) == []
    assert rt.state is State.STOPPED and "self-test failed" in rt.fault


def test_crazyflie_lands_through_services_before_the_setpoint_timeout(hover_bundle):
    rt = Runtime(load_bundle(hover_bundle), load_profile("crazyflie"), goal=[0, 0, 1])
    t = active(rt)
    last_setpoint = None
    calls = []
    for k in range(200):  # inputs stop after 1 s; ticks go on
        now = t + k * DT
        if k < 48:
            feed(rt, drone_state(), now)
        for o in rt.tick(now):
            if o.kind == "topic":
                last_setpoint = now
                assert o.role == "cmd_full_state"
            else:
                calls.append((now, o.role, o.data))
    assert [c[1] for c in calls] == ["notify_setpoints_stop", "land"]
    assert calls[1][0] - last_setpoint < 2.0  # the firmware cuts the motors after 2 s
    assert calls[1][2]["duration"] == {"sec": 2, "nanosec": 0}
    assert rt.state is State.STOPPED


def test_crazyflie_refuses_a_watchdog_slower_than_its_timeout(hover_bundle):
    prof = load_profile("crazyflie").with_overrides({"safety.staleness_s": 1.99})
    with pytest.raises(AdapterError, match="setpoint timeout"):
        Runtime(load_bundle(hover_bundle), prof)


def test_crazyflie_hover_command_is_body_frame_and_radians(up_bundle):
    prof = load_profile("crazyflie").with_overrides({"params.command": "cmd_hover"})
    rt = Runtime(load_bundle(up_bundle), prof, goal=[0, 0, 1])
    rt.filter.max_step = 10.0
    t = active(rt, drone_state(yaw=math.pi / 2))  # facing north
    hover = rt.tick(t)[0].data
    # world (east 0.5, north -0.5) seen from a drone facing north: forward -0.5, left -0.5
    assert hover["vx"] == pytest.approx(-0.5) and hover["vy"] == pytest.approx(-0.5)
    # Hover.yaw_rate is rad/s: both Crazyswarm2 servers convert it to deg/s themselves
    assert hover["yaw_rate"] == pytest.approx(0.2 * math.pi / 2)
    assert hover["z_distance"] == pytest.approx(1.0 + 0.8 * DT)


def test_arm_targets_respect_joint_position_and_velocity_limits(tmp_path_factory):
    bundle = load_bundle(const_bundle(tmp_path_factory, "ArmReach", [1.0] * 7, "joint_delta"))
    rt = Runtime(bundle, load_profile("arm_jtc"), goal=[0.1, 0.0, 0.2])
    a = rt.adapter
    q = (a.lower + a.upper) / 2
    q[0] = a.upper[0] - 0.03  # near the upper limit of joint 1
    js = {"joint_pos": q, "joint_vel": np.zeros(7), "goal_pos": np.array([0.1, 0.0, 0.2])}
    rt.filter.max_step = 10.0
    t = active(rt, js)
    traj = rt.tick(t)[0].data
    target = np.array(traj["points"][0]["positions"])
    assert traj["joint_names"] == [f"panda_joint{i}" for i in range(1, 8)]
    assert target[0] <= a.upper[0] - rt.config.joint_margin_rad + 1e-12
    max_step = a.vel_limit * rt.config.velocity_scale * rt.dt
    assert np.all(np.abs(target - q) <= max_step + 1e-12)
    assert rt.counters.joint_limited == 1


def test_joint_states_are_matched_by_name(arm_bundle):
    rt = Runtime(load_bundle(arm_bundle), load_profile("arm_forward"), goal=[0.1, 0.0, 0.2])
    names = ["panda_finger_joint1", *[f"panda_joint{i}" for i in (7, 3, 1, 2, 6, 5, 4)]]
    pos = [0.04, 0.7, 0.3, 0.1, 0.2, 0.6, 0.5, 0.4]
    msg = build(
        "sensor_msgs/msg/JointState", {"name": names, "position": pos, "velocity": [0.0] * 8}
    )
    rt.on_message("joint_states", msg, 0.0)
    np.testing.assert_allclose(rt.adapter.q, [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7])
    short = build("sensor_msgs/msg/JointState", {"name": names[:3], "position": pos[:3]})
    rt.on_message("joint_states", short, 0.1)
    assert rt.counters.rejected_messages == 1 and "lacks joints" in rt.counters.faults[-1]


def test_profiles_and_pairings_fail_with_reasons(hover_bundle, arm_bundle, tmp_path):
    with pytest.raises(ProfileError, match="Did you mean 'px4'"):
        load_profile("px5")
    with pytest.raises(AdapterError, match="supports action modes"):
        Runtime(load_bundle(hover_bundle), load_profile("arm_jtc"))
    with pytest.raises(AdapterError, match="supports action modes"):
        Runtime(load_bundle(arm_bundle), load_profile("px4"))
    with pytest.raises(ProfileError, match="Did you mean 'staleness_s'"):
        load_profile("px4").with_overrides({"safety.stalenes_s": 0.1})
    # a bundle exported before tasks declared how a robot feeds their observation
    old = shutil.copytree(hover_bundle, tmp_path / "old")
    meta = json.loads((old / "bundle.json").read_text())
    del meta["task"]["from_measurement"]
    (old / "bundle.json").write_text(json.dumps(meta))
    with pytest.raises(ObservationError, match="re-export it"):
        Runtime(load_bundle(old), load_profile("px4"))


def test_goal_message_overrides_the_default_goal(hover_bundle):
    rt = Runtime(load_bundle(hover_bundle), load_profile("generic_drone"), goal=[0, 0, 1])
    feed(rt, drone_state(goal=(1.0, 2.0, 1.5)), 0.0)
    obs = rt.observation.build()
    goal_rel = rt.bundle.field("goal_rel")
    np.testing.assert_allclose(obs[goal_rel.offset : goal_rel.offset + 3], [1.0, 2.0, 0.5])


def test_no_goal_keeps_the_policy_from_starting(hover_bundle):
    rt = Runtime(load_bundle(hover_bundle), load_profile("generic_drone"))  # no default goal
    feed(rt, drone_state(), 0.0, skip=("goal",))
    rt.tick(0.0)
    ok, why = rt.enable(0.0)
    assert not ok and "no goal" in why


def test_diagnostics_build_as_a_diagnostic_array(hover_bundle):
    rt = Runtime(load_bundle(hover_bundle), load_profile("px4"), goal=[0, 0, 1])
    msg = build("diagnostic_msgs/msg/DiagnosticArray", rt.diagnostics(3.0))
    status = msg.status[0]
    values = {kv.key: kv.value for kv in status.values}
    assert values["state"] == "WAIT_INPUTS" and values["task"] == "agentic_rl/DroneHover-v0"
    assert values["age.odometry"] == "inf" and status.hardware_id == "px4"
