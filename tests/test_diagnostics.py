"""Diagnosis packets: every finding rule on crafted inputs (fires / stays quiet), exemplar
words, the token budget, JSON round trip against the published schema, and an end-to-end
diagnose of a tiny PPO policy on DroneHover."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import jsonschema
import numpy as np
import pytest

import rewards
import sims
from agentic_rl.diagnostics import (
    CurvePoint,
    DiagnosisPacket,
    EpisodeRecord,
    EvalSummary,
    Finding,
    MetricStats,
    Rollouts,
    TermStats,
    TrainLog,
    build_packet,
    compute_findings,
    diagnose,
    estimate_tokens,
    load_packet,
    render_text,
    run_rollouts,
)
from agentic_rl.diagnostics import findings as F
from agentic_rl.diagnostics.exemplars import exemplars
from agentic_rl.diagnostics.keys import KeyFields, StateLayout
from agentic_rl.ppo import evaluate, load_policy, make_config, train
from sims.rollout import Episode

HOVER = sims.get_spec("DroneHover")
DT = 1.0 / HOVER.control_hz
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


# --------------------------------------------------------------------------- crafted inputs
def episode(
    pos: np.ndarray,
    goal: np.ndarray,
    *,
    success: bool = False,
    reason: str = "timeout",
    tilt: np.ndarray | None = None,
    seed: int = 0,
    randomized: bool = False,
) -> EpisodeRecord:
    """A DroneHover episode with the given positions (T+1, 3); velocity is their derivative."""
    layout = StateLayout(HOVER)
    n = len(pos)
    states = np.zeros((n, layout.size))
    offsets, start = {}, 0
    for f in HOVER.state_fields:
        offsets[f.name] = slice(start, start + f.size)
        start += f.size
    states[:, offsets["pos"]] = pos
    states[:, offsets["quat"]] = (0.0, 0.0, 0.0, 1.0)
    states[:, offsets["vel"]] = np.gradient(pos, DT, axis=0)
    states[:, offsets["goal_rel"]] = goal - pos
    if tilt is not None:
        states[:, offsets["tilt"]] = tilt[:, None] if tilt.ndim == 1 else tilt
    return EpisodeRecord.from_arrays(
        states,
        np.zeros((n - 1, 4)),
        dt=DT,
        seed=seed,
        randomized=randomized,
        success=success,
        reason=reason,
        metrics={"final_distance": float(np.linalg.norm(goal - pos[-1]))},
        terms={"near": np.ones(n - 1)},
    )


def summary(reasons: dict[str, int], randomized: bool = False) -> EvalSummary:
    n = sum(reasons.values())
    return EvalSummary(
        randomized=randomized,
        episodes=n,
        seeds=list(range(n)),
        success_rate=reasons.get("success", 0) / n,
        termination_reasons=reasons,
    )


def term(name: str, share: float, **kw) -> TermStats:
    values = {"mean": 1.0, "min": 0.5, "max": 1.5, "trend": 0.0, **kw}
    return TermStats(name=name, share=share, **values)


def curve(success: list[float], reward: list[float], metric: list[float]) -> list[CurvePoint]:
    return [
        CurvePoint(
            step=1000 * (i + 1),
            success_rate=s,
            episode_reward=r,
            task_metric=m,
            episode_length=384.0,
        )
        for i, (s, r, m) in enumerate(zip(success, reward, metric, strict=True))
    ]


GOAL = np.array([0.0, 0.0, 1.0])
T_STEPS = 384
TIME = np.arange(T_STEPS + 1) * DT


def hovering(offset: float = 0.0, seed: int = 0, **kw) -> EpisodeRecord:
    pos = np.tile(GOAL + np.array([offset, 0.0, 0.0]), (T_STEPS + 1, 1))
    return episode(pos, GOAL, seed=seed, **kw)


def oscillating(
    amplitude: float = 0.1, hz: float = 1.0, seed: int = 0, goal: np.ndarray = GOAL
) -> EpisodeRecord:
    """Swinging along x around (0, 0, 1) m; the goal is elsewhere when ``goal`` says so."""
    pos = np.tile(GOAL, (T_STEPS + 1, 1))
    pos[:, 0] += amplitude * np.sin(2 * np.pi * hz * TIME)
    return episode(pos, goal, seed=seed)


def clean_packet() -> DiagnosisPacket:
    """A healthy candidate: learns, succeeds under both physics, balanced, varying terms."""
    step_stats = MetricStats(mean=0.2, std=0.1, min=0.0, max=0.5)
    return DiagnosisPacket(
        task_id=HOVER.id,
        candidate="i0/c0",
        reward_hash="0" * 64,
        reward_terms=["near", "tilt"],
        train_steps=10_000,
        training=curve(
            [0.0, 0.2, 0.5, 0.8, 0.9, 0.95], [1, 2, 3, 4, 5, 6], [1, 0.8, 0.5, 0.3, 0.2, 0.1]
        ),
        terms=[
            term("near", 0.6, eval_step=step_stats, curve=[10, 20, 30, 40, 50, 60]),
            term("tilt", 0.4, eval_step=step_stats, curve=[-5, -4, -3, -2, -2, -1]),
        ],
        nominal=summary({"success": 19, "timeout": 1}),
        randomized=summary({"success": 17, "crash": 3}, randomized=True),
        task_metric_name="final_distance",
        task_metric_higher_is_better=False,
    )


# --------------------------------------------------------------------------- findings
def test_clean_packet_has_no_findings():
    episodes = [hovering(0.01, seed=s, success=True, reason="success") for s in range(4)]
    assert compute_findings(clean_packet(), HOVER, episodes) == []


def test_dominant_term_fires_above_threshold_only():
    found = F.dominant_term([term("a", 0.9), term("b", 0.1)])
    assert found is not None and found.code == "dominant_term" and found.term == "a"
    assert found.evidence["share"] == pytest.approx(0.9)
    assert F.dominant_term([term("a", 0.6), term("b", 0.4)]) is None
    assert F.dominant_term([term("a", 1.0)]) is None  # a single term cannot dominate others


def test_inert_term_zero_constant_and_varying():
    zero = MetricStats(mean=0.0, std=0.0, min=0.0, max=0.0)
    one = MetricStats(mean=1.0, std=0.0, min=1.0, max=1.0)
    varying = MetricStats(mean=0.3, std=0.1, min=0.0, max=0.6)
    training = curve([0.0] * 4, [1.0] * 4, [1.0] * 4)
    out = F.inert_terms(
        [
            term("never", 0.0, eval_step=zero, curve=[0, 0, 0, 0]),
            term("alive", 0.5, eval_step=one, curve=[384.0] * 4),
            term("shaped", 0.5, eval_step=varying, curve=[1, 2, 3, 4]),
            # constant in evaluation but paid differently in training: not inert
            term("bonus", 0.0, eval_step=zero, curve=[0, 3, 0, 5]),
        ],
        training,
    )
    by_term = {f.term: f for f in out}
    assert set(by_term) == {"never", "alive"}
    assert by_term["never"].severity == "warning" and "never pays" in by_term["never"].message
    assert by_term["alive"].severity == "info" and by_term["alive"].evidence["value"] == 1.0


def test_reward_hacking_needs_rising_reward_and_worsening_task():
    rising = [1, 2, 3, 4, 5, 6]
    hacked = curve([0.6, 0.6, 0.4, 0.3, 0.2, 0.1], rising, [0.2, 0.2, 0.4, 0.6, 0.8, 1.0])
    terms = [
        term("hover_bonus", 0.5, curve=[1, 2, 4, 8, 16, 32]),  # grows: the suspect
        term("progress", 0.5, curve=[5, 5, 4, 4, 3, 3]),
    ]
    found = F.reward_hacking(hacked, higher_is_better=False, terms=terms)
    assert found is not None and found.severity == "critical"
    assert found.evidence["reward_trend"] > F.HACK_REWARD_RISE
    assert found.term == "hover_bonus" and "'hover_bonus' grew the most" in found.message
    # the metric worsening alone (success flat) is enough
    flat_success = curve([0.1] * 6, rising, [0.2, 0.2, 0.4, 0.6, 0.8, 1.0])
    assert F.reward_hacking(flat_success, higher_is_better=False) is not None
    # ... but not when the same numbers are a metric where higher is better (it improved)
    assert F.reward_hacking(flat_success, higher_is_better=True) is None
    honest = curve([0.0, 0.1, 0.3, 0.5, 0.7, 0.9], rising, [1.0, 0.8, 0.6, 0.4, 0.3, 0.2])
    assert F.reward_hacking(honest, higher_is_better=False) is None


def test_crash_dominated_counts_early_failures():
    found = F.crash_dominated([summary({"crash": 8, "flipped": 4, "success": 8})], HOVER)
    assert found is not None and found.severity == "critical"
    assert found.evidence["count_crash"] == 8 and found.evidence["count_flipped"] == 4
    assert "crash 8" in found.message
    assert F.crash_dominated([summary({"crash": 2, "success": 18})], HOVER) is None
    assert F.crash_dominated([summary({"timeout": 12, "success": 8})], HOVER) is None


def test_timeout_dominated_says_far_or_near():
    layout, keys = StateLayout(HOVER), KeyFields.for_spec(HOVER)
    sums = [summary({"timeout": 12, "success": 8})]
    far = [hovering(1.0, seed=s) for s in range(3)]
    found = F.timeout_dominated(sums, HOVER, far, layout, keys)
    assert found is not None and found.evidence["far"] == 1.0
    assert found.evidence["final_distance"] == pytest.approx(1.0)
    assert "does not get there" in found.message
    near = [hovering(0.15, seed=s) for s in range(3)]
    found = F.timeout_dominated(sums, HOVER, near, layout, keys)
    assert found is not None and found.evidence["far"] == 0.0
    assert F.timeout_dominated([summary({"crash": 12, "success": 8})], HOVER) is None


def test_oscillation_near_goal_fires_on_oscillation_not_on_steady_hover():
    layout, keys = StateLayout(HOVER), KeyFields.for_spec(HOVER)
    found = F.oscillation_near_goal([oscillating(seed=s) for s in range(3)], layout, keys)
    assert found is not None and found.code == "oscillation_near_goal"
    assert found.evidence["episodes_oscillating"] == 3
    assert found.evidence["reversal_hz"] == pytest.approx(2.0, abs=0.3)  # 2 reversals per period
    assert "reward holding still" in found.message
    # a goal that moves on when reached (the next gate) is passed through, not held
    passing = dataclasses.replace(keys, advances=True)
    found = F.oscillation_near_goal([oscillating(seed=s) for s in range(3)], layout, passing)
    assert "do not reward holding still" in found.message
    assert KeyFields.for_spec(sims.get_spec("DroneGates")).advances and not keys.advances
    rng = np.random.default_rng(0)
    steady = []
    for s in range(3):
        # millimetre jitter: velocity stays inside the dead band
        pos = np.tile(GOAL, (T_STEPS + 1, 1)) + rng.normal(0, 2e-4, (T_STEPS + 1, 3))
        steady.append(episode(pos, GOAL, seed=s))
    assert F.oscillation_near_goal(steady, layout, keys) is None
    # oscillating far from the goal is not "near the goal"
    away = [oscillating(seed=s, goal=GOAL + 2.0) for s in range(3)]
    assert F.oscillation_near_goal(away, layout, keys) is None


def test_nonfinite_terms():
    found = F.nonfinite_terms([term("a", 0.5, nonfinite=500), term("b", 0.5)], train_steps=10_000)
    assert found is not None and found.term == "a" and found.severity == "critical"
    minor = F.nonfinite_terms([term("a", 0.5, eval_nonfinite=2)], train_steps=10_000)
    assert minor is not None and minor.severity == "warning"
    assert F.nonfinite_terms([term("a", 0.5), term("b", 0.5)], train_steps=10_000) is None


def test_randomization_gap():
    nominal = summary({"success": 18, "timeout": 2})
    found = F.randomization_gap(nominal, summary({"success": 6, "crash": 14}, randomized=True))
    assert found is not None and found.evidence["gap"] == pytest.approx(0.6)
    assert F.randomization_gap(nominal, summary({"success": 16, "crash": 4}, True)) is None
    assert F.randomization_gap(nominal, None) is None


def test_no_learning():
    flat = curve([0.0] * 6, [1.0] * 6, [1.0, 1.01, 0.99, 1.0, 1.0, 1.0])
    found = F.no_learning(flat, summary({"timeout": 20}))
    assert found is not None and found.severity == "critical"
    assert found.message.startswith("No learning")
    # reward collected, task flat: same code, the message says the reward is misaligned
    collected = curve([0.0] * 6, [5.0, 10, 15, 20, 30, 35], [1.0, 1.01, 0.99, 1.0, 1.0, 1.0])
    found = F.no_learning(collected, summary({"timeout": 20}))
    assert found is not None and found.message.startswith("Task not learned")
    assert found.evidence["reward_trend"] > F.HACK_REWARD_RISE
    learning = curve([0.0] * 6, [1.0] * 6, [1.0, 0.9, 0.7, 0.5, 0.4, 0.3])
    assert F.no_learning(learning, summary({"timeout": 20})) is None
    assert F.no_learning(flat, summary({"success": 10, "timeout": 10})) is None


def test_compute_findings_orders_by_severity():
    packet = clean_packet()
    packet.terms = [term("a", 0.95), term("b", 0.05, nonfinite=1)]
    packet.nominal = summary({"crash": 15, "success": 5})
    found = compute_findings(packet, HOVER)
    codes = [f.code for f in found]
    assert "crash_dominated" in codes and "dominant_term" in codes and "nonfinite_terms" in codes
    ranks = [{"critical": 0, "warning": 1, "info": 2}[f.severity] for f in found]
    assert ranks == sorted(ranks)


# --------------------------------------------------------------------------- exemplars
def test_exemplar_summary_says_when_where_and_what():
    # a drone falling from 1 m and crashing after 1.5 s, 1 m below the goal
    n = round(1.5 / DT) + 1
    pos = np.zeros((n, 3))
    pos[:, 2] = 1.0 - 0.5 * 9.81 * TIME[:n] ** 2 / 2.2
    tilt = np.linspace(0.0, 0.8, n)
    crash = episode(pos, GOAL, reason="crash", tilt=tilt, seed=7)
    win = hovering(0.02, seed=3, success=True, reason="success")
    out = exemplars(HOVER, [crash, win])
    assert [e.kind for e in out] == ["failure", "success"]
    text = out[0].summary
    assert "crash at t=1.50 s" in text
    assert "goal_rel" in text and "above" in text  # where, in the spec's field names
    assert "descending" in text and "tilt 0.80 rad" in text  # what it was doing, with units
    assert out[0].last_moments[-1].t == pytest.approx(1.5)
    assert set(out[0].last_moments[-1].values) >= {"pos", "vel", "tilt", "goal_rel", "reward.near"}
    assert len(out[0].trajectory) <= 60 and out[0].trajectory[0] == [0.0, 0.0, 1.0]


def test_exemplars_are_generic_over_robots():
    spec = sims.get_spec("ArmPush")
    rollouts = run_rollouts(lambda obs: np.zeros(spec.action.shape), spec, episodes=1, seed=0)
    (ex,) = exemplars(spec, rollouts.nominal)
    assert ex.kind == "failure" and ex.termination_reason == "timeout"
    assert "ee_pos=" in ex.summary and "the cube" in ex.summary and "the goal" in ex.summary
    assert "tilt" not in ex.summary  # arms have no tilt field


# --------------------------------------------------------------------------- rendering
def big_packet() -> DiagnosisPacket:
    """A packet with many terms and findings and long exemplars, so budgets bite."""
    packet = clean_packet()
    packet.terms = [term(f"term_{i}", 1 / 12, curve=[1.0] * 10) for i in range(12)]
    packet.training = curve([0.1 * i for i in range(10)], list(range(10)), [1.0] * 10)
    packet.findings = [
        Finding(code="crash_dominated", message="crash " * 40, severity="critical"),
        Finding(code="dominant_term", message="dominant " * 40),
        Finding(code="inert_term", message="inert " * 40, severity="info"),
    ]
    eps = [oscillating(seed=1), hovering(0.02, seed=2, success=True, reason="success")]
    packet.exemplars = exemplars(HOVER, eps)
    return packet


def test_render_fits_budget_and_reports_what_it_dropped():
    packet = big_packet()
    full = render_text(packet, budget_tokens=100_000)
    assert "To fit" not in full and "## Training curves" in full
    for budget in (2500, 800, 300, 120):
        text = render_text(packet, budget_tokens=budget)
        assert estimate_tokens(text) <= budget, budget
        if estimate_tokens(full) > budget:
            assert "To fit" in text or "dropped" in text, budget
    small = render_text(packet, budget_tokens=300)
    assert "## Findings" in small  # findings are kept first
    assert "dropped" in small and "exemplar" in small and "packet.json" in small
    with pytest.raises(ValueError, match="at least"):
        render_text(packet, budget_tokens=10)


def test_token_estimate_counts_numbers_dearer_than_prose():
    prose = "the drone drifted away from the goal while holding its attitude " * 4
    numbers = "0.123 -4.567 +8.901 2.345 " * 10
    assert estimate_tokens(prose) < len(prose) / 3.5
    assert estimate_tokens(numbers) > len(numbers) / 3
    assert estimate_tokens("") == 0


# --------------------------------------------------------------------------- round trip
def test_packet_json_round_trips_and_matches_schema(tmp_path):
    packet = big_packet()
    packet.randomized = summary({"success": 1, "crash": 3}, randomized=True)
    data = json.loads(packet.model_dump_json())
    jsonschema.validate(data, DiagnosisPacket.model_json_schema())
    again = DiagnosisPacket.model_validate_json(packet.model_dump_json())
    assert again == packet
    bad = {**data, "findings": [{"code": "not_a_code", "message": "x"}]}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, DiagnosisPacket.model_json_schema())


# --------------------------------------------------------------------------- end to end
@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory) -> Path:
    """A ~4k-step PPO run on DroneHover with the reference reward (seconds, not minutes)."""
    out = tmp_path_factory.mktemp("hover")
    config = make_config("smoke", total_steps=4096, eval_episodes=0, seed=0)
    train(config, "DroneHover", reward="reference", out_dir=out)
    return out


@pytest.fixture(scope="session")
def diagnosed(tiny_run, tmp_path_factory) -> tuple[DiagnosisPacket, Path]:
    out = tmp_path_factory.mktemp("diag")
    packet = diagnose(
        "DroneHover",
        tiny_run / "policy.npz",
        tiny_run,
        candidate="i0/c0",
        reward_source=rewards.reference_source("DroneHover"),
        episodes=4,
        seed=1_000_000,
        randomized_episodes=3,
        out_dir=out,
    )
    return packet, out


def test_diagnose_writes_packet_text_schema_and_plots(diagnosed):
    packet, out = diagnosed
    for name in ("packet.json", "packet.txt", "packet.schema.json"):
        assert (out / name).stat().st_size > 0, name
    assert load_packet(out) == packet
    jsonschema.validate(
        json.loads((out / "packet.json").read_text()),
        json.loads((out / "packet.schema.json").read_text()),
    )
    assert set(packet.plots) == {"training", "term_shares", "trajectories", "terminations"}
    for path in [*packet.plots.values(), packet.scene_image]:
        data = Path(path).read_bytes()
        assert data.startswith(PNG_MAGIC) and len(data) > 1000, path
    text = (out / "packet.txt").read_text()
    assert estimate_tokens(text) <= 2500
    # the nominal episodes, step by step, for the checks before training of its children
    from agentic_rl.designers.precheck import load_episodes

    episodes = load_episodes(out / "episodes.npz")
    assert len(episodes) == packet.nominal.episodes
    assert sum(e.success for e in episodes) == round(packet.nominal.success_rate * len(episodes))
    assert text.startswith("# Diagnosis of candidate i0/c0 on agentic_rl/DroneHover-v0")


def test_diagnose_packet_contents(diagnosed, tiny_run):
    packet, _ = diagnosed
    assert packet.train_steps == 4096 and packet.task_metric_name == "final_distance"
    assert 2 <= len(packet.training) <= 10
    assert [p.step for p in packet.training] == sorted(p.step for p in packet.training)
    ref_terms = {"near_goal", "on_target", "progress", "speed", "tilt", "spin", "action_rate"}
    assert {t.name for t in packet.terms} == ref_terms
    assert sum(t.share for t in packet.terms) == pytest.approx(1.0)
    assert all(
        t.eval_step is not None and len(t.curve) == len(packet.training) for t in packet.terms
    )
    assert packet.nominal.episodes == 4 and packet.nominal.seeds == [
        1_000_000 + i for i in range(4)
    ]
    assert packet.randomized is not None and packet.randomized.episodes == 3
    assert sum(packet.nominal.termination_reasons.values()) == 4
    assert "final_distance" in packet.nominal.metrics
    # the recorded episodes agree with plain ppo.evaluate on the same seeds
    ref = evaluate(tiny_run / "policy.npz", "DroneHover", seeds=packet.nominal.seeds)
    assert ref.termination_reasons == packet.nominal.termination_reasons
    assert packet.exemplars and packet.exemplars[0].summary
    assert {"evaluation_s", "build_s", "plots_s"} <= set(packet.timings)
    assert all(math.isfinite(v) for f in packet.findings for v in f.evidence.values())


def test_rollouts_record_every_step(tiny_run):
    policy = load_policy(tiny_run / "policy.npz")
    src = rewards.reference_source("DroneHover")
    r = run_rollouts(policy, HOVER, episodes=2, seed=5, randomize=False, reward_source=src)
    assert r.randomized is None and len(r.nominal) == 2
    for ep in r.nominal:
        assert ep.states.shape == (ep.length + 1, HOVER.obs_size)
        assert ep.actions.shape == (ep.length, 4) and np.abs(ep.actions).max() <= 1.0
        assert all(len(v) == ep.length for v in ep.terms.values())
        assert ep.ret == pytest.approx(sum(float(v.sum()) for v in ep.terms.values()))
        # a view over the one episode type: no second copy of the outcome
        assert isinstance(ep.episode, Episode) and ep.terms is ep.episode.terms
        assert ep.states[0] == pytest.approx(ep.episode.state_matrix()[0])
    # explicit ranges: a heavier drone on the same seeds flies a different path
    heavy = run_rollouts(
        policy, HOVER, episodes=1, seed=5, randomized_episodes=1, randomize={"mass": (1.2, 1.2)}
    )
    assert heavy.randomized is not None and heavy.randomized[0].randomized
    assert heavy.randomized[0].seed == heavy.nominal[0].seed == 5
    assert not np.allclose(heavy.randomized[0].states[-1], heavy.nominal[0].states[-1])


def test_broken_reward_does_not_stop_evaluation(tiny_run):
    # raises IndexError on every step: counted, paid as nothing, ground truth unaffected
    raising = (
        "def compute_reward(state, action, prev_state, task):\n"
        "    return {'x': [1.0][int(state['tilt'] + 5.0)]}\n"
    )
    ref = evaluate(tiny_run / "policy.npz", "DroneHover", seeds=[0])
    r = run_rollouts(tiny_run / "policy.npz", HOVER, episodes=1, seed=0, reward_source=raising)
    (ep,) = r.nominal
    assert ep.length == ref.lengths[0] and ep.reason in ref.termination_reasons
    assert ep.reward_errors == ep.length  # past the error budget too, the episode went on
    # NaN terms are zeroed and counted by the reward guard
    nan = "def compute_reward(state, action, prev_state, task):\n    return {'y': math.nan}\n"
    r = run_rollouts(tiny_run / "policy.npz", HOVER, episodes=1, seed=0, reward_source=nan)
    assert r.nonfinite == {"y": r.nominal[0].length}
    assert not r.nominal[0].terms["y"].any()


def test_build_packet_without_training_log():
    r = run_rollouts(
        lambda obs: np.zeros(4),
        HOVER,
        episodes=1,
        seed=0,
        reward_source=rewards.reference_source("DroneHover"),
    )
    packet = build_packet(HOVER, None, r, candidate="x")
    assert packet.training == [] and packet.train_steps == 0
    assert packet.terms and any("no training log" in n for n in packet.notes)
    assert render_text(packet)


def test_trainlog_reads_missing_cells_as_nan(tmp_path):
    (tmp_path / "train.csv").write_text(
        "time/total_steps,rollout/success_rate,reward/a\n1,,\n2,0.5,3\n"
    )
    log = TrainLog.read(tmp_path)
    assert math.isnan(log.col("rollout/success_rate")[0]) and log.col("reward/a")[1] == 3
    assert log.term_names() == ["a"] and math.isnan(log.col("missing")[0])
    with pytest.raises(FileNotFoundError, match=r"train\.csv"):
        TrainLog.read(tmp_path / "nowhere")


def test_bad_reward_source_is_a_clear_error():
    with pytest.raises(ValueError, match="does not compile"):
        run_rollouts(lambda obs: np.zeros(4), HOVER, episodes=1, seed=0, reward_source="import os")


def test_rollouts_and_summary_types():
    r = Rollouts(task_id=HOVER.id, nominal=[hovering(seed=1)])
    assert r.episodes == r.nominal and r.nominal[0].duration == pytest.approx(8.0)


def test_every_episode_keeps_its_own_reason():
    # flies +x out of bounds when the goal is at +x, else dives into the ground: two kinds
    # of early failure, so a histogram alone could not say which episode ended how
    layout = StateLayout(HOVER)

    def policy(obs: np.ndarray) -> np.ndarray:
        row = obs[None, :]
        goal_x = layout.get(row, "pos")[0, 0] + layout.get(row, "goal_rel")[0, 0]
        return np.array([1.0, 0, 0, 0]) if goal_x > 0 else np.array([0, 0, -1.0, 0])

    from agentic_rl.diagnostics.rollouts import record_episodes

    seeds = list(range(8))
    records = record_episodes(policy, HOVER, seeds)
    assert len({r.reason for r in records}) >= 2
    for rec in records:
        (alone,) = evaluate(policy, "DroneHover", seeds=[rec.seed]).termination_reasons
        assert rec.reason == alone
        assert rec.states.shape == (rec.length + 1, HOVER.obs_size)
