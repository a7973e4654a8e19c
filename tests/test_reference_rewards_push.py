"""ArmPush's reference reward: the way to the push point goes round the cube, and pushing pays.

The reward used to pay the fingertips' straight-line progress toward a push point behind the
cube. From the goal side of the cube the best-paying step then led straight into the cube,
pushing it away from the goal, and PPO policies ended their episodes hovering there (issue
#16). These tests drive the real env and pin what the reward must say instead.
"""

from __future__ import annotations

import numpy as np
import pytest

import rewards
import sims
from sims.arm.spec import EE_STEP
from tests.test_arm_tasks import CONTROLLERS, toward

TASK = "agentic_rl/ArmPush-v0"
# The goal lies along +x from the cube, so the push point is on the cube's -x side.
CUBE = (0.0, 0.0, 0.02)
GOAL = (0.15, 0.0, 0.02)
PUSH_POINT = np.array([-0.065, 0.0, 0.02])
# On the cube's goal side, at its mid-height: where policies trained on the old reward hovered.
GOAL_SIDE = np.array([0.085, 0.02, 0.02])
SPEC = sims.get_spec(TASK)
REWARD = rewards.load_reward(SPEC, "reference")
SHAPING = ("approach", "push", "aim")


@pytest.fixture(scope="module")
def env():
    made = sims.make(TASK, reward_fn=REWARD)
    yield made
    made.close()


def goto(env, state, target, steps):
    """Drive the fingertips toward ``target`` for ``steps`` steps; the states and terms seen."""
    seen = []
    for _ in range(steps):
        _, _, term, trunc, info = env.step(toward(state["ee_pos"], target))
        state = info["state"]
        seen.append(info["reward_terms"])
        assert not (term or trunc), info["termination_reason"]
    return state, seen


def at_goal_side(env):
    """A real state with the fingertips on the goal side of the cube, the cube not moved."""
    _, info = env.reset(seed=0, options={"object_pos": CUBE, "goal_pos": GOAL})
    state, _ = goto(env, info["state"], GOAL_SIDE + np.array([0.0, 0.0, 0.08]), 8)
    state, _ = goto(env, state, GOAL_SIDE, 8)
    assert np.linalg.norm(state["object_pos"] - CUBE) < 2e-3
    return state


def moved(prev, displacement, cube_displacement=None):
    """``prev`` with the fingertips moved by ``displacement`` and the cube by
    ``cube_displacement`` (still, unless given), the relative fields kept consistent."""
    cube = np.zeros(3) if cube_displacement is None else cube_displacement
    state = dict(prev)
    state["ee_pos"] = prev["ee_pos"] + displacement
    state["object_pos"] = prev["object_pos"] + cube
    state["object_rel_ee"] = prev["object_rel_ee"] + cube - displacement
    state["object_rel_goal"] = prev["object_rel_goal"] + cube
    return state


def paid(prev, displacement, cube_displacement=None):
    """What the shaping terms pay for the move of :func:`moved`."""
    state = moved(prev, displacement, cube_displacement)
    terms = REWARD(state, np.zeros(3), prev, SPEC.constants)
    return sum(terms.get(k, 0.0) for k in SHAPING)


def greedy(prev):
    """The move on the table plane (16 headings, 0.5 or 2.5 cm, or none) the reward pays most for."""
    headings = np.linspace(0.0, 2 * np.pi, 16, endpoint=False)
    steps = [np.zeros(3)] + [
        size * np.array([np.cos(a), np.sin(a), 0.0])
        for a in headings
        for size in (0.1 * EE_STEP, 0.5 * EE_STEP)
    ]
    return max(steps, key=lambda d: paid(prev, d))


def test_from_the_goal_side_the_best_paid_step_does_not_head_into_the_cube(env):
    state = at_goal_side(env)
    straight = PUSH_POINT - state["ee_pos"]
    straight[2] = 0.0
    step = greedy(state)
    assert np.linalg.norm(step) > 0.0
    cos = float(step @ straight) / (np.linalg.norm(step) * np.linalg.norm(straight))
    # the straight line to the push point runs through the cube; the paid step veers off it
    assert cos < np.cos(np.radians(30.0)), cos
    assert paid(state, step) > paid(state, 0.5 * EE_STEP * straight / np.linalg.norm(straight))


