"""Every built-in task deploys: the robot runs the task's own functions on the episode layout.

Export vendors the task's pure functions (observe, from_measurement, the event tracker) into
the bundle (``tasklib``) and records a default layout; record-sim writes each episode's layout
into its start marker; replay observes that course, so commands agree with the simulator's to
1e-5 on every profile that fits the task. The event trackers (gates passed, wall crossed, rest
time) run on the robot as in simulation, from the moment the policy is enabled.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from agentic_rl.export import export_bundle
from agentic_rl.export.simbag import record_sim
from ros_bridge import AdapterError, Runtime, load_bundle, load_profile
from ros_bridge.bags import ACTION_TOPIC, build, replay
from ros_bridge.measurement import Measurement
from ros_bridge.observation import ObservationError
from ros_bridge.package import generate_package
from ros_bridge.profiles import PROFILE_DIR
from ros_bridge.taskobs import TaskObservationError, read_layout
from tests import scripted
from tests.test_ros_bags import commands
from tests.test_ros_fixtures import _cached, random_policy
from tests.test_ros_runtime import DT, drone_state, feed

ROOT = Path(__file__).resolve().parent.parent
ALTITUDE = "agentic_rl_altitude.task:DroneAltitude"
DEPLOYABLE = [
    "DroneHover",
    "DroneGates",
    "DroneObstacles",
    "DroneWallLanding",
    "DroneTrajectory",
    "DroneOrbit",
    ALTITUDE,
]
#: Arm tasks and the action mode their bundles use.
ARM_TASKS = {"ArmReach": "joint_delta", "ArmPush": "ee_delta", "ArmPickPlace": "ee_delta"}
#: Exact parity needs the gyro in the odometry: Crazyswarm2's Python server carries it.
PROFILES = {
    "px4": {},
    "mavros": {},
    "crazyflie": {"params.backend": "python"},
    "generic_drone": {},
}


@pytest.fixture(scope="module", autouse=True)
def _altitude_importable():
    path = str(ROOT / "examples" / "custom_task")
    sys.path.insert(0, path)
    yield
    sys.path.remove(path)


def task_bundle(factory, task: str) -> Path:
    import sims

    def build(path: Path) -> None:
        spec = sims.get_spec(task)
        policy = random_policy(spec.obs_size, spec.action.shape[0], seed=5, scale=0.3)
        export_bundle(policy, task, path, golden_episodes=1)

    return _cached(factory, "task_" + task.replace(":", "_").replace(".", "_"), build)


def _parity(bundle: Path, profile: str, tmp: Path) -> float:
    sets = {"safety.slew_from_zero": 0.0, **PROFILES[profile]}
    record_sim(bundle, tmp / "sim", profile=profile, episodes=2, overrides=sets)
    res = replay(load_bundle(bundle), load_profile(profile).with_overrides(sets), tmp / "sim",
                 tmp / "rep")  # fmt: skip
    assert res.faults == [] and res.episodes == 2
    sim, rep = commands(tmp / "sim"), commands(tmp / "rep")
    assert set(sim) <= set(rep)  # every command and action, at its time
    assert sum(k[0] == ACTION_TOPIC for k in sim) > 20
    return max(float(np.abs(sim[k] - rep[k]).max()) for k in sim)


@pytest.mark.parametrize("task", DEPLOYABLE)
def test_every_drone_task_replays_with_parity_on_px4(tmp_path_factory, tmp_path, task):
    bundle = task_bundle(tmp_path_factory, task)
    meta = load_bundle(bundle).meta.task
    assert meta.observe and meta.layout and (bundle / "tasklib").is_dir()
    assert _parity(bundle, "px4", tmp_path) < 1e-5


@pytest.mark.slow
@pytest.mark.parametrize("profile", ["mavros", "crazyflie", "generic_drone"])
@pytest.mark.parametrize("task", DEPLOYABLE)
def test_every_drone_task_replays_with_parity_on_every_profile(
    tmp_path_factory, tmp_path, task, profile
):
    assert _parity(task_bundle(tmp_path_factory, task), profile, tmp_path) < 1e-5


@pytest.mark.parametrize(("task", "pilot"), [("DroneGates", scripted.gates),
                                             ("DroneWallLanding", scripted.wall_landing)])  # fmt: skip
def test_event_trackers_on_the_robot_see_what_the_simulator_saw(tmp_path_factory, task, pilot):
    """A scripted flight through the gates / over the wall onto the pad: the runtime's
    observation (events kept by the vendored tracker from the decoded messages) equals the
    simulator's state at every step, while the events change."""
    import sims

    bundle = load_bundle(task_bundle(tmp_path_factory, task))
    env = sims.make(task)
    task_env = env.unwrapped
    _, info = env.reset(seed=1)
    rt = Runtime(bundle, load_profile("generic_drone"), layout=task_env.layout)
    events = set()
    for k in range(task_env.task_spec.max_episode_steps):
        m = Measurement.from_values(task_env.to_measurement(task_env.robot_state()))
        for role, data in rt.adapter.encode_inputs(m, 1.0 + k * DT):
            rt.on_message(role, build(rt.profile.inputs[role].type, data), 1.0 + k * DT)
        if k == 0:
            rt.observation.start()  # the policy is enabled at the episode's start
        state = np.concatenate([np.ravel(v) for v in info["state"].values()])
        np.testing.assert_allclose(rt.observation.build(), state, atol=1e-9, err_msg=f"step {k}")
        events.add(json.dumps(rt.observation.events, sort_keys=True, default=str))
        action = pilot(task_env, info["state"])
        rt.observation.advance(action)
        _, _, term, trunc, info = env.step(action)
        if term or trunc:
            break
    env.close()
    assert info["is_success"], info["termination_reason"]
    assert len(events) > 10  # gates passed one by one / crossed, then resting step by step


