"""The Franka Panda tasks: gymnasium contract, determinism, endings, scripted success, randomization.

The scripted controllers below are small state machines that read the same state snapshot a
reward program sees; they prove each task is solvable under its spec and that every
termination reason the spec declares can actually happen.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import gymnasium as gym
import numpy as np
import pybullet as p
import pytest
from gymnasium.utils.env_checker import check_env

import sims
from sims.arm.spec import EE_STEP, GOAL_TOLERANCE, JOINT_STEP, OBJECT_SIZE

REACH, PUSH, PICK = "agentic_rl/ArmReach-v0", "agentic_rl/ArmPush-v0", "agentic_rl/ArmPickPlace-v0"
TASKS = (REACH, PUSH, PICK)
MODES = ("ee_delta", "joint_delta")

State = Mapping[str, np.ndarray]


def toward(ee: np.ndarray, target: np.ndarray, gain: float = 1.0) -> np.ndarray:
    """An ee_delta action that moves the end effector toward ``target`` (saturating)."""
    return np.clip(gain * (target - ee) / EE_STEP, -1.0, 1.0)


class ReachController:
    """Straight at the goal."""

    def __call__(self, s: State) -> np.ndarray:
        return toward(s["ee_pos"], s["goal_pos"])


class PushController:
    """Go above a point behind the cube (seen from the goal), descend, push through the cube."""

    def __init__(self) -> None:
        self.pushing = False

    def __call__(self, s: State) -> np.ndarray:
        ee, obj, goal = s["ee_pos"], s["object_pos"], s["goal_pos"]
        u = (goal - obj)[:2] / (np.linalg.norm((goal - obj)[:2]) + 1e-9)
        push = toward(ee, np.append(obj[:2] + 0.05 * u, OBJECT_SIZE / 2), gain=0.4)
        if self.pushing:
            rel = ee[:2] - obj[:2]
            off_line = abs(rel[0] * u[1] - rel[1] * u[0])
            # Lost the cube (it slid sideways or ahead of the push line): approach again.
            self.pushing = off_line < 0.03 and float(rel @ u) < 0.0
            if self.pushing:
                return push
        behind = obj[:2] - 0.06 * u
        off = float(np.linalg.norm(ee[:2] - behind))
        if off > 0.015:
            # Far away: travel above the cube's height so as not to knock it.
            return toward(ee, np.append(behind, 0.08 if off > 0.03 else ee[2]))
        if ee[2] > 0.03:
            return toward(ee, np.append(behind, OBJECT_SIZE / 2))
        self.pushing = True
        return push


class PickPlaceController:
    """Open above the cube, descend, close for a few steps, then carry it to the goal."""

    def __init__(self) -> None:
        self.closing_steps = 0

    def __call__(self, s: State) -> np.ndarray:
        ee, obj, goal = s["ee_pos"], s["object_pos"], s["goal_pos"]
        if self.closing_steps == 0:
            if np.linalg.norm((obj - ee)[:2]) > 0.01:
                return np.append(toward(ee, obj + np.array([0.0, 0.0, 0.06])), 1.0)
            if abs(obj[2] - ee[2]) > 0.008:
                return np.append(toward(ee, obj), 1.0)
        if self.closing_steps < 3:
            self.closing_steps += 1
            return np.array([0.0, 0.0, 0.0, -1.0])
        return np.append(toward(ee, goal), -1.0)


CONTROLLERS: dict[str, Callable[[], Callable[[State], np.ndarray]]] = {
    REACH: ReachController,
    PUSH: PushController,
    PICK: PickPlaceController,
}


def run_episode(
    env: sims.SimTask, policy: Callable[[State], np.ndarray], **reset_kw: object
) -> tuple[dict, int]:
    """Run one episode; returns the last info and the number of steps."""
    _, info = env.reset(**reset_kw)
    state = info["state"]
    while True:
        _, _, terminated, truncated, info = env.step(policy(state))
        state = info["state"]
        if terminated or truncated:
            return info, env.elapsed_steps


@pytest.fixture(scope="module")
def envs() -> dict[str, sims.SimTask]:
    """One nominal ee_delta env per task, shared by tests that only reset and step it."""
    made = {tid: sims.make(tid) for tid in TASKS}
    yield made
    for env in made.values():
        env.close()


# ---------------------------------------------------------------------- contract
@pytest.mark.filterwarnings("ignore:.*infinity.*")
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("task", TASKS)
def test_check_env(task: str, mode: str) -> None:
    # Made through gym.make so that the env has a spec and check_env also tries the other
    # render modes; checked unwrapped, as check_env recommends.
    env = gym.make(task, action_mode=mode, render_mode="rgb_array", render_size=(32, 24))
    try:
        check_env(env.unwrapped, skip_render_check=False)
    finally:
        env.close()


@pytest.mark.parametrize("task", TASKS)
def test_gym_make_uses_registered_id(task: str) -> None:
    env = gym.make(task)
    try:
        assert env.unwrapped.task_spec.id == task
    finally:
        env.close()


@pytest.mark.parametrize("task", TASKS)
def test_spec_is_complete(task: str) -> None:
    gripper = task == PICK
    spec = sims.get_spec(task)
    assert spec.robot == "panda"
    assert spec.max_episode_steps == 50 and spec.control_hz == 25
    assert spec.constants["goal_tolerance"] == GOAL_TOLERANCE
    assert spec.action.shape == ((4,) if gripper else (3,))
    assert sims.get_spec(task, "joint_delta").action.shape == ((8,) if gripper else (7,))
    assert len(spec.action.components) == spec.action.shape[0]
    names = set(spec.field_names)
    assert {"ee_pos", "ee_vel", "joint_pos", "joint_vel", "goal_pos"} <= names
    assert ("gripper_width" in names) == gripper
    if task == REACH:
        assert "goal_rel" in names and "object_pos" not in names
    else:
        assert {"object_pos", "object_vel", "object_rel_ee", "object_rel_goal"} <= names
    for field in spec.state_fields:
        assert field.unit and field.frame and field.description
    reasons = {r.name: r for r in spec.termination_reasons}
    assert reasons["success"].success and reasons["success"].kind == "terminated"
    assert reasons["timeout"].kind == "truncated" and not reasons["timeout"].success
    assert ("dropped_object" in reasons) == (task != REACH)
    metrics = {m.name: m for m in spec.task_metrics}
    assert metrics["success"].higher_is_better and not metrics["final_distance"].higher_is_better
    params = {r.name for r in spec.randomization}
    assert {"joint_damping", "controller_gain", "action_latency", "sensor_noise"} <= params
    assert ({"friction", "object_mass"} <= params) == (task != REACH)
    with pytest.raises(ValueError, match="no action mode"):
        sims.get_spec(task, "torque")


def test_state_fields_match_the_simulation(envs: dict[str, sims.SimTask]) -> None:
    env = envs[PICK]
    obs, info = env.reset(seed=3)
    s = info["state"]
    assert obs.shape == (env.task_spec.obs_size,)
    np.testing.assert_allclose(s["object_rel_ee"], s["object_pos"] - s["ee_pos"])
    np.testing.assert_allclose(s["object_rel_goal"], s["object_pos"] - s["goal_pos"])
    pos, _ = p.getBasePositionAndOrientation(env.object, physicsClientId=env.client)
    np.testing.assert_allclose(s["object_pos"], pos)
    np.testing.assert_allclose(s["object_pos"][2], OBJECT_SIZE / 2, atol=1e-6)
    # At the neutral pose the gripper points down and is closed.
    np.testing.assert_allclose(np.abs(s["ee_quat"]), [1, 0, 0, 0], atol=0.02)
    assert s["gripper_width"] == pytest.approx(0.0, abs=1e-6)
    assert np.linalg.norm(s["object_rel_goal"]) >= 0.1  # no episode starts solved


# ---------------------------------------------------------------------- determinism
@pytest.mark.parametrize("task", TASKS)
def test_same_seed_same_trajectory(task: str) -> None:
    """Two envs, randomized physics and sensor noise, same seed and actions: identical."""
    actions = np.random.default_rng(0).uniform(-1, 1, (25, *sims.get_spec(task).action.shape))
    runs = []
    for _ in range(2):
        env = sims.make(task, randomize=True)
        obs, info = env.reset(seed=11)
        traj = [obs.copy()]
        for a in actions:
            obs, *_ = env.step(a)
            traj.append(obs.copy())
        runs.append((np.array(traj), info["params"]))
        env.close()
    np.testing.assert_array_equal(runs[0][0], runs[1][0])
    assert runs[0][1] == runs[1][1]


@pytest.mark.parametrize("task", TASKS)
def test_reset_restores_a_fresh_world(task: str) -> None:
    """After an episode that moved everything, reset(seed) equals a new env's reset(seed)."""
    used = sims.make(task)
    used.reset(seed=1)
    rng = np.random.default_rng(1)
    for _ in range(20):
        _, _, terminated, truncated, _ = used.step(rng.uniform(-1, 1, used.action_space.shape))
        if terminated or truncated:
            break
    fresh = sims.make(task)
    a = [used.reset(seed=7)[0]]
    b = [fresh.reset(seed=7)[0]]
    for act in np.random.default_rng(2).uniform(-1, 1, (10, *used.action_space.shape)):
        a.append(used.step(act)[0])
        b.append(fresh.step(act)[0])
    np.testing.assert_array_equal(np.array(a), np.array(b))
    used.close()
    fresh.close()


