"""Declared task semantics: roles, goal, success sub-criteria, hazards, and their checks."""

from __future__ import annotations

import numpy as np
import pytest

import sims
from sims.drone.hover import DroneHover
from sims.errors import TaskError
from sims.semantics import evaluate_criteria, failed_criteria
from sims.spec import FIELD_ROLES, Criterion, Hazard

TASKS = list(sims.BUILTIN_TASKS)


@pytest.mark.parametrize("task", TASKS)
def test_every_builtin_declares_its_meaning(task):
    spec = sims.get_spec(task)
    assert all(f.role in FIELD_ROLES for f in spec.state_fields)
    assert spec.goal is not None and spec.tolerance(spec.goal.primary) > 0
    assert spec.goal.field in spec.field_names and spec.goal.scale > 0
    assert spec.success_criteria
    assert {h.reason for h in spec.hazards} == set(spec.failure_reasons)
    assert spec.body.position in spec.field_names and spec.body.velocity in spec.field_names
    assert spec.fields_with_role("robot")
    for c in spec.success_criteria:
        assert np.isfinite(spec.threshold(c))


def _episode(env, seed, actions=None, options=None):
    _, info = env.reset(seed=seed, options=options)
    states, step = [], 0
    while True:
        a = np.zeros(env.action_space.shape) if actions is None else actions(step)
        _, _, term, trunc, info = env.step(a)
        states.append(info["state"])
        step += 1
        if term or trunc:
            return states, info


@pytest.mark.parametrize("task", TASKS)
def test_criteria_agree_with_ground_truth_on_failed_episodes(task):
    env = sims.make(task)
    rng = np.random.default_rng(0)
    states, info = _episode(env, 3, lambda _: rng.uniform(-1, 1, env.action_space.shape))
    env.close()
    results = evaluate_criteria(env.task_spec, states, info["task_metrics"])
    assert len(results) == len(env.task_spec.success_criteria)
    assert not info["is_success"]
    # a failed episode misses at least one declared sub-criterion, named in the text
    missed = [r for r in results if r.passed is False]
    assert missed and all(r.name in r.text and "missed" in r.text for r in missed)


def test_criteria_pass_on_a_successful_episode():
    env = sims.make("ArmReach")
    _, info = env.reset(seed=0)
    goal = info["state"]["ee_pos"].copy()
    goal[2] += 0.02  # within the 5 cm tolerance: success on the first step
    states, info = _episode(env, 0, options={"goal_pos": goal})
    env.close()
    assert info["is_success"]
    assert failed_criteria(env.task_spec, states, info["task_metrics"]) == ()
    # the flat (T, obs_size) layout gives the same verdicts as the state mappings
    flat = np.array([np.concatenate([np.ravel(s[n]) for n in s]) for s in states])
    assert evaluate_criteria(env.task_spec, flat) == evaluate_criteria(env.task_spec, states)


def test_held_criteria_use_the_last_hold_seconds():
    spec = sims.get_spec("DroneHover")
    n = spec.hold_steps(spec.success_criteria[0])
    assert n == int(spec.constants["hold_seconds"] * spec.control_hz)
    states = np.zeros((n + 10, spec.obs_size))
    tilt = spec.field_names.index("tilt")
    off = sum(f.size for f in spec.state_fields[:tilt])
    states[0, off] = 1.0  # tilted before the hold window: does not count
    assert failed_criteria(spec, states) == ()
    states[-1, off] = 1.0
    assert failed_criteria(spec, states) == ("level",)
    short = evaluate_criteria(spec, np.zeros((n - 5, spec.obs_size)))
    assert [r.passed for r in short] == [False, False] and "early" in short[0].text


def _broken(**attrs):
    return type("BrokenHover", (DroneHover,), {"TASK_ID": "test/BrokenHover-v0", **attrs})