def pilot_policy(spec, rows, bias=None):
    """A network that acts (nearly) linearly on chosen observation components: one tanh unit
    per ``(action index, field, component, gain)`` row, small enough to stay linear, plus an
    output ``bias``."""
    from agentic_rl.ppo.networks import Policy

    offset = {f.name: f.offset for f in _field_offsets(spec)}
    eps, n = 1e-3, spec.action.shape[0]
    w0, w1 = np.zeros((spec.obs_size, len(rows))), np.zeros((len(rows), n))
    for k, (a, field, comp, gain) in enumerate(rows):
        w0[offset[field] + comp, k], w1[k, a] = eps, gain / eps
    b1 = np.zeros(n) if bias is None else np.asarray(bias, np.float64)
    return Policy([(w0, np.zeros(len(rows))), (w1, b1)], "tanh",
                  np.zeros(spec.obs_size), np.ones(spec.obs_size), 10.0, -np.ones(n), np.ones(n))  # fmt: skip


def _field_offsets(spec):
    from types import SimpleNamespace

    out, offset = [], 0
    for f in spec.state_fields:
        out.append(SimpleNamespace(name=f.name, offset=offset))
        offset += f.size
    return out


def _gates_pilot(spec):
    from sims.drone.gates import DroneGates as G

    rows = [(i, "gate_rel", i, 1.5 / m) for i, m in enumerate((G.MAX_SPEED,) * 2 + (G.MAX_VZ,))]
    rows += [(i, "gate_normal", i, 0.6 / G.MAX_SPEED) for i in (0, 1)]
    return pilot_policy(spec, rows)


def _wall_pilot(spec):
    # towards the pad; climb to ~2 m above it until crossed, then sink at ~0.1 m/s onto it
    rows = [(0, "pad_rel", 0, 0.9), (1, "pad_rel", 1, 1.5), (2, "pad_rel", 2, 1.0)]
    return pilot_policy(spec, [*rows, (2, "crossed", 0, -2.1)], bias=[0.0, 0.0, 2.0, 0.0])


@pytest.mark.parametrize(("task", "pilot", "seed"), [("DroneGates", _gates_pilot, 7),
                                                     ("DroneWallLanding", _wall_pilot, 5)])  # fmt: skip
