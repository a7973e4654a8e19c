"""Checks before training: rewards scored on recorded episodes in the sandbox, verdicts."""

from __future__ import annotations

import numpy as np

import sims
from agentic_rl.designers.precheck import (
    RecordedEpisode,
    check_reward,
    judge,
    load_episodes,
    save_episodes,
)

HOVER = sims.get_spec("DroneHover")
LIMIT = HOVER.max_episode_steps


def _episode(kind: str, length: int | None = None) -> RecordedEpisode:
    """A DroneHover episode: 'success' flies 1 m to the goal and holds, 'timeout' hovers 1 m
    away, 'crash' drifts down from 1 m away and ends early."""
    n = length or (LIMIT if kind != "crash" else 40)
    t = np.linspace(0.0, 1.0, n + 1)
    if kind == "success":
        dist = np.clip(1.0 - 2.0 * t, 0.0, None)
    elif kind == "timeout":
        dist = np.full(n + 1, 1.0)
    else:
        dist = 1.0 + 0.2 * t
    states = {f.name: np.zeros((n + 1, *f.shape)) for f in HOVER.state_fields}
    states["goal_rel"][:, 2] = dist
    states["quat"][:, 3] = 1.0
    if kind == "crash":
        states["tilt"][:] = np.linspace(0.0, 1.6, n + 1)
    reason = {"success": "success", "timeout": "timeout", "crash": "crash"}[kind]
    return RecordedEpisode(states, np.zeros((n, 4)), kind == "success", reason)


EPISODES = [_episode("success"), _episode("success"), _episode("timeout"), _episode("crash")]

CLOSENESS = """
def compute_reward(state, action, prev_state, task):
    return {"closeness": terms.closeness(terms.norm(state["goal_rel"]), 0.5)}
"""
DISTANCE = """
def compute_reward(state, action, prev_state, task):
    return {"distance": -terms.norm(state["goal_rel"])}
"""
FAR_AWAY = """
def compute_reward(state, action, prev_state, task):
    return {"away": terms.norm(state["goal_rel"])}
"""


def test_bounded_positive_reward_passes_with_its_numbers():
    v = check_reward(CLOSENESS, HOVER, EPISODES)
    assert v.passed, v.message
    assert (v.successes, v.failures, v.early_failures, v.at_limit) == (2, 2, 1, 3)
    assert v.success_return > v.failure_return and v.pairs_ranked_right == 1.0
    assert v.early_paid == 0 and v.limit_paid == 0
    assert v.early_survival_return > v.early_return


def test_negative_per_step_reward_is_rejected_because_crashing_pays():
    v = check_reward(DISTANCE, HOVER, EPISODES)
    assert not v.passed
    survival = next(c for c in v.checks if c.name == "survival")
    assert not survival.passed and "Ending the episode early pays" in v.message
    assert v.early_paid == 1 and v.limit_paid == 3
    # the repair message carries the numbers a model needs
    assert f"{v.early_return:.4g}" in v.message and "1 of 1 episodes" in v.message


def test_reward_that_prefers_failing_is_rejected_by_the_ranking():
    v = check_reward(FAR_AWAY, HOVER, EPISODES)
    ranking = next(c for c in v.checks if c.name == "ranking")
    assert not ranking.passed and not v.passed
    assert v.success_return < v.failure_return and "Failing pays" in v.message


def test_a_large_failure_penalty_keeps_survival_worth_it():
    rows = [np.full(LIMIT, -0.01), np.concatenate([np.full(39, -0.01), [-50.0]])]
    eps = [_episode("timeout"), _episode("crash")]
    v = judge(HOVER, eps, rows)
    assert v.early_paid == 0 and v.limit_paid == 0 and v.failure_penalty < -49
    assert v.passed, v.message


def test_checks_without_the_episodes_they_need_are_not_applicable():
    v = judge(HOVER, [_episode("success")], [np.ones(LIMIT)])
    ranking = next(c for c in v.checks if c.name == "ranking")
    assert v.passed and not ranking.applicable and "fewer than 2 successful" in ranking.message