# ---------------------------------------------------------------------- endings
@pytest.mark.parametrize("task", TASKS)
def test_scripted_controller_succeeds(task: str, envs: dict[str, sims.SimTask]) -> None:
    env = envs[task]
    outcomes = []
    for seed in range(4):
        info, steps = run_episode(env, CONTROLLERS[task](), seed=seed)
        outcomes.append(info["termination_reason"])
        if info["is_success"]:
            assert info["termination_reason"] == "success"
            metrics = info["task_metrics"]
            assert metrics["success"] == 1.0
            assert metrics["final_distance"] < GOAL_TOLERANCE
            assert metrics["time_to_success"] == pytest.approx(steps / 25.0)
    assert outcomes.count("success") >= 3, outcomes


@pytest.mark.parametrize("task", TASKS)
def test_every_termination_reason_is_reachable(task: str, envs: dict[str, sims.SimTask]) -> None:
    env = envs[task]
    n_act = env.action_space.shape[0]
    seen: dict[str, dict] = {}

    info, _ = run_episode(env, CONTROLLERS[task](), seed=0)
    seen[info["termination_reason"]] = info
    info, steps = run_episode(env, lambda s: np.zeros(n_act), seed=0)
    assert steps == 50
    seen[info["termination_reason"]] = info
    sideways = np.zeros(n_act)
    sideways[1] = 1.0  # +y in ee_delta mode, until the end effector leaves the table's width
    info, _ = run_episode(env, lambda s: sideways, seed=0)
    seen[info["termination_reason"]] = info
    if task == PUSH:
        # A goal beyond the table's edge: the push controller shoves the cube off the table.
        opts = {"object_pos": [0.0, 0.2, 0.02], "goal_pos": [0.0, 0.6, 0.02]}
        info, _ = run_episode(env, PushController(), seed=0, options=opts)
        seen[info["termination_reason"]] = info
    if task == PICK:
        # A cube released above the floor beside the table falls past the table top.
        info, _ = run_episode(
            env, lambda s: np.zeros(n_act), seed=0, options={"object_pos": [0.0, 0.5, 0.3]}
        )
        seen[info["termination_reason"]] = info

    declared = {r.name: r for r in env.task_spec.termination_reasons}
    assert set(seen) == set(declared)
    for name, info in seen.items():
        assert info["is_success"] == declared[name].success
        assert info["task_metrics"]["success"] == float(declared[name].success)
    assert seen["timeout"]["task_metrics"]["time_to_success"] == pytest.approx(2.0)


