"""DroneObstacles' reference reward: ending an episode early must cost, not pay.

Without a penalty at contact or at the flight box, ending the episode was the cheapest way
out of a bad spot and PPO learned to fly into pillars (issue #16); these tests pin the
penalties to the env's own endings, so a change of PyBullet's contact margin or of the
task's bounds that silently disarmed them fails here.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import rewards
import sims
from tests.scripted import _to_action

TASK = "agentic_rl/DroneObstacles-v0"


@pytest.fixture(scope="module")
def env():
    made = sims.make(TASK, reward_fn=rewards.load_reward(sims.get_spec(TASK), "reference"))
    yield made
    made.close()


def fly(env, seed: int, velocity) -> tuple[dict, list[dict]]:
    """Fly ``velocity(state) -> world velocity`` until the episode ends; the last info and
    every step's reward terms."""
    _, info = env.reset(seed=seed)
    seen = []
    while True:
        _, _, term, trunc, info = env.step(_to_action(env, velocity(info["state"])))
        seen.append(info["reward_terms"])
        if term or trunc:
            return info, seen


def test_flying_into_a_pillar_costs_the_collision_penalty_on_the_last_step_only(env):
    def at_nearest_pillar(state):
        dx, dy = state["obstacle_rel"][0]
        return np.array([dx, dy, 0.0]) / math.hypot(dx, dy)

    info, seen = fly(env, 3, at_nearest_pillar)
    assert info["termination_reason"] == "collision"
    assert seen[-1]["collision"] == -10.0
    assert all(t["collision"] == 0.0 for t in seen[:-1])
    # it closed in on the pillar, and the closer it got the more that cost (on the contact
    # step itself PyBullet has already stopped it)
    assert seen[-2]["approach"] < seen[-6]["approach"] < seen[-10]["approach"] < 0.0


def test_leaving_the_flight_box_costs_the_out_of_bounds_penalty(env):
    info, seen = fly(env, 3, lambda state: np.array([-1.0, 0.0, 0.0]))  # backwards, away
    assert info["termination_reason"] == "out_of_bounds"
    assert seen[-1]["out_of_bounds"] == -10.0
    assert all(t["out_of_bounds"] == 0.0 and t["approach"] == 0.0 for t in seen[:-1])


def test_homing_is_a_potential_paid_only_for_getting_nearer_the_goal(env):
    """Whatever the flight, the homing terms sum to the change in closeness to the goal, so
    lingering near the goal earns nothing (success ends the episode)."""
    _, info = env.reset(seed=5)  # a layout with a clear straight line to the goal
    start = float(np.linalg.norm(info["state"]["goal_rel"]))
    paid = 0.0
    while True:
        toward = np.asarray(info["state"]["goal_rel"], dtype=float)
        _, _, term, trunc, info = env.step(_to_action(env, 1.2 * toward / np.linalg.norm(toward)))
        paid += info["reward_terms"]["homing"]
        if term or trunc:
            break
    end = float(np.linalg.norm(info["state"]["goal_rel"]))
    assert paid == pytest.approx(10.0 * (math.exp(-end / 0.5) - math.exp(-start / 0.5)), abs=1e-6)
    assert info["termination_reason"] == "success" and paid > 6.0
