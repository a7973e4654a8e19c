"""The six Crazyflie tasks: gymnasium conformance, determinism, resets, endings, success."""

from __future__ import annotations

import math

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import sims
from sims.drone.base import DroneTask
from tests import scripted

DRONE_TASKS = [tid for tid in sims.BUILTIN_TASKS if "Drone" in tid]


@pytest.fixture(scope="module")
def envs():
    made: dict[tuple[str, str], DroneTask] = {}

    def get(tid: str, mode: str = "velocity") -> DroneTask:
        if (tid, mode) not in made:
            made[(tid, mode)] = sims.make(tid, action_mode=mode)
        return made[(tid, mode)]

    yield get
    for env in made.values():
        env.close()


def rollout(env, seed: int, policy, max_steps: int = 10_000) -> tuple[list[np.ndarray], dict]:
    obs, info = env.reset(seed=seed)
    seen = [obs.copy()]
    for _ in range(max_steps):
        obs, _, term, trunc, info = env.step(policy(env, info["state"]))
        seen.append(obs.copy())
        if term or trunc:
            break
    return seen, info


def test_six_drone_tasks_registered():
    assert len(DRONE_TASKS) == 6
    assert [t.split("/")[1] for t in DRONE_TASKS] == [
        "DroneHover-v0",
        "DroneGates-v0",
        "DroneObstacles-v0",
        "DroneWallLanding-v0",
        "DroneTrajectory-v0",
        "DroneOrbit-v0",
    ]
    for tid in DRONE_TASKS:
        spec = sims.get_spec(tid)
        assert spec.robot == "crazyflie2x"
        assert 30 <= spec.control_hz <= 50 and spec.physics_hz == 240
        assert {"flipped", "success"} <= {r.name for r in spec.termination_reasons}
        assert [r.name for r in spec.termination_reasons if r.kind == "truncated"] in (
            ["timeout"],
            ["timeout", "success"],
            [],
        )
        assert spec.task_metrics and spec.task_metrics[0].name == "success"


@pytest.mark.parametrize("tid", DRONE_TASKS)
@pytest.mark.parametrize("mode", ["velocity", "ctbr", "motors"])
def test_check_env(envs, tid, mode):
    env = envs(tid, mode)
    check_env(env, skip_render_check=True)
    assert env.observation_space.shape == (env.task_spec.obs_size,)


@pytest.mark.parametrize("tid", DRONE_TASKS)
def test_seeded_determinism(tid):
    a, b = sims.make(tid, randomize=True), sims.make(tid, randomize=True)
    rng = np.random.default_rng(3)
    actions = rng.uniform(-1, 1, (60, 4))
    oa, _ = a.reset(seed=11)
    ob, _ = b.reset(seed=11)
    np.testing.assert_array_equal(oa, ob)
    for act in actions:
        ra = a.step(act)
        rb = b.step(act)
        np.testing.assert_array_equal(ra[0], rb[0])
        assert ra[1:4] == rb[1:4]
        if ra[2] or ra[3]:
            break
    assert a.params == b.params
    a.close(), b.close()


@pytest.mark.parametrize("tid", DRONE_TASKS)
def test_restore_reset_equals_fresh_world(envs, tid):
    used = envs(tid)
    rng = np.random.default_rng(0)
    used.reset(seed=1)
    for _ in range(40):  # dirty the world: motion, contacts, moved bodies
        _, _, term, trunc, _ = used.step(rng.uniform(-1, 1, 4))
        if term or trunc:
            used.reset()
    fresh = sims.make(tid)
    o1, _ = used.reset(seed=7)
    o2, _ = fresh.reset(seed=7)
    np.testing.assert_array_equal(o1, o2)
    for act in rng.uniform(-1, 1, (30, 4)):
        s1, s2 = used.step(act), fresh.step(act)
        np.testing.assert_allclose(s1[0], s2[0], atol=1e-12)
        if s1[2] or s1[3]:
            break
    fresh.close()