def test_a_policy_flying_the_course_replays_with_parity(tmp_path_factory, tmp_path, task, pilot,
                                                         seed):  # fmt: skip
    """A network that steers by the observed course succeeds in the recorded episode (all
    three gates / over the wall, onto the pad, at rest); on replay the robot's tracker keeps
    the events from the bag's messages, so it steers the same way at every tick: every
    command agrees."""
    import sims

    def build_bundle(path: Path) -> None:
        export_bundle(pilot(sims.get_spec(task)), task, path, golden_episodes=1)

    bundle = _cached(tmp_path_factory, f"{task}_pilot", build_bundle)
    # the pilot turns sharply at an event: let the slew limit pass it (parity alone)
    sets = {"safety.slew_from_zero": 0.0, "safety.slew_rate": 1e3}
    rec = record_sim(bundle, tmp_path / "sim", profile="generic_drone", seed=seed, overrides=sets)
    assert rec.successes == [True], rec.termination_reasons
    res = replay(load_bundle(bundle), load_profile("generic_drone").with_overrides(sets),
                 tmp_path / "sim", tmp_path / "rep")  # fmt: skip
    sim, rep = commands(tmp_path / "sim"), commands(tmp_path / "rep")
    assert res.faults == [] and set(sim) <= set(rep) and len(sim) > 300
    assert max(float(np.abs(sim[k] - rep[k]).max()) for k in sim) < 1e-5


def test_the_layout_comes_from_a_file_or_text_and_changes_what_the_policy_sees(
    tmp_path_factory, tmp_path
):
    bundle = load_bundle(task_bundle(tmp_path_factory, "DroneObstacles"))
    course = dict(bundle.meta.task.layout)
    course["pillars"] = [[1.0, 0.0], [2.0, 0.5], [3.0, -0.5]]
    (tmp_path / "course.json").write_text(json.dumps(course))
    assert read_layout(str(tmp_path / "course.json")) == read_layout(json.dumps(course))
    with pytest.raises(TaskObservationError, match="does not exist"):
        read_layout(str(tmp_path / "missing.json"))

    def observation(layout):
        rt = Runtime(bundle, load_profile("generic_drone"), layout=layout)
        for k in range(2):
            feed(rt, drone_state(), 1.0 + k * DT)
        return rt.observation.build()

    field = bundle.field("obstacle_rel")
    seen = observation(read_layout(str(tmp_path / "course.json")))[field.offset :][: field.size]
    np.testing.assert_allclose(seen, [1.0, 0.0, 2.0, 0.5, 3.0, -0.5])
    del course["pillars"]
    with pytest.raises(ObservationError, match="layout lacks 'pillars'"):
        observation(course)


def test_the_vendored_observe_runs_on_a_robot_without_the_task(tmp_path_factory, tmp_path):
    """The generated package alone (python -I: no sims, no example package) observes."""
    bundle = task_bundle(tmp_path_factory, ALTITUDE)
    pkg = generate_package(bundle, "px4", tmp_path, package_name="altitude_px4")
    readme = (pkg / "README.md").read_text()
    assert "## The course (layout)" in readme and '"altitude":' in readme
    code = (
        "import sys; sys.path[:0] = [sys.argv[1]];"
        "from altitude_px4 import bundle, profiles, runtime;"
        "rt = runtime.Runtime(bundle.load_bundle(sys.argv[2]), profiles.load_profile('px4'),"
        " goal=[0, 0, 1]);"
        "ok, why = rt.self_test(); assert ok, why;"
        "rt.adapter.pos, rt.adapter.vel, rt.adapter.ang_vel = [0, 0, 1.0], [0.0] * 3, [0.0] * 3;"
        "rt.adapter.quat = [0.0, 0.0, 0.0, 1.0];"
        "obs = rt.observation.build();"
        "mod = sys.modules['agentic_rl_altitude.observe'].__file__;"
        "assert '/models/tasklib/' in mod, mod;"
        "assert not any(m.split('.')[0] in ('pybullet', 'torch', 'agentic_rl') for m in sys.modules);"
        "print('observed', len(obs))"
    )
    out = subprocess.run([sys.executable, "-I", "-c", code, str(pkg), str(pkg / "models")],
                         capture_output=True, text=True, timeout=120)  # fmt: skip
    assert out.returncode == 0 and "observed" in out.stdout, out.stderr[-3000:]


