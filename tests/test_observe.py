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
from ros_bridge.measurement import Measurement
from ros_bridge.taskobs import TaskFunctions
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
def test_the_robots_path_reproduces_the_simulators_state(task):
    """What a robot runs (the vendored observe, the task's from_measurement of the typed
    measurement, its event tracker from the first state on, the layout through JSON) gives
    exactly the state the simulator hands to rewards and the policy, step after step."""
    _, function, path = sims.observation_source(task)
    spec_ = importlib.util.spec_from_file_location("vendored_observe", path)
    vendored = importlib.util.module_from_spec(spec_)
    spec_.loader.exec_module(vendored)
    env = sims.make(task)
    cls = type(env.unwrapped)
    robot = TaskFunctions(getattr(vendored, function), cls.from_measurement, cls.track)
    rng = np.random.default_rng(0)
    _, info = env.reset(seed=1)
    events = None
    for _ in range(15):
        layout = json.loads(json.dumps(env.unwrapped.layout))
        rs = env.unwrapped.robot_state()
        m = Measurement.from_values(cls.to_measurement(rs))
        m.last_action, m.step = np.asarray(rs.get("last_action", ())), rs.get("step", 0)
        if "ee_pos" in rs:  # arms: the robot side computes the tool point by kinematics
            m.tool_position, m.tool_orientation = rs["ee_pos"], rs["ee_quat"]
            m.tool_velocity = rs["ee_vel"]
        fields, state, seen = robot.fields(m, layout, events)
        assert set(fields) == set(env.task_spec.field_names)
        for name, value in info["state"].items():
            np.testing.assert_array_equal(np.ravel(fields[name]), np.ravel(value), err_msg=name)
        if cls.track is not None:  # as the runtime does after acting on this observation
            events = seen if events is None else cls.track(seen, state, layout)
        _, _, term, trunc, info = env.step(rng.uniform(-1, 1, env.action_space.shape))
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