@pytest.mark.parametrize("tid", DRONE_TASKS)
def test_scripted_pilot_succeeds(envs, tid):
    env = envs(tid)
    results = [scripted.fly(env, seed) for seed in range(3)]
    wins = [r for r in results if r["is_success"]]
    assert len(wins) >= 2, [r["termination_reason"] for r in results]
    for r in wins:
        assert r["termination_reason"] == "success"
        assert r["task_metrics"]["success"] == 1.0


def test_motors_off_drone_crashes(envs):
    env = envs("agentic_rl/DroneGates-v0", "motors")  # starts airborne at ~1 m
    _, info = rollout(env, 0, lambda e, s: -np.ones(4))
    assert info["termination_reason"] == "crash"
    assert not info["is_success"]


def test_info_contract(envs):
    env = envs("agentic_rl/DroneHover-v0")
    obs, info = env.reset(seed=0)
    state = info["state"]
    assert list(state) == list(env.task_spec.field_names)
    flat = np.concatenate([np.ravel(state[k]) for k in state])
    np.testing.assert_array_equal(flat, obs)
    with pytest.raises((ValueError, TypeError)):
        state["pos"][0] = 1.0  # read-only snapshot
    with pytest.raises(TypeError):
        state["pos"] = np.zeros(3)  # type: ignore[index]
    import copy
    import pickle

    for clone in (copy.deepcopy(state), pickle.loads(pickle.dumps(state))):
        assert type(clone) is type(state) and np.array_equal(clone["pos"], state["pos"])
    _, r, _, _, info = env.step(np.zeros(4))
    assert {"state", "reward_terms", "is_success", "termination_reason"} <= set(info)
    assert info["reward_terms"] == {"success": 0.0} and r == 0.0
    with pytest.raises(ValueError, match="NaN"):
        env.step(np.array([np.nan, 0, 0, 0]))
    with pytest.raises(ValueError, match="components"):
        env.step(np.zeros(3))


# ---------------------------------------------------------------------------- endings
def _toward(env, target_rel: np.ndarray, speed: float = 0.9) -> np.ndarray:
    return scripted._to_action(env, scripted._limit(2.5 * np.asarray(target_rel), speed))


def _climb_then(pattern):
    """Motors mode: full throttle to 0.6 m, then the given rotor pattern."""

    def pilot(env, s):
        if s["pos"][2] < 0.6 and s["vel"][2] >= 0 and not pilot.done:
            return np.ones(4)
        pilot.done = True
        return np.asarray(pattern, dtype=float)

    pilot.done = False
    return pilot


def _climb_out(env, s):
    return np.array([0.0, 0.0, 1.0, 0.0])


def _idle(env, s):
    return np.zeros(4)


def _gate_post(env, s):
    n = s["gate_normal"]
    side = np.array([-n[1], n[0], 0.0])
    return _toward(env, s["gate_rel"] + 0.3 * side + 0.3 * n)


def _beside_gate(env, s):
    n = s["gate_normal"]
    side = np.array([-n[1], n[0], 0.0])
    return _toward(env, s["gate_rel"] + 0.7 * side + 0.6 * n)


def _into_pillar(env, s):
    dx, dy = s["obstacle_rel"][0]
    return _toward(env, np.array([dx, dy, 0.0]) * 2)


def _into_wall(env, s):
    if s["pos"][2] < 0.5:
        return _toward(env, np.array([0.0, 0.0, 0.6]))
    return _toward(env, np.array([1.0, 0.0, 0.0]))


def _landing(offset: float, vz: float):
    def pilot(env, s):
        if s["crossed"] < 0.5:
            return scripted.wall_landing(env, s)
        target = s["pad_rel"] + np.array([offset, 0.0, 0.0])
        if np.linalg.norm(target[:2]) > 0.04:
            v = np.array([1.5 * target[0], 1.5 * target[1], 2.0 * (0.4 + target[2])])
        else:
            v = np.array([1.5 * target[0], 1.5 * target[1], vz])
        return scripted._to_action(env, scripted._limit(v, 1.0))

    return pilot