def test_following_the_reward_greedily_reaches_the_push_point_round_the_cube(env):
    state = at_goal_side(env)
    for _ in range(25):
        target = state["ee_pos"] + greedy(state)
        _, _, term, trunc, info = env.step(toward(state["ee_pos"], target))
        state = info["state"]
        assert not (term or trunc)
    # it arrived behind the cube without pushing the cube away from the goal
    assert np.linalg.norm((state["ee_pos"] - PUSH_POINT)[:2]) < 0.02
    assert np.linalg.norm(state["object_pos"] - CUBE) < 0.01


def test_pushing_pays_more_than_holding_at_the_push_point(env):
    """Holding a pose pays nothing (progress terms); the scripted push earns far more."""

    def run(policy):
        _, info = env.reset(seed=1, options={"object_pos": CUBE, "goal_pos": GOAL})
        state, seen, ended = info["state"], [], None
        while ended is None:
            _, _, term, trunc, info = env.step(policy(state))
            state, ended = info["state"], info["termination_reason"]
            seen.append(info["reward_terms"])
            if not (term or trunc):
                ended = None
        return ended, [sum(t.values()) for t in seen]

    def hold_behind(state):
        # over to the push point at a height clear of the cube, then down, then stay
        if np.linalg.norm((state["ee_pos"] - PUSH_POINT)[:2]) > 0.01:
            return toward(state["ee_pos"], np.append(PUSH_POINT[:2], 0.08))
        return toward(state["ee_pos"], PUSH_POINT)

    pushed_end, pushed = run(CONTROLLERS[TASK]())
    held_end, held = run(hold_behind)
    assert pushed_end == "success" and held_end == "timeout"
    assert sum(pushed) > sum(held) + 10.0
    # once parked, the approach pays nothing more: the last 20 steps net about zero
    assert abs(sum(held[-20:])) < 0.05


def test_going_down_pays_once_over_the_push_point_and_little_far_from_it(env):
    """The approach is one distance on the table plane and in height: far from the push
    point on the plane, coming down to the cube's height pays little (travelling high keeps
    clear of the cube); right over it, coming down pays nearly as much as going round."""
    _, info = env.reset(seed=0, options={"object_pos": CUBE, "goal_pos": GOAL})
    down = np.array([0.0, 0.0, -0.02])
    far, _ = goto(env, info["state"], GOAL_SIDE + np.array([0.05, 0.0, 0.08]), 10)
    over, _ = goto(env, far, PUSH_POINT + np.array([0.0, 0.0, 0.08]), 12)
    assert np.linalg.norm((over["ee_pos"] - PUSH_POINT)[:2]) < 0.01
    far_pay, over_pay = paid(far, down), paid(over, down)
    assert over_pay > 0.15, over_pay  # 10 per m of way left, 2 cm of it
    assert far_pay < 0.5 * over_pay, (far_pay, over_pay)


def test_pushing_off_the_line_to_the_goal_costs_more_than_a_centimetre_of_progress_pays(env):
    """Steering: the cube goes where the fingertips push it. Behind the cube, drifting 1 cm
    off the line to the goal must cost more than moving the cube 1 cm nearer pays, or a
    policy pushes the cube on past the goal's side (what 3M-step policies did before the
    aim term)."""
    _, info = env.reset(seed=0, options={"object_pos": CUBE, "goal_pos": GOAL})
    above, _ = goto(env, info["state"], PUSH_POINT + np.array([0.0, 0.0, 0.08]), 12)
    behind, _ = goto(env, above, np.array([-0.05, 0.0, 0.02]), 8)
    assert np.linalg.norm(behind["object_pos"] - CUBE) < 2e-3
    assert np.linalg.norm((behind["ee_pos"] - [-0.05, 0.0, 0.02])[:2]) < 0.01
    progress = paid(behind, np.array([0.01, 0.0, 0.0]), np.array([0.01, 0.0, 0.0]))
    assert progress > 0.15, progress  # 20 per m of the cube's way to the goal
    for side in (1.0, -1.0):
        drift = paid(behind, np.array([0.0, 0.01 * side, 0.0]))
        assert drift < -progress, (side, drift, progress)
    # and coming back onto the line pays it back (a potential: nothing to farm)
    off = moved(behind, np.array([0.0, 0.01, 0.0]))
    assert paid(off, np.array([0.0, -0.01, 0.0])) == pytest.approx(
        -paid(behind, np.array([0.0, 0.01, 0.0])), abs=1e-9
    )
