"""One observation function per task: pure, vendorable, and the one the simulator runs."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

import numpy as np
import pybullet as p
import pytest

import sims
from sims.drone.hover import DroneHover
from sims.drone.observe import rotation
from sims.errors import TaskError

TASKS = list(sims.BUILTIN_TASKS)


def test_rotation_matches_pybullet_bit_for_bit():
    rng = np.random.default_rng(0)
    for _ in range(2000):
        q = rng.normal(size=4)
        q = tuple((q / np.linalg.norm(q)).tolist())
        assert rotation(q) == p.getMatrixFromQuaternion(q)


@pytest.mark.parametrize("task", TASKS)
def test_observe_from_json_layout_reproduces_the_simulators_state(task):
    """What a robot would run (the vendored function, the layout through JSON, the measured
    robot state) gives exactly the state the simulator hands to rewards and the policy."""
    _, function, path = sims.observation_source(task)
    spec_ = importlib.util.spec_from_file_location("vendored_observe", path)
    vendored = importlib.util.module_from_spec(spec_)
    spec_.loader.exec_module(vendored)
    observe = getattr(vendored, function)
    env = sims.make(task)
    rng = np.random.default_rng(0)
    env.reset(seed=1)
    for _ in range(15):
        _, _, term, trunc, info = env.step(rng.uniform(-1, 1, env.action_space.shape))
        layout = json.loads(json.dumps(env.layout))
        fields = observe(env.robot_state(), layout)
        assert set(fields) == set(env.task_spec.field_names)
        for name, value in info["state"].items():
            np.testing.assert_array_equal(np.ravel(fields[name]), np.ravel(value), err_msg=name)
        if term or trunc:
            break
    env.close()


@pytest.mark.parametrize("path", ["sims/drone/observe.py", "sims/arm/observe.py"])
def test_observe_modules_import_without_pybullet_or_torch(path):
    code = (
        "import sys, importlib.util\n"
        "sys.modules['pybullet'] = None; sys.modules['torch'] = None; sys.modules['sims'] = None\n"
        f"s = importlib.util.spec_from_file_location('m', {path!r})\n"
        "m = importlib.util.module_from_spec(s); s.loader.exec_module(m)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def _task(observe, **attrs):
    return type(
        "BadObserve",
        (DroneHover,),
        {"TASK_ID": "test/BadObserve-v0", "observe": staticmethod(observe), **attrs},
    )


def _hover_plus(extra):
    from sims.drone.observe import observe_hover

    def observe(robot, layout):
        return {**observe_hover(robot, layout), **extra(robot, layout)}

    return observe


@pytest.mark.parametrize(
    "observe,field,match",
    [
        (lambda r, lay: {"pos": r["pos"]}, "quat", "did not return declared field 'quat'"),
        (_hover_plus(lambda r, lay: {"goal_rel": (0.0, 1.0)}), "goal_rel", r"shape \(2,\)"),
        (
            _hover_plus(lambda r, lay: {"goal_rell": (0.0, 0.0, 0.0)}),
            "goal_rell",
            "Did you mean 'goal_rel'",
        ),
    ],
)
def test_observe_mistakes_name_task_hook_and_field(observe, field, match):
    env = _task(observe)()
    with pytest.raises(TaskError, match=match) as err:
        env.reset(seed=0)
    env.close()
    assert (err.value.task, err.value.hook, err.value.field) == (
        "test/BadObserve-v0",
        "observe",
        field,
    )


def test_a_plain_function_as_observe_is_refused_with_the_fix():
    from sims.drone.observe import observe_hover

    cls = type("Plain", (DroneHover,), {"TASK_ID": "test/Plain-v0", "observe": observe_hover})
    with pytest.raises(TaskError, match="staticmethod"):
        cls()


def test_unknown_reason_and_metric_name_the_hook():
    class BadEnd(DroneHover):
        TASK_ID = "test/BadEnd-v0"

        def _task_end(self, state, contacts):
            return "crashh"

    env = BadEnd()
    env.reset(seed=0)
    with pytest.raises(TaskError, match="Did you mean 'crash'") as err:
        env.step(np.zeros(4))
    assert err.value.hook == "_check_end" and err.value.field == "crashh"

    class BadMetric(DroneHover):
        TASK_ID = "test/BadMetric-v0"
        EPISODE_SECONDS = 0.1

        def _episode_metrics(self):
            return {**super()._episode_metrics(), "final_distanse": 0.0}

    env = BadMetric()
    env.reset(seed=0)
    with pytest.raises(TaskError, match="Did you mean 'final_distance'") as err:
        for _ in range(10):
            env.step(np.zeros(4))
    assert err.value.hook == "_episode_metrics"


def test_layout_must_be_json():
    class BadLayout(DroneHover):
        TASK_ID = "test/BadLayout-v0"

        def _reset_layout(self):
            super()._reset_layout()
            self.layout = {"goal": np.array(self.goal)}

    env = BadLayout()
    with pytest.raises(TaskError, match="not JSON-serializable") as err:
        env.reset(seed=0)
    assert (err.value.hook, err.value.field) == ("layout", "goal")