def _lazy_tracker(env, s):
    return scripted._to_action(env, s["ref_vel"] + 1.0 * s["ref_rel"])


HOVER, GATES, OBST, WALL, TRAJ, ORBIT = DRONE_TASKS
ENDINGS = [
    # (task, action mode, expected reason, pilot, seeds to try)
    *[(t, "motors", "flipped", _climb_then([1, 1, -1, -1]), [0]) for t in DRONE_TASKS],
    *[(t, "motors", "crash", _climb_then([-1, -1, -1, -1]), [0]) for t in DRONE_TASKS[:4]],
    *[(t, "velocity", "out_of_bounds", _climb_out, [0]) for t in DRONE_TASKS[:4]],
    (ORBIT, "motors", "crash", _climb_then([-1, -1, -1, -1]), [0]),
    (ORBIT, "velocity", "out_of_bounds", _climb_out, [0]),
    (HOVER, "velocity", "timeout", _idle, [0, 1]),
    (GATES, "velocity", "collision", _gate_post, [0, 1, 2]),
    (GATES, "velocity", "missed_gate", _beside_gate, [0, 1, 2]),
    (GATES, "velocity", "timeout", _idle, [0]),
    (OBST, "velocity", "collision", _into_pillar, [0, 1, 2]),
    (OBST, "velocity", "timeout", _idle, [0]),
    (WALL, "velocity", "collision", _into_wall, [0]),
    (WALL, "velocity", "timeout", _idle, [0]),
    (WALL, "velocity", "hard_landing", _landing(0.0, -1.0), [0, 1]),
    (WALL, "velocity", "missed_pad", _landing(0.3, -0.25), [0, 1]),
    (TRAJ, "velocity", "lost_track", _idle, [0]),
    (TRAJ, "velocity", "poor_tracking", _lazy_tracker, [0, 1, 2, 3]),
    (ORBIT, "velocity", "timeout", _idle, [0]),
]


@pytest.mark.parametrize(
    "tid,mode,reason,pilot,seeds",
    ENDINGS,
    ids=[f"{t.split('/')[1]}-{r}" for t, _, r, *_ in ENDINGS],
)
def test_termination_reason_reachable(envs, tid, mode, reason, pilot, seeds):
    env = envs(tid, mode)
    got = []
    for seed in seeds:
        if hasattr(pilot, "done"):
            pilot.done = False
        _, info = rollout(env, seed, pilot)
        got.append(info["termination_reason"])
        if got[-1] == reason:
            break
    assert got[-1] == reason, got
    spec_reason = next(r for r in env.task_spec.termination_reasons if r.name == reason)
    assert info["is_success"] is spec_reason.success
    assert "task_metrics" in info


def test_every_declared_reason_is_covered():
    covered = {(t, r) for t, _, r, *_ in ENDINGS}
    covered |= {(t, "success") for t in DRONE_TASKS}  # test_scripted_pilot_succeeds
    for tid in DRONE_TASKS:
        for r in sims.get_spec(tid).termination_reasons:
            assert (tid, r.name) in covered, f"{tid}: no test reaches {r.name!r}"


# ---------------------------------------------------------------------------- randomization
def test_randomization_samples_and_applies():
    env = sims.make("DroneHover", randomize={"mass": (0.8, 1.2), "wind": (0.0, 0.01)})
    masses = set()
    for seed in range(5):
        _, info = env.reset(seed=seed)
        masses.add(round(info["params"]["mass"], 6))
        assert 0.8 <= info["params"]["mass"] <= 1.2
        assert info["params"]["motor_thrust"] == 1.0  # not named: nominal
    assert len(masses) == 5
    _, info = env.reset(seed=0, options={"params": {"mass": 1.5}})
    assert info["params"]["mass"] == 1.5
    assert math.isclose(env.airframe.mass, 0.027 * 1.5)
    env.close()