@pytest.mark.parametrize(
    "attrs,hook,field,hint",
    [
        (
            {
                "SUCCESS_CRITERIA": (
                    Criterion(
                        name="near",
                        source="field",
                        key="goal_rell",
                        reduce="norm",
                        compare="<",
                        threshold="pos_tolerance",
                    ),
                )
            },
            "SUCCESS_CRITERIA",
            "goal_rell",
            "Did you mean 'goal_rel'",
        ),
        (
            {
                "SUCCESS_CRITERIA": (
                    Criterion(
                        name="near",
                        source="metric",
                        key="final_distanse",
                        compare="<",
                        threshold="pos_tolerance",
                    ),
                )
            },
            "SUCCESS_CRITERIA",
            "final_distanse",
            "Did you mean 'final_distance'",
        ),
        (
            {
                "SUCCESS_CRITERIA": (
                    Criterion(
                        name="near",
                        source="field",
                        key="tilt",
                        compare="<",
                        threshold="tilt_tolerence",
                    ),
                )
            },
            "SUCCESS_CRITERIA",
            "tilt_tolerence",
            "Did you mean 'tilt_tolerance'",
        ),
        (
            {"HAZARDS": (Hazard(reason="crassh", fields=("pos",)),)},
            "HAZARDS",
            "crassh",
            "Did you mean 'crash'",
        ),
        (
            {"HAZARDS": (Hazard(reason="crash", fields=("pos[3]",)),)},
            "HAZARDS",
            "pos",
            "outside field shape",
        ),
        (
            {
                "TASK_FIELDS": (
                    sims.StateField(
                        name="goal_rel", shape=(3,), unit="m", frame="world", description="x"
                    ),
                )
            },
            "TASK_FIELDS",
            "goal_rel",
            "has no role",
        ),
    ],
)
def test_broken_declarations_name_task_hook_and_field(attrs, hook, field, hint):
    cls = _broken(**attrs)
    with pytest.raises(TaskError) as err:
        cls.build_spec()
    e = err.value
    assert e.task == "test/BrokenHover-v0" and e.hook == f"BrokenHover.{hook}" and e.field == field
    msg = str(e)
    assert "test/BrokenHover-v0" in msg and hook in msg and field in msg and hint in msg


def test_a_failure_reason_without_a_hazard_is_refused():
    from sims.drone.gates import DroneGates

    cls = type("NoHazard", (DroneGates,), {"TASK_ID": "test/NoHazard-v0", "HAZARDS": ()})
    with pytest.raises(TaskError, match="'collision' has no hazard"):
        cls.build_spec()


def test_diagnostics_and_reports_read_declarations_not_names():
    from agentic_rl.diagnostics.keys import KeyFields
    from agentic_rl.robustness.realism import realism_table
    from sims.spec import Goal, GoalError, StateField

    cls = _broken(
        TASK_FIELDS=(
            StateField(
                name="target_offset",
                shape=(3,),
                unit="m",
                frame="world",
                role="goal",
                description="where to go",
            ),
        ),
        GOAL=Goal(errors=(GoalError(field="target_offset", tolerance="pos_tolerance", scale=1),)),
        SUCCESS_CRITERIA=(
            Criterion(
                name="near",
                source="field",
                key="target_offset",
                reduce="norm",
                compare="<",
                threshold="pos_tolerance",
            ),
        ),
    )
    spec = cls.build_spec()
    keys = KeyFields.for_spec(spec)
    assert keys.primary.field == "target_offset" and keys.tolerance == 0.10
    assert (keys.position, keys.velocity, keys.tilt) == ("pos", "vel", "tilt")
    assert {r["param"] for r in realism_table(spec)} == {
        "obs_delay",
        "action_delay",
        "sensor_noise",
        "motor_lag",
    }
    assert realism_table(sims.get_spec("ArmReach")) == []
    assert cls.command_model()["robot"] == "drone"


def test_a_failed_exemplar_names_the_missed_criterion():
    from agentic_rl.diagnostics.exemplars import exemplars
    from agentic_rl.diagnostics.rollouts import EpisodeRecord

    env = sims.make("DroneHover")
    obs, info = env.reset(seed=4)
    states, actions = [obs], []
    while True:
        a = np.array([0.0, 0.0, -1.0, 0.0])  # descend: never holds the hover
        obs, _, term, trunc, info = env.step(a)
        states.append(obs)
        actions.append(a)
        if term or trunc:
            break
    env.close()
    ep = EpisodeRecord.from_arrays(
        np.array(states),
        np.array(actions),
        dt=1 / 48,
        seed=4,
        success=bool(info["is_success"]),
        reason=info["termination_reason"],
        metrics=info["task_metrics"],
    )
    (ex,) = exemplars(env.task_spec, [ep])
    assert "Missed: near_goal: goal_rel norm" in ex.summary


@pytest.mark.parametrize("task", [t for t in TASKS if "Drone" in t])
def test_criteria_all_met_on_scripted_successes(task):
    """The declared sub-criteria agree with ground truth on episodes that succeed."""
    from tests import scripted

    env = sims.make(task)
    pilot = scripted.PILOTS[task]
    _, info = env.reset(seed=0)
    states = []
    while True:
        _, _, term, trunc, info = env.step(pilot(env, info["state"]))
        states.append(info["state"])
        if term or trunc:
            break
    env.close()
    assert info["is_success"], info["termination_reason"]
    results = evaluate_criteria(env.task_spec, states, info["task_metrics"])
    assert all(r.passed for r in results), [r.text for r in results]
