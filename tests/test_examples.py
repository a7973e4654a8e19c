"""The example tasks a newcomer copies: both pass `tasks check` and run through `refine`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = {
    "agentic_rl_cartpole.task:CartPole": ROOT / "examples" / "cartpole",
    "agentic_rl_altitude.task:DroneAltitude": ROOT / "examples" / "custom_task",
}


def _cli(args: list[str], pythonpath: Path, tmp_path: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(pythonpath), str(ROOT)])}
    return subprocess.run(
        [sys.executable, "-m", "agentic_rl.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=600,
    )


@pytest.mark.parametrize("task", list(EXAMPLES))
def test_example_passes_tasks_check(task, tmp_path):
    out = _cli(["tasks", "check", task], EXAMPLES[task], tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "ready to train" in out.stdout and "(vendorable)" in out.stdout


def test_tasks_check_names_hook_and_field_of_a_broken_task(tmp_path):
    (tmp_path / "broken_task.py").write_text(
        "from sims.drone.hover import DroneHover\n"
        "from sims.drone.observe import observe_hover\n"
        "def observe(robot, layout):\n"
        "    fields = observe_hover(robot, layout)\n"
        "    fields['goal_rel'] = fields['goal_rel'][:2]\n"
        "    return fields\n"
        "class Broken(DroneHover):\n"
        "    TASK_ID = 'mine/Broken-v0'\n"
        "    observe = staticmethod(observe)\n"
    )
    out = _cli(["tasks", "check", "broken_task:Broken"], tmp_path, tmp_path)
    assert out.returncode == 1
    text = " ".join(out.stdout.split())
    assert "[observe, field 'goal_rel'] returned shape (2,)" in text
    assert "mine/Broken-v0: 2 problem(s)" in text  # and its module is not vendorable


def test_cartpole_declares_two_goal_errors_with_tolerances(monkeypatch):
    import sims
    from sims.registry import PATHS_ENV

    monkeypatch.syspath_prepend(str(EXAMPLES["agentic_rl_cartpole.task:CartPole"]))
    monkeypatch.setenv(PATHS_ENV, "{}")  # resolving a path records it; keep that here
    spec = sims.get_spec("agentic_rl_cartpole.task:CartPole")
    errors = spec.goal.errors
    assert [e.field for e in errors] == ["cart_error", "pole_error"]
    assert [spec.tolerance(e) for e in errors] == [0.1, 0.2]


@pytest.mark.slow
@pytest.mark.parametrize("task", list(EXAMPLES))
def test_example_runs_through_refine(task, tmp_path):
    out = _cli(
        [
            "refine",
            "--task",
            task,
            "--iterations",
            "1",
            "--candidates",
            "1",
            "--steps",
            "1024",
            "--seeds",
            "2",
            "--executor",
            "process",
            "--quiet",
            "--out",
            str(tmp_path / "runs"),
        ],
        EXAMPLES[task],
        tmp_path,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    (result,) = (tmp_path / "runs").glob("*/*/iter_0/cand_0/result.json")
    assert json.loads(result.read_text())
    assert list((tmp_path / "runs").glob("*/*/best/bundle.json"))


@pytest.mark.slow
def test_refine_exits_non_zero_with_tracebacks_when_the_task_is_broken(tmp_path):
    (tmp_path / "bad_metric.py").write_text(
        "from sims.drone.hover import DroneHover\n"
        "class BadMetric(DroneHover):\n"
        "    TASK_ID = 'mine/BadMetric-v0'\n"
        "    EPISODE_SECONDS = 1.0\n"
        "    def _episode_metrics(self):\n"
        "        return {**super()._episode_metrics(), 'final_distanse': 0.0}\n"
    )
    args = ["refine", "--task", "bad_metric:BadMetric", "--iterations", "1", "--candidates"]
    args += ["1", "--steps", "1024", "--seeds", "2", "--executor", "serial", "--quiet"]
    out = _cli([*args, "--out", str(tmp_path / "runs")], tmp_path, tmp_path)
    assert out.returncode == 1, out.stdout + out.stderr
    err = " ".join(out.stderr.split())
    assert "every candidate failed for an error in the task" in err
    assert "hook _episode_metrics, field 'final_distanse'" in err
    (path,) = (tmp_path / "runs").glob("*/*/iter_0/cand_0/result.json")
    result = json.loads(path.read_text())
    assert result["task_error"] and "Traceback" in result["traceback"]


@pytest.mark.parametrize(("task", "profile"), [
    ("agentic_rl_cartpole.task:CartPole", "joint_group"),
    ("agentic_rl_altitude.task:DroneAltitude", "px4"),
])  # fmt: skip
def test_example_deploys_through_ros_with_parity(task, profile, tmp_path, monkeypatch):
    """export -> `ros package` -> record-sim -> replay: the robot runs the example's own
    vendored functions (the cart-pole on ros2_control's JointState and an effort controller)
    and sends the simulator's commands."""
    import numpy as np

    import sims
    from agentic_rl.export import export_bundle
    from agentic_rl.export.simbag import record_sim
    from ros_bridge import load_bundle, load_profile
    from ros_bridge.bags import replay
    from ros_bridge.package import generate_package
    from sims.registry import PATHS_ENV
    from tests.test_ros_bags import commands
    from tests.test_ros_fixtures import random_policy

    monkeypatch.syspath_prepend(str(EXAMPLES[task]))
    monkeypatch.setenv(PATHS_ENV, "{}")
    spec = sims.get_spec(task)
    policy = random_policy(spec.obs_size, spec.action.shape[0], seed=5, scale=0.3)
    bundle = export_bundle(policy, task, tmp_path / "bundle", golden_episodes=1)
    pkg = generate_package(bundle, profile, tmp_path / "src", package_name="example_policy")
    # the generated package alone (python -I: no sims, no example package) builds the runtime
    code = (
        "import sys; sys.path[:0] = [sys.argv[1]];"
        "from example_policy import bundle, profiles, runtime;"
        "rt = runtime.Runtime(bundle.load_bundle(sys.argv[2]), profiles.load_profile(sys.argv[3]),"
        " goal=[0, 0, 1]);"
        "assert not any(m.split('.')[0] in ('pybullet', 'torch') for m in sys.modules);"
        "task = [m for m in sys.modules if m.split('.')[0] == 'sims' or m.startswith('agentic')];"
        "assert all('/models/tasklib/' in sys.modules[m].__file__ for m in task), task;"
        "print('runtime', rt.observation.functions.observe.__module__)"
    )
    run = subprocess.run([sys.executable, "-I", "-c", code, str(pkg), str(pkg / "models"), profile],
                         capture_output=True, text=True, timeout=120)  # fmt: skip
    assert run.returncode == 0 and "runtime" in run.stdout, run.stderr[-3000:]
    sets = {"safety.slew_from_zero": 0.0}
    record_sim(bundle, tmp_path / "sim", profile=profile, episodes=2, overrides=sets)
    res = replay(load_bundle(bundle), load_profile(profile).with_overrides(sets),
                 tmp_path / "sim", tmp_path / "rep")  # fmt: skip
    sim, rep = commands(tmp_path / "sim"), commands(tmp_path / "rep")
    assert res.faults == [] and res.episodes == 2 and set(sim) <= set(rep) and len(sim) > 40
    assert max(float(np.abs(sim[k] - rep[k]).max()) for k in sim) < 1e-5


@pytest.mark.slow
def test_cartpole_package_builds_with_colcon_and_drives_the_slider(tmp_path, monkeypatch):
    """colcon build, then the installed node's runtime alone: JointState in, one effort on the
    slider out (the policy's action times the task's 10 N scale)."""
    import sims
    from agentic_rl.export import export_bundle
    from ros_bridge.package import generate_package
    from sims.registry import PATHS_ENV
    from tests.colcon import colcon_build, run_installed
    from tests.test_ros_fixtures import random_policy

    task = "agentic_rl_cartpole.task:CartPole"
    monkeypatch.syspath_prepend(str(EXAMPLES[task]))
    monkeypatch.setenv(PATHS_ENV, "{}")
    spec = sims.get_spec(task)
    policy = random_policy(spec.obs_size, 1, seed=5, scale=0.3)
    bundle = export_bundle(policy, task, tmp_path / "bundle", golden_episodes=1)
    pkg = generate_package(bundle, "joint_group", tmp_path / "src", package_name="cartpole_policy")
    prefix = colcon_build(pkg, tmp_path / "ws")
    site = next((prefix / "lib").glob("python3*/site-packages"))
    code = (
        "import sys; from types import SimpleNamespace as M; sys.path[:0] = [sys.argv[1]];"
        "from cartpole_policy import bundle, profiles, runtime;"
        "rt = runtime.Runtime(bundle.load_bundle(sys.argv[2]), profiles.load_profile('joint_group'));"
        "js = lambda: M(name=['cart_to_pole', 'slider_to_cart'], position=[0.05, 0.2],"
        " velocity=[0.0, 0.0]);"
        "[rt.on_message('joint_states', js(), t) for t in (0.0, 0.02)];"
        "rt.tick(0.02); ok, why = rt.enable(0.02); assert ok, why;"
        "(out,) = rt.tick(0.02);"
        "assert out.role == 'commands' and len(out.data['data']) == 1, out;"
        "assert '/models/tasklib/' in sys.modules['agentic_rl_cartpole.observe'].__file__;"
        "print('effort', out.data['data'][0], abs(out.data['data'][0]) <= 10.0)"
    )
    out = run_installed(code, site, prefix / "share" / "cartpole_policy" / "models")
    assert out.returncode == 0 and out.stdout.strip().endswith("True"), out.stderr[-3000:]


def test_a_custom_task_run_is_reused_without_naming_the_class_again(tmp_path):
    """Only `train` names the class path; every later command is a fresh process (the id alone
    is unknown there) and loads the task from what the run and the bundle recorded."""
    cartpole = EXAMPLES["agentic_rl_cartpole.task:CartPole"]
    args = ["train", "--task", "agentic_rl_cartpole.task:CartPole", "--reward", "sparse"]
    out = _cli([*args, "--steps", "1024", "--out", "run"], cartpole, tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["task_path"] == "agentic_rl_cartpole.task:CartPole"
    out = _cli(["eval", "--checkpoint", "run", "--episodes", "2", "--json"], cartpole, tmp_path)
    assert out.returncode == 0 and "success_rate" in out.stdout, out.stdout + out.stderr
    args = ["export", "--run", "run", "--out", "bundle", "--eval-episodes", "0"]
    out = _cli([*args, "--golden-episodes", "1"], cartpole, tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    task = json.loads((tmp_path / "bundle" / "bundle.json").read_text())["task"]
    assert task["path"] == "agentic_rl_cartpole.task:CartPole"
    args = ["ros", "record-sim", "--bundle", "bundle", "--profile", "joint_group"]
    out = _cli([*args, "--out", "bag", "--episodes", "1"], cartpole, tmp_path)
    assert out.returncode == 0 and "1 episodes" in out.stdout, out.stdout + out.stderr


def test_a_refine_run_of_a_custom_task_resumes_from_its_folder_alone(tmp_path, monkeypatch):
    from agentic_rl.config import RefineConfig
    from agentic_rl.loop import RefineLoop
    from sims.registry import PATHS_ENV

    cartpole = EXAMPLES["agentic_rl_cartpole.task:CartPole"]
    monkeypatch.syspath_prepend(str(cartpole))
    monkeypatch.setenv(PATHS_ENV, "{}")
    config = RefineConfig(task="agentic_rl_cartpole.task:CartPole", out=str(tmp_path / "runs"))
    assert config.task_path == "agentic_rl_cartpole.task:CartPole"
    root = RefineLoop.start(config).store.root
    code = (
        "import sys; from agentic_rl.loop import RefineLoop;"
        "print('task', RefineLoop.resume(sys.argv[1]).config.task)"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(cartpole), str(ROOT)])}
    env.pop(PATHS_ENV, None)
    run = subprocess.run([sys.executable, "-c", code, str(root)], capture_output=True,
                         text=True, env=env, timeout=300)  # fmt: skip
    assert run.returncode == 0 and "task cartpole/CartPole-v0" in run.stdout, run.stderr[-2000:]
    out = _cli(["refine", "--resume", str(root), "--task", "DroneHover"], cartpole, tmp_path)
    text = " ".join(out.stderr.split())
    assert out.returncode == 2 and "is a run of cartpole/CartPole-v0, not agentic_rl/Drone" in text


MISDECLARED = """
from agentic_rl_cartpole.task import CartPole

class Kuka(CartPole):  # a robot no profile drives
    @classmethod
    def command_model(cls, action_mode=None):
        return {"robot": "kuka_iiwa", "kind": "velocity"}

    @classmethod
    def build_spec(cls, action_mode=None):
        return super().build_spec(action_mode).model_copy(update={"id": "mine/Kuka-v0"})

class NoCommand(CartPole):
    command_model = None

    @classmethod
    def build_spec(cls, action_mode=None):
        return super().build_spec(action_mode).model_copy(update={"id": "mine/NoCommand-v0"})
"""


def test_tasks_check_says_where_a_task_deploys_and_what_to_add(tmp_path):
    (tmp_path / "mine_tasks.py").write_text(MISDECLARED)
    path = os.pathsep.join([str(tmp_path), str(EXAMPLES["agentic_rl_cartpole.task:CartPole"])])
    out = _cli(["tasks", "check", "agentic_rl_cartpole.task:CartPole"], Path(path), tmp_path)
    assert "ROS: deploys to profile joint_group (command_model: effort)" in out.stdout
    out = _cli(["tasks", "check", "mine_tasks:Kuka"], Path(path), tmp_path)
    text = " ".join(out.stdout.split())
    assert out.returncode == 0 and "ROS: does not deploy: [command_model] robot 'kuka_iiwa'" in text
    assert "{'robot': 'joint_group', 'kind': 'effort' or 'velocity'" in text


def test_export_and_package_of_a_misdeclared_task_say_what_to_add(tmp_path, monkeypatch):
    import sims
    from agentic_rl.export import ExportError, export_bundle
    from ros_bridge.package import generate_package
    from sims.registry import PATHS_ENV
    from tests.test_ros_fixtures import random_policy

    (tmp_path / "mine_tasks.py").write_text(MISDECLARED)
    monkeypatch.syspath_prepend(str(EXAMPLES["agentic_rl_cartpole.task:CartPole"]))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv(PATHS_ENV, "{}")
    spec = sims.get_spec("mine_tasks:NoCommand")
    policy = random_policy(spec.obs_size, spec.action.shape[0], seed=0)
    with pytest.raises(ExportError, match=r"\[command_model\] is None"):
        export_bundle(policy, "mine_tasks:NoCommand", tmp_path / "out" / "b", golden_episodes=1)
    assert not (tmp_path / "out").exists()  # checked before anything is written
    import numpy as np

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    with monkeypatch.context() as m:  # a failure mid-way leaves no half-written bundle
        m.setattr(np, "savez", full_disk)
        with pytest.raises(OSError, match="No space"):
            export_bundle(policy, "mine_tasks:Kuka", tmp_path / "out" / "b", golden_episodes=1)
    assert list((tmp_path / "out").iterdir()) == []
    bundle = export_bundle(policy, "mine_tasks:Kuka", tmp_path / "b", golden_episodes=1)
    with pytest.raises(ValueError, match=r"is a kuka_iiwa task; no built-in profile .*joint_group"):
        generate_package(bundle, "joint_group", tmp_path / "src")


def test_train_of_a_custom_task_without_a_reward_says_to_pass_one(tmp_path):
    cartpole = EXAMPLES["agentic_rl_cartpole.task:CartPole"]
    out = _cli(["train", "--task", "agentic_rl_cartpole.task:CartPole"], cartpole, tmp_path)
    text = " ".join((out.stdout + out.stderr).split())
    assert out.returncode != 0 and "no reference reward" in text and "--reward FILE" in text


def test_tasks_check_names_the_hook_and_the_layout_key_an_observe_lacks(tmp_path):
    (tmp_path / "missing_key.py").write_text(
        "from agentic_rl_cartpole.task import CartPole\n"
        "from agentic_rl_cartpole.observe import observe_cartpole\n"
        "def observe(robot, layout):\n"
        "    fields = observe_cartpole(robot, layout)\n"
        "    fields['cart_error'] = layout['box'] - robot['cart_pos']\n"
        "    return fields\n"
        "class NoBox(CartPole):\n"
        "    observe = staticmethod(observe)\n"
    )
    path = os.pathsep.join([str(tmp_path), str(EXAMPLES["agentic_rl_cartpole.task:CartPole"])])
    out = _cli(["tasks", "check", "missing_key:NoBox"], Path(path), tmp_path)
    text = " ".join(out.stdout.split())
    assert out.returncode == 1 and "check_env" not in text, text
    assert "[observe] KeyError 'box': neither the layout (keys ['cart_target'])" in text


def test_a_worker_that_did_not_inherit_the_drivers_environment_loads_the_task(tmp_path):
    """A Ray cluster node starts workers without the driver's AGENTIC_RL_TASK_PATHS: the job
    itself carries the class path."""
    from agentic_rl.executors.work import CandidateJob
    from agentic_rl.ppo.config import make_config
    from sims.registry import PATHS_ENV

    cartpole = EXAMPLES["agentic_rl_cartpole.task:CartPole"]
    (tmp_path / "reward.py").write_text((cartpole / "reward.py").read_text())
    ppo = make_config(task_id="Pendulum-v1", total_steps=512, num_envs=4, num_steps=64,
                      update_epochs=1, tensorboard=False)  # fmt: skip
    job = CandidateJob(
        task_id="cartpole/CartPole-v0",
        task_path="agentic_rl_cartpole.task:CartPole",
        candidate="i0/c0",
        out_dir=str(tmp_path),
        ppo=ppo.model_dump(mode="json"),
        eval_episodes=1,
        randomized_episodes=1,
        plots=False,
    )
    code = (
        "import sys; from agentic_rl.executors.guarded import run_job;"
        "from agentic_rl.executors.work import CandidateJob;"
        "print(run_job(CandidateJob.model_validate_json(sys.stdin.read())).model_dump_json())"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(cartpole), str(ROOT)])}
    env.pop(PATHS_ENV, None)
    run = subprocess.run([sys.executable, "-c", code], input=job.model_dump_json(), env=env,
                         capture_output=True, text=True, timeout=300)  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["status"] == "done", result.get("error")