def test_step_after_end_and_bad_reset_options_raise(envs: dict[str, sims.SimTask]) -> None:
    env = envs[PUSH]
    run_episode(env, lambda s: np.zeros(3), seed=0)
    with pytest.raises(RuntimeError, match="reset"):
        env.step(np.zeros(3))
    with pytest.raises(ValueError, match="3 finite numbers"):
        env.reset(options={"goal_pos": [0.0, 0.1]})
    with pytest.raises(ValueError, match="valid options"):
        env.reset(options={"goal": [0.0, 0.1, 0.0]})
    with pytest.raises(ValueError, match="valid options"):
        envs[REACH].reset(options={"object_pos": [0.0, 0.1, 0.02]})


def test_pinned_goal_and_object(envs: dict[str, sims.SimTask]) -> None:
    _, info = envs[PUSH].reset(
        seed=0, options={"goal_pos": [0.1, -0.1, 0.02], "object_pos": [-0.1, 0.1, 0.02]}
    )
    np.testing.assert_allclose(info["state"]["goal_pos"], [0.1, -0.1, 0.02])
    np.testing.assert_allclose(info["state"]["object_pos"], [-0.1, 0.1, 0.02])


# ---------------------------------------------------------------------- action modes
@pytest.mark.parametrize("task", (REACH, PICK))
def test_joint_delta_moves_joints_and_can_reach(task: str) -> None:
    env = sims.make(task, action_mode="joint_delta")
    _, info = env.reset(seed=0)
    q0 = info["state"]["joint_pos"].copy()
    action = np.zeros(env.action_space.shape)
    action[0] = 1.0
    _, _, _, _, info = env.step(action)
    dq = info["state"]["joint_pos"] - q0
    # joint 1 tracks most of its +JOINT_STEP target within the 40 ms step; the others hold.
    assert 0.6 * JOINT_STEP < dq[0] <= JOINT_STEP + 1e-3
    assert np.all(np.abs(dq[1:]) < 0.2 * JOINT_STEP)
    if task == REACH:
        # Joint-space servo to an IK solution of the goal.
        _, info = env.reset(seed=1)
        q_goal = env.robot.inverse_kinematics(info["state"]["goal_pos"])
        info, _ = run_episode(
            env,
            lambda s: np.clip((q_goal - s["joint_pos"]) / JOINT_STEP, -1, 1),
            seed=1,
        )
        assert info["termination_reason"] == "success"
    env.close()


