"""DroneWallLanding: the rest the tracker counts is the rest the state shows, a hand-flown
landing succeeds, and the reference reward pays a finished rest, not a rest cut short."""

from __future__ import annotations

import numpy as np
import pytest

import sims
from agentic_rl.ppo.envs import load_reward
from tests import scripted

TASK = "agentic_rl/DroneWallLanding-v0"


def _hopping_pilot(after: int):
    """The scripted pilot, except that the first time it has rested ``after`` steps it climbs
    for a few steps (the rest counter restarts) and then lands again."""
    climb = {"left": None}

    def pilot(env, s):
        if climb["left"] is None and env.rest_steps >= after:
            climb["left"] = 8
        if climb["left"]:
            climb["left"] -= 1
            return scripted._to_action(env, np.array([0.0, 0.0, 0.4]))
        return scripted.wall_landing(env, s)

    return pilot


def _episode(env, seed: int, pilot) -> list[dict]:
    _, info = env.reset(seed=seed)
    steps = []
    while True:
        _, _, term, trunc, info = env.step(pilot(env, info["state"]))
        steps.append({**info, "rest_steps": env.rest_steps})
        if term or trunc:
            return steps


@pytest.fixture(scope="module")
def env():
    made = sims.make(TASK, reward_fn=load_reward(TASK, "reference")).unwrapped
    yield made
    made.close()


def test_a_hand_flown_landing_succeeds_and_the_state_shows_the_rest_the_tracker_counts(env):
    """Over the wall, straight down onto the pad centre at 0.25 m/s and stay: success, and at
    every step the observed rest_time is the tracker's count, this step included, so the
    success step shows the full rest the criterion asks for."""
    hz, need = env.task_spec.constants["control_hz"], env.task_spec.constants["rest_seconds"]
    steps = _episode(env, 0, scripted.wall_landing)
    assert steps[-1]["termination_reason"] == "success", steps[-1]["termination_reason"]
    for info in steps:
        assert float(info["state"]["rest_time"]) * hz == pytest.approx(info["rest_steps"])
    assert float(steps[-1]["state"]["rest_time"]) == pytest.approx(need)
    assert float(steps[-2]["state"]["rest_time"]) < need


def test_the_reference_reward_takes_back_a_rest_cut_short_and_pays_the_finished_one(env):
    """Lifting off after 30 of the 48 rest steps forfeits what the rest and the touchdown
    earned (a flat pay per rest step made hopping worth more than finishing, which ends the
    episode); the finished rest pays the same whether or not a hop came first, and the landing
    bonus once."""
    straight = _episode(env, 1, scripted.wall_landing)
    hop = _episode(env, 1, _hopping_pilot(30))
    assert straight[-1]["is_success"] and hop[-1]["is_success"]
    assert max(i["rest_steps"] for i in hop) == straight[-1]["rest_steps"]  # restarted, finished
    lift = next(
        k for k, i in enumerate(hop) if k and hop[k - 1]["rest_steps"] >= 30 > i["rest_steps"]
    )
    for term in ("resting", "touchdown"):  # both taken back whole at lift-off
        paid = np.cumsum([i["reward_terms"][term] for i in hop])
        assert paid[lift - 1] > 0 and paid[lift] == pytest.approx(0.0, abs=1e-9), term

    def total(steps, term):
        return sum(i["reward_terms"][term] for i in steps)

    for term in ("resting", "landed"):
        assert total(straight, term) > 0
        assert total(hop, term) == pytest.approx(total(straight, term))
    assert [i["reward_terms"]["landed"] > 0 for i in straight].count(True) == 1
    assert straight[-1]["reward_terms"]["landed"] > 0
    # the touchdown pay is paid once more on landing again, as much as the spot is centred
    assert total(hop, "touchdown") == pytest.approx(total(straight, "touchdown"), rel=0.3)


def test_the_reference_reward_pays_a_centred_touchdown_more_than_one_near_the_pad_edge(env):
    """The scripted pilot aimed at the centre and at a point 7 cm past it (still a success):
    the touchdown pay grows toward the centre, so landing centred beats landing just inside
    the tolerance (seed 1 of the 1M benchmark runs overshot the centre by ~7 cm on average and
    missed the pad in 23 of 100 held-out episodes)."""

    def aimed_past(env, s):
        return scripted.wall_landing(env, {**s, "pad_rel": s["pad_rel"] + (0.07, 0.0, 0.0)})

    centred = _episode(env, 2, scripted.wall_landing)
    edge = _episode(env, 2, aimed_past)
    assert centred[-1]["is_success"] and edge[-1]["is_success"]
    pay = [sum(i["reward_terms"]["touchdown"] for i in steps) for steps in (centred, edge)]
    assert pay[0] > 2 * pay[1] > 0