def test_heavier_drone_sinks_under_nominal_hover_thrust():
    def final_z(mass):
        env = sims.make("DroneGates", action_mode="motors")
        h = 2 * 14_477.0 / 21_715.8 - 1  # nominal hover rpm, normalized
        env.reset(seed=0, options={"params": {"mass": mass, "action_delay": 0.0}})
        z0 = env.state["pos"][2]
        for _ in range(20):
            env.step(np.full(4, h))
        z = env.state["pos"][2] - z0
        env.close()
        return z

    assert final_z(1.3) < final_z(1.0) - 0.05


@pytest.mark.parametrize(
    "randomize,match",
    [
        ({"mass": (1.3, 0.9)}, "low > high"),
        ({"mass": (0.1, 1.0)}, "supported interval"),
        ({"mas": (0.9, 1.1)}, "Did you mean 'mass'"),
        ({"mass": (0.9, float("nan"))}, "not finite"),
        ({"mass": 3}, "pair"),
        ("yes", "True, False or a mapping"),
    ],
)
def test_invalid_randomization_is_a_clear_error(randomize, match):
    with pytest.raises(sims.RandomizationError, match=match):
        sims.make("DroneHover", randomize=randomize)


def test_bad_action_mode_names_the_value():
    with pytest.raises(ValueError, match=r"'thrust'.*velocity"):
        sims.make("DroneHover", action_mode="thrust")


def test_sensor_noise_and_obs_delay_change_observation_not_state():
    env = sims.make("DroneHover", randomize={"sensor_noise": (1.0, 1.0)})
    obs, info = env.reset(seed=0)
    flat = np.concatenate([np.ravel(v) for v in info["state"].values()])
    assert not np.array_equal(obs, flat)
    assert np.abs(obs - flat).max() < 0.1
    env.close()


def test_scene_image_and_render(envs):
    env = sims.make("DroneGates", render_mode="rgb_array", render_size=(96, 64))
    env.reset(seed=0)
    frame = env.render()
    assert frame.shape == (64, 96, 3) and frame.dtype == np.uint8
    assert frame.std() > 5  # not blank
    img = env.scene_image(160, 120)
    assert img.shape == (120, 160, 3)
    env.close()


def test_ground_effect_adds_lift_near_the_floor():
    def climb(ground_effect: bool) -> float:
        env = sims.make("DroneHover", action_mode="motors", ground_effect=ground_effect)
        seed = next(s for s in range(20) if env.reset(seed=s)[1]["state"]["pos"][2] < 0.05)
        env.reset(seed=seed)  # a start on the floor
        h = 2 * 14_600.0 / 21_715.8 - 1  # just above nominal hover
        for _ in range(10):
            env.step(np.full(4, h))
        z = float(env.state["pos"][2])
        env.close()
        return z

    assert climb(True) > climb(False)


def test_videos_follow_the_body_unless_the_task_asks_for_its_overview_camera():
    from sims.drone.hover import DroneHover

    class Overview(DroneHover):
        VIDEO_CAMERA = "overview"

    class Typo(DroneHover):
        VIDEO_CAMERA = "overveiw"

    frames = {}
    for cls in (DroneHover, Overview, Typo):
        env = cls(render_mode="rgb_array", render_size=(64, 48))
        env.reset(seed=3)
        env.step(np.zeros(env.action_space.shape))
        try:
            frames[cls] = (env.render(), env.scene_image(64, 48))
        except sims.TaskError as exc:
            frames[cls] = str(exc)
        finally:
            env.close()
    assert not np.array_equal(*frames[DroneHover])  # the follow camera
    assert np.array_equal(*frames[Overview])
    assert "hook VIDEO_CAMERA" in frames[Typo] and "'overveiw'" in frames[Typo]