def test_reward_errors_are_counted_and_broken_code_is_refused():
    # raises on the crash's last 3 steps: tolerated (paid 0 there, as in training), reported
    sometimes = 'x = [0.0][int(state["tilt"] > 1.5)]'
    v = check_reward(CLOSENESS.replace("return {", sometimes + "\n    return {"), HOVER, EPISODES)
    assert v.reward_errors == 3 and "raised on 3 recorded steps" in v.message
    always = 'x = [0.0][int(state["tilt"]) + 1]'
    v = check_reward(CLOSENESS.replace("return {", always + "\n    return {"), HOVER, EPISODES)
    assert not v.passed and v.checks[0].name == "runs"
    assert "raised 101 exceptions" in v.message and "IndexError" in v.message
    v = check_reward("def compute_reward(state):\n    return 1\n", HOVER, EPISODES[:1])
    assert not v.passed and "does not compile" in v.message


def test_episodes_round_trip_and_come_from_flat_records(tmp_path):
    save_episodes(tmp_path / "episodes.npz", EPISODES)
    again = load_episodes(tmp_path / "episodes.npz")
    assert [(e.success, e.reason, e.length) for e in again] == [
        (e.success, e.reason, e.length) for e in EPISODES
    ]
    assert np.array_equal(again[3].states["tilt"], EPISODES[3].states["tilt"])
    flat = np.concatenate(
        [EPISODES[0].states[f.name].reshape(LIMIT + 1, -1) for f in HOVER.state_fields], axis=1
    )
    ep = RecordedEpisode.from_flat(HOVER, flat, EPISODES[0].actions, True, "success")
    assert all(np.array_equal(ep.states[k], v) for k, v in EPISODES[0].states.items())


def test_parent_episodes_are_read_beside_the_packet(tmp_path):
    from agentic_rl.designers.precheck import EPISODES_FILE, parent_episodes
    from agentic_rl.records import CandidateRecord, Proposal

    record = CandidateRecord(
        iteration=0,
        index=0,
        status="trained",
        proposal=Proposal(response="x", designer="offline"),
        packet_path=str(tmp_path / "packet.json"),
    )
    assert parent_episodes(record) == []
    save_episodes(tmp_path / EPISODES_FILE, EPISODES[:2])
    assert [e.reason for e in parent_episodes(record)] == ["success", "success"]


REACH = sims.get_spec("ArmReach")  # success ends the episode


def _bare(spec, length: int, success: bool, reason: str) -> RecordedEpisode:
    """An episode of ``spec`` whose states do not matter (judge() reads the outcome only)."""
    states = {f.name: np.zeros((length + 1, *f.shape)) for f in spec.state_fields}
    return RecordedEpisode(states, np.zeros((length, 3)), success, reason)


def test_where_success_ends_the_episode_a_per_step_cost_is_judged_against_finishing():
    # a cost per step plus a success bonus: successes finish in 20 steps with +10, a failure
    # leaves after 10 steps; the old yardstick (the time limit at the median step) said the
    # failure paid, though finishing earns far more than either
    eps = [_bare(REACH, 20, True, "success")] * 2 + [_bare(REACH, 10, False, "out_of_bounds")]
    eps += [_bare(REACH, REACH.max_episode_steps, False, "timeout")]
    rows = [np.r_[np.full(19, -0.1), 10.0]] * 2 + [np.full(10, -0.1)]
    rows += [np.full(REACH.max_episode_steps, -0.1)]
    v = judge(REACH, eps, rows)
    assert v.passed, v.message
    assert v.early_paid == 0 and v.limit_paid == 0
    assert v.early_survival_return == v.success_return  # the yardstick is the successes
    assert "finishing as the recorded successes did" in v.message
    # the same costs without a success bonus: failing early beats finishing, refused
    rows = [np.full(20, -0.1)] * 2 + [np.full(10, -0.1), np.full(REACH.max_episode_steps, -0.1)]
    v = judge(REACH, eps, rows)
    assert not v.passed and v.early_paid == 1
    assert "Ending the episode early pays" in v.message


def test_where_success_ends_the_episode_without_a_recorded_success_the_time_limit_counts():
    eps = [_bare(REACH, 10, False, "out_of_bounds"), _bare(REACH, 50, False, "timeout")]
    v = judge(REACH, eps, [np.full(10, -0.1), np.full(50, -0.1)])
    assert not v.passed and v.early_paid == 1
    assert "surviving to the time limit" in v.message
