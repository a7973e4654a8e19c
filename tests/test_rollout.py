"""The one episode loop (sims.rollout.run_episodes) and EvalResult as a view over it."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import sims
from agentic_rl.ppo import evaluate
from sims.rollout import PerEpisode, run_episodes

HOVER = sims.get_spec("DroneHover")


def _dive(obs: np.ndarray) -> np.ndarray:
    return np.array([0.0, 0.0, -0.3, 0.0])


def _terms(state, action, prev_state, task):
    return {"height": float(state["pos"][2]), "effort": -float(np.sum(np.square(action)))}


def test_outcomes_match_the_envs_own_report():
    env = sims.make("DroneHover", reward_fn=_terms)
    try:
        (ep,) = run_episodes(env, _dive, [3], record=True)
        obs, info = env.reset(seed=3)
        steps, ret, done = 0, 0.0, False
        while not done:
            obs, r, term, trunc, info = env.step(_dive(obs))
            steps, ret, done = steps + 1, ret + r, term or trunc
    finally:
        env.close()
    assert (ep.length, ep.reason, ep.success) == (steps, info["termination_reason"], False)
    assert ep.reason in {r.name for r in HOVER.termination_reasons}
    assert ep.ret == pytest.approx(ret)
    assert ep.metrics == {k: float(v) for k, v in info["task_metrics"].items()}
    # recorded: what the policy saw and did, every state, and the reward's terms per step
    assert ep.observations.shape == (steps, HOVER.obs_size)
    assert ep.actions.shape == (steps, 4) and len(ep.states) == steps + 1
    assert ep.state_matrix().shape == (steps + 1, HOVER.obs_size)
    assert set(ep.terms) == {"height", "effort"} and ep.terms["effort"].shape == (steps,)
    assert ep.terms["height"][-1] == pytest.approx(float(ep.states[-1]["pos"][2]))
    assert sum(v.sum() for v in ep.terms.values()) == pytest.approx(ep.ret)


def test_unrecorded_episodes_keep_outcomes_only():
    env = sims.make("DroneHover")
    try:
        eps = run_episodes(env, _dive, range(2))
    finally:
        env.close()
    assert [e.seed for e in eps] == [0, 1]
    assert all(e.states is None and e.actions is None and not e.terms for e in eps)
    with pytest.raises(ValueError, match="record=True"):
        eps[0].state_matrix()


def test_params_per_episode_scene_frames_and_per_episode_policies():
    env = sims.make("DroneHover", render_mode="rgb_array", render_size=(32, 24))
    made = []

    def make(index, seed):
        made.append((index, seed))
        return _dive

    try:
        eps = run_episodes(
            env,
            PerEpisode(make),
            [5, 6],
            params=lambda seed: {"mass": 1.0 + 0.1 * (seed - 5)},
            scene=(40, 30),
            frames=True,
        )
    finally:
        env.close()
    assert made == [(0, 5), (1, 6)]
    assert [e.params["mass"] for e in eps] == pytest.approx([1.0, 1.1])
    assert eps[0].scene.shape == (30, 40, 3) and eps[0].scene.dtype == np.uint8
    assert len(eps[0].frames) == eps[0].length + 1 and eps[0].frames[0].shape == (24, 32, 3)


def test_max_steps_cuts_an_endless_seed_stream():
    env = sims.make("DroneHover")
    try:
        eps = run_episodes(env, _dive, itertools.count(), record=True, max_steps=500)
    finally:
        env.close()
    assert sum(e.length for e in eps) == 500 and len(eps) >= 2
    assert all(e.reason is not None for e in eps[:-1]) and eps[-1].reason is None
    assert len(eps[-1].states) == eps[-1].length + 1


def test_eval_result_is_a_view_over_its_episodes():
    ev = evaluate(_dive, "DroneHover", seeds=[1, 2, 3])
    assert ev.seeds == [1, 2, 3] and [e.seed for e in ev.runs] == ev.seeds
    assert sum(ev.termination_reasons.values()) == 3 and ev.success_rate == 0.0
    assert ev.lengths == [e.length for e in ev.runs]
    d = ev.to_dict()
    assert set(d) == {
        "task_id",
        "randomized",
        "seeds",
        "successes",
        "termination_reasons",
        "task_metrics",
        "returns",
        "lengths",
        "success_rate",
        "mean_metrics",
    }
    assert d["mean_metrics"] == ev.mean_metrics()