def test_gripper_opens_and_closes(envs: dict[str, sims.SimTask]) -> None:
    env = envs[PICK]
    env.reset(seed=0)
    for _ in range(3):
        _, _, _, _, info = env.step(np.array([0.0, 0.0, 0.0, 1.0]))
    assert info["state"]["gripper_width"] > 0.07
    for _ in range(3):
        _, _, _, _, info = env.step(np.array([0.0, 0.0, 0.0, -1.0]))
    assert info["state"]["gripper_width"] < 0.01


def test_ee_delta_keeps_gripper_down_and_above_table(envs: dict[str, sims.SimTask]) -> None:
    env = envs[REACH]
    _, info = env.reset(seed=0)
    for _ in range(8):
        _, _, terminated, _, info = env.step(np.array([0.0, 0.0, -1.0]))
        if terminated:
            break
    s = info["state"]
    assert s["ee_pos"][2] > -0.01  # targets below the table top are clipped to it
    np.testing.assert_allclose(np.abs(s["ee_quat"]), [1, 0, 0, 0], atol=0.05)


# ---------------------------------------------------------------------- randomization
def test_randomization_samples_and_applies_params() -> None:
    env = sims.make(PUSH, randomize=True)
    spec_params = {r.name: r for r in env.task_spec.randomization}
    seen = []
    for seed in range(3):
        _, info = env.reset(seed=seed)
        params = info["params"]
        for name, value in params.items():
            assert spec_params[name].low <= value <= spec_params[name].high
        seen.append(params)
        mass = p.getDynamicsInfo(env.object, -1, physicsClientId=env.client)[0]
        assert mass == pytest.approx(params["object_mass"])
        friction = p.getDynamicsInfo(env.table, -1, physicsClientId=env.client)[1]
        assert friction == pytest.approx(0.5 * params["friction"])
    assert seen[0] != seen[1] != seen[2]
    # Pinned values override the draw, and a nominal reset restores the nominal physics.
    _, info = env.reset(seed=0, options={"params": {"object_mass": 2.0}})
    assert p.getDynamicsInfo(env.object, -1, physicsClientId=env.client)[0] == pytest.approx(2.0)
    env.close()


def test_sensor_noise_perturbs_observation_not_state() -> None:
    env = sims.make(PUSH)
    obs, info = env.reset(seed=0)
    np.testing.assert_array_equal(
        obs, np.concatenate([np.ravel(v) for v in info["state"].values()])
    )
    obs, info = env.reset(seed=0, options={"params": {"sensor_noise": 0.01}})
    s = info["state"]
    bounds = np.cumsum([0] + [f.size for f in env.task_spec.state_fields])
    noisy = {
        f.name: obs[a:b]
        for f, a, b in zip(env.task_spec.state_fields, bounds[:-1], bounds[1:], strict=True)
    }
    assert not np.allclose(noisy["object_pos"], s["object_pos"])
    np.testing.assert_array_equal(noisy["goal_pos"], s["goal_pos"])  # the goal is known exactly
    # Relative fields stay consistent with the noisy absolute ones.
    np.testing.assert_allclose(noisy["object_rel_ee"], noisy["object_pos"] - noisy["ee_pos"])
    env.close()


