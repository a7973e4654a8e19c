"""Safety per robot stack: PX4 and MAVROS gating, the Crazyflie's landings, plausibility."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ros_bridge import Runtime, State, frames, load_bundle, load_profile
from ros_bridge.bags import build
from ros_bridge.robots import AdapterError
from tests.test_ros_fixtures import const_bundle, hover_bundle, hover_run
from tests.test_ros_runtime import DT, active, drone_state, feed

__all__ = ["hover_bundle", "hover_run"]

ARMED, DISARMED, OFFBOARD, POSCTL = 2, 1, 14, 2


@pytest.fixture(scope="module")
def up_bundle(tmp_path_factory):
    """DroneHover bundle whose policy always commands (0.5, -0.5, 0.8, 0.2)."""
    return const_bundle(tmp_path_factory, "DroneHover", [0.5, -0.5, 0.8, 0.2])


def px4_status(rt: Runtime, t: float, arming: int = ARMED, nav: int = OFFBOARD) -> None:
    msg = build(
        "px4_msgs/msg/VehicleStatus",
        {"timestamp": int(t * 1e6), "arming_state": arming, "nav_state": nav},
    )
    rt.on_message("vehicle_status", msg, t)


def px4_ready(bundle, t: float = 10.0, state: dict | None = None, **overrides) -> Runtime:
    prof = load_profile("px4").with_overrides(overrides)
    rt = Runtime(load_bundle(bundle), prof, goal=[0, 0, 1])
    for k in (1, 0):
        feed(rt, state or drone_state(), t - k * DT, skip=("vehicle_status",))
    rt.tick(t)
    assert rt.state is State.READY
    return rt


def test_px4_refuses_enable_disarmed_or_outside_offboard(up_bundle):
    t = 10.0
    rt = px4_ready(up_bundle, t)
    ok, why = rt.enable(t)
    assert not ok and "no vehicle status" in why
    px4_status(rt, t, arming=DISARMED)
    ok, why = rt.enable(t)
    assert not ok and "disarmed" in why
    px4_status(rt, t, nav=POSCTL)
    ok, why = rt.enable(t)
    assert not ok and "not the offboard mode" in why
    # READY streams the heartbeat and a zero-velocity setpoint all along
    out = rt.tick(t)
    assert [o.role for o in out] == ["offboard_mode", "setpoint"]
    assert out[1].data["velocity"] == [0.0, 0.0, 0.0]
    px4_status(rt, t)
    assert rt.enable(t)[0] and rt.state is State.ACTIVE


@pytest.mark.parametrize(("arming", "nav"), [(DISARMED, OFFBOARD), (ARMED, POSCTL)])
def test_px4_leaving_offboard_or_disarming_ends_active(up_bundle, arming, nav):
    t = 10.0
    rt = px4_ready(up_bundle, t)
    px4_status(rt, t)
    assert rt.enable(t)[0]
    assert rt.tick(t)[1].data["velocity"] != [0.0, 0.0, 0.0]
    px4_status(rt, t + DT, arming=arming, nav=nav)
    feed(rt, drone_state(), t + DT, skip=("vehicle_status",))
    out = rt.tick(t + DT)
    assert rt.state is State.READY and "policy released" in rt.counters.faults[-1]
    assert out[1].data["velocity"] == [0.0, 0.0, 0.0]  # the heartbeat keeps streaming


def test_px4_fallback_holds_position_then_lands(up_bundle):
    t = 10.0
    here = drone_state(pos=(0.4, -0.2, 1.3), yaw=0.3)
    rt = px4_ready(up_bundle, t, here)
    px4_status(rt, t)
    assert rt.enable(t)[0]
    rt.tick(t)
    seen = []
    for k in range(1, 240):  # the odometry stops; the status keeps coming
        now = t + k * DT
        px4_status(rt, now)
        seen.append((now, rt.tick(now)))
    fallback = [(now, out) for now, out in seen if out and out[0].data["position"]]
    assert fallback, "no position hold"
    first = fallback[0][1]
    np.testing.assert_allclose(first[1].data["position"], frames.enu_to_ned([0.4, -0.2, 1.3]))
    assert all(math.isnan(v) for v in first[1].data["velocity"])
    assert first[1].data["yaw"] == pytest.approx(math.pi / 2 - 0.3)
    lands = [(now, o) for now, out in seen for o in out if o.role == "command"]
    assert len(lands) == 1 and lands[0][1].data["command"] == 21  # VEHICLE_CMD_NAV_LAND
    assert lands[0][0] - fallback[0][0] == pytest.approx(2.0, abs=DT)
    assert rt.state is State.STOPPED and seen[-1][1] == []


def test_px4_status_lost_while_active_falls_back(up_bundle):
    t = 10.0
    rt = px4_ready(up_bundle, t)
    px4_status(rt, t)
    assert rt.enable(t)[0]
    for k in range(1, 120):
        feed(rt, drone_state(), t + k * DT, skip=("vehicle_status",))
        rt.tick(t + k * DT)
        if rt.state is not State.ACTIVE:
            break
    assert rt.state is State.FALLBACK and "vehicle status is" in rt.fault
    assert (k * DT) == pytest.approx(2.0, abs=2 * DT)


@pytest.mark.parametrize(
    ("version", "fields"),
    [("1.14", {"actuator"}), ("1.15", {"thrust_and_torque", "direct_actuator"})],
)
def test_px4_offboard_control_mode_layout_follows_the_px4_version(up_bundle, version, fields):
    rt = px4_ready(up_bundle, **{"params.px4_version": version})
    mode = rt.tick(10.0)[0]
    assert fields <= set(mode.data) and not ({"actuator", "thrust_and_torque"} - fields) & set(
        mode.data
    )
    build("px4_msgs/msg/OffboardControlMode", mode.data, version)  # fits that release's type


def test_mavros_streams_from_ready_and_flies_only_armed_in_offboard(up_bundle):
    rt = Runtime(load_bundle(up_bundle), load_profile("mavros"), goal=[0, 0, 1])
    t = 10.0
    feed(rt, drone_state(), t, skip=("state",))
    out = rt.tick(t)
    assert rt.state is State.READY and out[0].data["twist"]["linear"] == {
        "x": 0.0,
        "y": 0.0,
        "z": 0.0,
    }
    state = {"connected": True, "armed": True, "mode": "POSCTL"}
    rt.on_message("state", build("mavros_msgs/msg/State", state), t)
    ok, why = rt.enable(t)
    assert not ok and "POSCTL" in why
    rt.on_message("state", build("mavros_msgs/msg/State", {**state, "mode": "OFFBOARD"}), t)
    assert rt.enable(t)[0]
    assert rt.tick(t)[0].data["twist"]["linear"]["x"] > 0
    rt.on_message("state", build("mavros_msgs/msg/State", {**state, "armed": False}), t + DT)
    feed(rt, drone_state(), t + DT, skip=("state",))
    rt.tick(t + DT)
    assert rt.state is State.READY


def test_mavros_fallback_holds_position_then_calls_land(up_bundle):
    prof = load_profile("mavros").with_overrides({"params.land_after_s": 1.0})
    rt = Runtime(load_bundle(up_bundle), prof, goal=[0, 0, 1])
    t = 10.0
    here = drone_state(pos=(0.4, -0.2, 1.3), yaw=0.3)
    state = build("mavros_msgs/msg/State", {"connected": True, "armed": True, "mode": "OFFBOARD"})
    for k in (1, 0):
        feed(rt, here, t - k * DT, skip=("state",))
    rt.on_message("state", state, t)
    rt.tick(t)
    assert rt.enable(t)[0]
    assert [o.role for o in rt.tick(t)] == ["cmd_vel"]
    seen = []
    for k in range(1, 500):  # the odometry stops; /mavros/state keeps coming (1 Hz is enough)
        now = t + k * DT
        rt.on_message("state", state, now)
        seen.append((now, rt.tick(now)))
    holds = [(now, out) for now, out in seen if out and out[0].role == "position_setpoint"]
    assert holds, "no position hold"
    assert holds[0][0] - t == pytest.approx(0.2, abs=2 * DT)  # staleness_s after the last sample
    for _, out in holds:  # ENU position and heading where the vehicle was: never velocity
        pose = out[0].data["pose"]
        assert pose["position"] == pytest.approx({"x": 0.4, "y": -0.2, "z": 1.3})
        q = [pose["orientation"][a] for a in "xyzw"]
        assert frames.yaw(np.array(q)) == pytest.approx(0.3)
        assert not any(o.role == "cmd_vel" for o in out)
    lands = [(now, o) for now, out in seen for o in out if o.role == "land"]
    assert len(lands) == 1 and lands[0][1].kind == "service", lands
    assert lands[0][1].type == "mavros_msgs/srv/CommandTOL"
    assert lands[0][0] - holds[0][0] == pytest.approx(1.0, abs=DT)
    assert all(math.isnan(lands[0][1].data[k]) for k in ("latitude", "longitude", "altitude"))
    build("mavros_msgs/srv/CommandTOL_Request", lands[0][1].data)  # fits the vendored type
    assert rt.state is State.STOPPED and seen[-1][1] == []  # after safety.fallback_s


def test_crazyflie_disable_lands_at_once(hover_bundle):
    rt = Runtime(load_bundle(hover_bundle), load_profile("crazyflie"), goal=[0, 0, 1])
    t = active(rt)
    assert rt.tick(t)[0].role == "cmd_full_state"
    assert rt.disable(t)[0]
    feed(rt, drone_state(), t + DT)
    out = rt.tick(t + DT)
    assert [(o.kind, o.role) for o in out] == [
        ("service", "notify_setpoints_stop"),
        ("service", "land"),
    ]
    feed(rt, drone_state(), t + 2 * DT)
    assert rt.tick(t + 2 * DT) == []  # no more low-level setpoints after the hand-back


@pytest.mark.parametrize("backend", ["cpp", "python", "cpp+gyro"])
def test_crazyflie_odometry_backends_decode_to_the_true_state(hover_bundle, backend):
    backend, _, gyro = backend.partition("+")
    over = {"params.backend": backend, **({"params.rates": gyro} if gyro else {})}
    prof = load_profile("crazyflie").with_overrides(over)
    rt = Runtime(load_bundle(hover_bundle), prof, goal=[0, 0, 1])
    q0 = frames.euler_to_quat(0.1, -0.2, 0.7)
    w = np.array([0.3, -0.5, 0.9])  # body rates, rad/s
    q1 = frames.quat_multiply(
        q0,
        np.r_[
            np.sin(np.linalg.norm(w) * DT / 2) * w / np.linalg.norm(w),
            np.cos(np.linalg.norm(w) * DT / 2),
        ],
    )
    vel = np.array([0.5, -0.3, 0.2])
    for k, q in enumerate((q0, q1)):
        state = {
            "pos": np.array([0.1, 0.2, 1.0]),
            "quat": q,
            "vel": vel,
            "ang_vel": w,
            "goal_rel": np.zeros(3),
        }
        feed(rt, state, 1.0 + k * DT)
    a = rt.adapter
    assert abs(abs(float(np.dot(a.quat, q1))) - 1.0) < 1e-9
    np.testing.assert_allclose(a.vel, vel, atol=1e-9)
    # cpp without a gyro: estimated from the two attitudes (exact only for a constant rate)
    # (the gyro log's values are float32)
    rtol = 1e-6 if gyro else 1e-3 if backend == "cpp" else 1e-9
    np.testing.assert_allclose(a.ang_vel, w, rtol=rtol)


def _rotate(q: np.ndarray, w: np.ndarray, dt: float) -> np.ndarray:
    """Attitude after turning at body rates ``w`` for ``dt``."""
    angle = float(np.linalg.norm(w)) * dt
    axis = w / max(float(np.linalg.norm(w)), 1e-12)
    return frames.quat_multiply(q, np.r_[np.sin(angle / 2) * axis, np.cos(angle / 2)])


def test_crazyflie_rates_without_a_gyro_are_an_estimate_and_a_gyro_log_is_exact(hover_bundle):
    """The C++ server's odometry has no angular velocity. Estimated from attitudes at the
    servers' default 10 Hz, a rate step shows up one sample late, as the mean over the
    interval; with ``params.rates: gyro`` the gyro log gives the true rates at once."""
    period = 0.1  # Crazyswarm2's default odometry / pose rate
    w0, w1 = np.zeros(3), np.array([0.0, 0.0, 2.0])  # a yaw-rate step at t = 1.0 s
    runs = {}
    for rates in ("attitude", "gyro"):
        prof = load_profile("crazyflie").with_overrides({"params.rates": rates})
        rt = Runtime(load_bundle(hover_bundle), prof, goal=[0, 0, 1])
        q, seen = np.array([0.0, 0.0, 0.0, 1.0]), []
        for k in range(13):
            t = 0.1 + k * period
            w = w1 if t >= 1.0 - 1e-9 else w0
            state = drone_state()
            state["quat"], state["ang_vel"] = q, w
            feed(rt, state, t)
            seen.append((t, None if rt.adapter.ang_vel is None else rt.adapter.ang_vel[2]))
            q = _rotate(q, w, period)
        runs[rates] = seen
    est, gyro = runs["attitude"], runs["gyro"]
    assert est[0][1] is None  # one attitude is no rate: not READY until the second sample
    assert gyro[0][1] == pytest.approx(0.0)
    step = next(i for i, (t, _) in enumerate(gyro) if t >= 1.0 - 1e-9)
    assert gyro[step][1] == pytest.approx(2.0)  # the gyro: on time
    assert est[step][1] == pytest.approx(0.0, abs=1e-9)  # the estimate: one sample late
    assert est[step + 1][1] == pytest.approx(2.0, rel=1e-6)  # then exact (constant rate)


def test_crazyflie_gyro_rates_need_the_gyro_topic_and_fit_only_sources_without_one(hover_bundle):
    prof = load_profile("crazyflie").with_overrides({"params.rates": "gyro"})
    rt = Runtime(load_bundle(hover_bundle), prof, goal=[0, 0, 1])
    assert set(rt.watchdog.roles) == {"odometry", "gyro"}
    feed(rt, drone_state(), 1.0, skip=("gyro",))
    feed(rt, drone_state(), 1.0 + DT, skip=("gyro",))
    rt.tick(1.0 + DT)
    assert rt.state is State.WAIT_INPUTS  # no rates, no policy
    log = build("crazyflie_interfaces/msg/LogDataGeneric", {"values": [1.0, 2.0]})
    rt.on_message("gyro", log, 1.0 + DT)
    assert "gyro.x, gyro.y, gyro.z" in rt.counters.faults[-1]
    python = {"params.rates": "gyro", "params.backend": "python"}
    with pytest.raises(AdapterError, match="already carries the gyro"):
        Runtime(load_bundle(hover_bundle), load_profile("crazyflie").with_overrides(python))


def test_a_velocity_spike_never_reaches_the_network(hover_bundle):
    rt = Runtime(load_bundle(hover_bundle), load_profile("generic_drone"), goal=[0, 0, 1])
    t = active(rt)
    rt.tick(t)
    obs = rt.last_obs.copy()
    spike = drone_state(vel=(22.0, 0.0, 0.0))  # a visual-odometry glitch
    feed(rt, spike, t + DT)
    rt.tick(t + DT)
    assert rt.counters.implausible == 1 and "speed 22" in rt.counters.faults[-1]
    np.testing.assert_array_equal(rt.last_obs[:12], obs[:12])  # the state part did not change
    assert rt.state is State.ACTIVE


def test_an_estimator_reset_is_stale_then_becomes_the_new_reference(hover_bundle):
    rt = Runtime(load_bundle(hover_bundle), load_profile("generic_drone"), goal=[0, 0, 1])
    t = active(rt)
    rt.tick(t)
    for k in range(1, 30):  # the position jumps by 1.5 m and stays there
        feed(rt, drone_state(pos=(1.5, 0.0, 1.0)), t + k * DT)
        rt.tick(t + k * DT)
    assert rt.state is State.FALLBACK and "stale" in rt.fault
    assert "position jumped" in " ".join(rt.counters.faults)
    np.testing.assert_allclose(rt.adapter.pos, [1.5, 0.0, 1.0])  # accepted after staleness_s


def test_a_vehicle_outside_the_plausible_box_never_gets_ready(hover_bundle):
    rt = Runtime(load_bundle(hover_bundle), load_profile("generic_drone"), goal=[0, 0, 1])
    for k in range(10):
        feed(rt, drone_state(pos=(0.0, 0.0, 9.0)), k * DT)
        rt.tick(k * DT)
    assert rt.state is State.WAIT_INPUTS and rt.counters.implausible == 10
