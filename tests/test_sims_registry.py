"""Task registry, the `agentic-rl tasks` command and the plugin API (examples/custom_task)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

import sims

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "custom_task"
PLUGIN_ID = "altitude/DroneAltitude-v0"


def test_names_resolve_in_every_accepted_form():
    assert sims.resolve("DroneHover")[0] == "agentic_rl/DroneHover-v0"
    assert sims.resolve("DroneHover-v0")[0] == "agentic_rl/DroneHover-v0"
    assert sims.resolve("agentic_rl/ArmReach-v0")[0] == "agentic_rl/ArmReach-v0"
    assert sims.resolve("sims.drone.orbit:DroneOrbit")[0] == "agentic_rl/DroneOrbit-v0"


def test_unknown_task_says_did_you_mean():
    with pytest.raises(sims.UnknownTaskError, match="Did you mean 'agentic_rl/DroneHover-v0'"):
        sims.make("DroneHovr")
    with pytest.raises(sims.UnknownTaskError, match="agentic-rl tasks"):
        sims.make("Submarine")


@pytest.mark.parametrize(
    "path,match",
    [
        (":DroneHover", "malformed"),
        ("sims.drone.hover:", "malformed"),
        ("no_such_module_xyz:Task", "cannot import module"),
        ("sims.drone.hover:Nope", "has no 'Nope'"),
        ("json:dumps", "not a sims.base.SimTask subclass"),
    ],
)
def test_bad_task_paths_name_the_offending_value(path, match):
    with pytest.raises(sims.PluginError, match=match):
        sims.make(path)


def test_gymnasium_make_works():
    env = gym.make("agentic_rl/DroneHover-v0")
    obs, _ = env.reset(seed=0)
    assert obs.shape == env.observation_space.shape
    env.close()


def test_tasks_json_lists_complete_specs():
    out = subprocess.run(
        [sys.executable, "-m", "agentic_rl.cli", "tasks", "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    specs = json.loads(out.stdout)
    robots = [s["robot"] for s in specs]
    assert robots.count("crazyflie2x") >= 6 and robots.count("panda") >= 3
    for s in specs:
        assert s["description"] and s["success"] and s["state_fields"] and s["task_metrics"]
        assert s["randomization"] and s["termination_reasons"]
        assert s["action"]["mode"] in s["action"]["modes"]
        for f in s["state_fields"]:
            assert f["unit"] and f["frame"] and f["description"]
        spec = sims.get_spec(s["id"])
        assert spec.model_dump(mode="json") == s


def test_tasks_table_renders():
    out = subprocess.run(
        [sys.executable, "-m", "agentic_rl.cli", "tasks"],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "COLUMNS": "160"},
    )
    assert "agentic_rl/DroneGates-v0" in out.stdout and "panda" in out.stdout
    assert "pybullet build time" not in out.stdout + out.stderr


# ---------------------------------------------------------------------------- plugins
@pytest.fixture(scope="module")
def installed_plugin(tmp_path_factory):
    """examples/custom_task installed the way a user would, into its own site directory."""
    target = tmp_path_factory.mktemp("site")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "--target",
            str(target),
            str(EXAMPLE),
        ],
        check=True,
        capture_output=True,
    )
    sys.path.insert(0, str(target))
    sims.rescan_plugins()
    yield target
    sys.path.remove(str(target))
    sims.rescan_plugins()


def test_plugin_is_found_through_its_entry_point(installed_plugin):
    assert PLUGIN_ID in sims.all_tasks()
    env = sims.make(PLUGIN_ID)
    obs, info = env.reset(seed=0)
    assert "altitude_error" in info["state"] and obs.shape == (env.task_spec.obs_size,)
    out = subprocess.run(
        [sys.executable, "-m", "agentic_rl.cli", "tasks", "--json"],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(installed_plugin)},
    )
    assert PLUGIN_ID in [s["id"] for s in json.loads(out.stdout)]
    env.close()


def test_plugin_task_reaches_success_with_a_scripted_pilot(installed_plugin):
    env = sims.make(PLUGIN_ID)
    _, info = env.reset(seed=1)
    for _ in range(env.task_spec.max_episode_steps):
        err = float(info["state"]["altitude_error"])
        _, _, term, trunc, info = env.step(np.array([0.0, 0.0, np.clip(2 * err, -1, 1), 0.0]))
        if term or trunc:
            break
    assert info["termination_reason"] == "success" and info["is_success"]
    env.close()


@pytest.mark.slow
def test_plugin_task_trains_like_a_builtin(installed_plugin, tmp_path):
    from agentic_rl.ppo import make_config, train

    reward = EXAMPLE / "reward.py"
    config = make_config(task_id=PLUGIN_ID, total_steps=4096, seed=0)
    result = train(config, PLUGIN_ID, reward=str(reward), out_dir=tmp_path)
    assert result.steps >= 4096
    assert (tmp_path / "config.json").exists()


def test_broken_entry_point_is_reported_not_fatal(tmp_path):
    dist = tmp_path / "broken_plugin-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-plugin\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[agentic_rl.tasks]\nbroken = no_such_pkg.mod:Task\n")
    sys.path.insert(0, str(tmp_path))
    sims.rescan_plugins()
    try:
        assert "agentic_rl/DroneHover-v0" in sims.all_tasks()
        errors = [str(e) for e in sims.plugin_errors()]
        assert any("'broken'" in e and "no_such_pkg" in e for e in errors), errors
        with pytest.raises(sims.UnknownTaskError, match="broken plugin"):
            sims.make("broken")
    finally:
        sys.path.remove(str(tmp_path))
        sims.rescan_plugins()


def test_plugin_ids_work_with_gym_make_after_import_sims(installed_plugin):
    code = (
        "import gymnasium as gym, sims\n"
        f"env = gym.make({PLUGIN_ID!r}); env.reset(seed=0)\n"
        "print(env.unwrapped.task_spec.id)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(installed_plugin), str(ROOT)])},
    )
    assert out.stdout.strip() == PLUGIN_ID


def test_a_class_path_makes_its_own_id_known_here_and_in_child_processes():
    # a class the registry has never seen: its id only resolves after its path did
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "import os, subprocess, sys, sims, gymnasium as gym\n"
            "tid, _ = sims.resolve('agentic_rl_cartpole.task:CartPole')\n"
            "gym.make(tid)\n"
            "child = 'import sims; print(sims.resolve(\"cartpole/CartPole-v0\")[1])'\n"
            "print(subprocess.run([sys.executable, '-c', child], capture_output=True, "
            "text=True, check=True).stdout.strip())\n",
        ],
        capture_output=True,
        text=True,
        check=True,
        env={
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(ROOT / "examples" / "cartpole"), str(ROOT)]),
        },
    )
    assert out.stdout.strip() == "agentic_rl_cartpole.task:CartPole"


def test_a_recorded_class_path_loads_its_task_again_and_old_records_keep_the_hint():
    code = (
        "import sims\n"
        "assert sims.recorded_path('agentic_rl/DroneHover-v0') is None\n"
        "for call in (lambda: sims.recall('cartpole/CartPole-v0'),\n"
        "             lambda: sims.recall('cartpole/CartPole-v0', 'sims.drone.hover:DroneHover')):\n"
        "    try:\n"
        "        call()\n"
        "    except (sims.UnknownTaskError, sims.PluginError) as exc:\n"
        "        print(type(exc).__name__, exc)\n"
        "print(sims.recall('cartpole/CartPole-v0', 'agentic_rl_cartpole.task:CartPole'))\n"
        "print(sims.recorded_path('cartpole/CartPole-v0'))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "AGENTIC_RL_TASK_PATHS"}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "examples" / "cartpole"), str(ROOT)])
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env=env).stdout.splitlines()  # fmt: skip
    assert out[0].startswith("UnknownTaskError") and "name it by the path" in out[0]
    assert out[1].startswith("PluginError") and "builds 'agentic_rl/DroneHover-v0'" in out[1]
    assert out[2:] == ["cartpole/CartPole-v0", "agentic_rl_cartpole.task:CartPole"]