def test_action_latency_delays_motion(envs: dict[str, sims.SimTask]) -> None:
    env = envs[REACH]
    moved = {}
    for latency in (0.0, 0.032):
        _, info = env.reset(seed=0, options={"params": {"action_latency": latency}})
        x0 = info["state"]["ee_pos"][0]
        _, _, _, _, info = env.step(np.array([1.0, 0.0, 0.0]))
        moved[latency] = info["state"]["ee_pos"][0] - x0
    assert moved[0.0] > 0.02  # from rest, about half of the 0.05 m step within one step
    assert moved[0.032] < 0.5 * moved[0.0]


@pytest.mark.parametrize(
    ("task", "randomize", "match"),
    [
        (PUSH, {"object_mass": (2.0, 1.0)}, "low > high"),
        (PUSH, {"frction": (0.5, 1.0)}, "Did you mean 'friction'"),
        (PICK, {"controller_gain": (0.1, 1.0)}, "supported interval"),
        (REACH, {"friction": (0.5, 1.0)}, "no randomization parameter"),
        (REACH, {"action_latency": (0.0, float("nan"))}, "not finite"),
    ],
)
def test_invalid_randomization_raises(task: str, randomize: dict, match: str) -> None:
    with pytest.raises(sims.RandomizationError, match=match):
        sims.make(task, randomize=randomize)


def test_pinning_a_param_outside_hard_limits_raises(envs: dict[str, sims.SimTask]) -> None:
    with pytest.raises(sims.RandomizationError, match="supported interval"):
        envs[PUSH].reset(seed=0, options={"params": {"object_mass": 50.0}})


# ---------------------------------------------------------------------- rendering
@pytest.mark.parametrize("task", TASKS)
def test_scene_image_is_not_blank(task: str, envs: dict[str, sims.SimTask]) -> None:
    env = envs[task]
    env.reset(seed=0)
    img = env.scene_image(96, 72)
    assert img.shape == (72, 96, 3) and img.dtype == np.uint8
    assert img.std() > 20  # robot, table and floor, not one flat colour
    assert len(np.unique(img.reshape(-1, 3), axis=0)) > 50


def test_rendering_envs_show_the_visual_meshes() -> None:
    """Training envs skip the visual meshes (build time); envs built to render load them, and
    both draw the arm."""
    plain, video = sims.make(REACH).unwrapped, sims.make(REACH, render_mode="rgb_array").unwrapped
    shapes = [p.getVisualShapeData(e.robot.body, physicsClientId=e.client) for e in (plain, video)]
    # the plain arm has only the collision meshes' stand-ins; the video arm its visual meshes
    assert not any(b"visual" in s[4] for s in shapes[0])
    assert sum(b"visual" in s[4] for s in shapes[1]) >= 8
    images = []
    for env in (plain, video):
        env.reset(seed=0)
        images.append(env.scene_image(96, 72))
        env.close()
    # the same scene: both show the arm in the same place, in slightly different detail
    differ = (np.abs(images[0].astype(int) - images[1].astype(int)).sum(axis=2) > 30).mean()
    assert 0.0 < differ < 0.05


@pytest.mark.parametrize("seed", range(3))
def test_ee_step_lands_near_its_target_with_the_gripper_down(seed: int) -> None:
    """One damped-least-squares step reaches a 5 cm target within a few mm, checked with the
    robot side's forward kinematics of the exported chain."""
    from ros_bridge.kinematics import SerialChain
    from sims.arm.reach import ArmReach

    env = sims.make(REACH)
    task = env.unwrapped
    chain = SerialChain(
        ArmReach.command_model()["chain"], ArmReach.command_model()["base_position"]
    )
    _, info = env.reset(seed=seed)
    rng = np.random.default_rng(seed)
    for _ in range(10):
        s = info["state"]
        step = rng.normal(size=3)
        target = s["ee_pos"] + EE_STEP * step / np.linalg.norm(step)
        q = task.robot.ee_step(s["joint_pos"], s["ee_pos"], s["ee_quat"], target)
        pos, rot, _, _ = chain.forward(q)
        assert np.linalg.norm(pos - target) < 0.01
        assert rot[2, 2] < -0.999  # the hand's z axis still points down
        _, _, term, trunc, info = env.step(rng.uniform(-1, 1, 3))
        if term or trunc:
            _, info = env.reset(seed=seed + 100)
    env.close()