def arm_task_bundle(factory, task: str) -> Path:
    import sims

    mode = ARM_TASKS[task]

    def build_bundle(path: Path) -> None:
        spec = sims.get_spec(task, mode)
        policy = random_policy(spec.obs_size, spec.action.shape[0], seed=3)
        export_bundle(policy, task, path, golden_episodes=1, action_mode=mode)

    return _cached(factory, f"task_{task}_{mode}", build_bundle)


def _arm_parity(tmp_path_factory, tmp: Path, task: str, profile: str) -> float:
    bundle = arm_task_bundle(tmp_path_factory, task)
    # a random policy moves fast: give the velocity limit room so parity is checked alone
    sets = {"safety.velocity_scale": 1.0, "safety.slew_rate": 1e3}
    record_sim(bundle, tmp / "sim", profile=profile, episodes=1, seed=5, overrides=sets)
    res = replay(load_bundle(bundle), load_profile(profile).with_overrides(sets),
                 tmp / "sim", tmp / "rep")  # fmt: skip
    sim, rep = commands(tmp / "sim"), commands(tmp / "rep")
    assert res.faults == [] and set(sim) <= set(rep) and len(sim) > 20
    return max(float(np.abs(sim[k] - rep[k]).max()) for k in sim)


@pytest.mark.parametrize("task", list(ARM_TASKS))
def test_arm_tasks_replay_with_parity(tmp_path_factory, tmp_path, task):
    """The arm tasks observe through forward kinematics, the object's odometry and the
    finger joints; ArmPickPlace drives the gripper's forward command controller."""
    assert _arm_parity(tmp_path_factory, tmp_path, task, "arm_jtc") < 1e-5


@pytest.mark.slow
@pytest.mark.parametrize("task", list(ARM_TASKS))
def test_arm_tasks_replay_with_parity_on_the_forward_controller(tmp_path_factory, tmp_path, task):
    assert _arm_parity(tmp_path_factory, tmp_path, task, "arm_forward") < 1e-5


def test_pick_place_sends_finger_targets_and_needs_a_gripper_output(tmp_path_factory, tmp_path):
    bundle = load_bundle(arm_task_bundle(tmp_path_factory, "ArmPickPlace"))
    profile = load_profile("arm_jtc")
    rt = Runtime(bundle, profile, goal=[0.1, 0.0, 0.2])
    assert rt.adapter.fingers == ["panda_finger_joint1", "panda_finger_joint2"]
    lean = tmp_path / "nogripper.yaml"
    raw = yaml.safe_load((PROFILE_DIR / "arm_jtc.yaml").read_text())
    del raw["outputs"]["gripper"]
    lean.write_text(yaml.safe_dump(raw))
    with pytest.raises(AdapterError, match="needs a 'gripper' output"):
        Runtime(bundle, load_profile(str(lean)), goal=[0.1, 0.0, 0.2])


def test_the_generated_readme_says_how_to_measure_the_course(tmp_path_factory, tmp_path):
    bundle = task_bundle(tmp_path_factory, "DroneGates")
    pkg = generate_package(bundle, "px4", tmp_path, package_name="gates_px4")
    text = " ".join((pkg / "README.md").read_text().split())
    assert "### Measuring a real course into a layout file" in text
    # the task's own documentation names the layout keys; its events count from enable on
    assert "observe_gates`: DroneGates. Layout: ``gates``" in text and "track_gates" in text
    assert "count from `~/enable` on" in text


def test_an_installed_task_module_that_differs_from_the_vendored_one_is_refused(
    tmp_path_factory, tmp_path
):
    """The robot must run the code the policy was trained with, not another installed version."""
    import shutil

    bundle = shutil.copytree(task_bundle(tmp_path_factory, "DroneHover"), tmp_path / "b")
    vendored = bundle / "tasklib" / "sims" / "drone" / "observe.py"
    vendored.write_text(vendored.read_text() + "\n# changed after export\n")
    with pytest.raises(ObservationError, match="differs from the copy the bundle vendored"):
        Runtime(load_bundle(bundle), load_profile("px4"), goal=[0, 0, 1])
