"""The offline designer: naive start, one test per rule on crafted packets, determinism, and
every proposal accepted by the reward pipeline on all nine built-in tasks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import rewards
import sims
from agentic_rl.designers import DesignerError, make_designer
from agentic_rl.designers.offline import Genome, TaskView, catalogue, render
from agentic_rl.diagnostics.packet import (
    DiagnosisPacket,
    EvalSummary,
    Finding,
    MetricStats,
)
from agentic_rl.records import CandidateRecord, IterationRecord, Proposal, Rejection
from sims.registry import BUILTIN_TASKS

HOVER = sims.get_spec("DroneHover")

#: A mid-way DroneHover genome, so every rule has something to raise, lower or drop.
PARENT = {
    "distance": 1.0,
    "progress": 5.0,
    "on_target": 1.0,
    "speed_near_goal": 0.3,
    "tilt": 0.5,
    "crash": 5.0,
    "action_rate": 0.1,
    "effort": 0.01,
}


def make_packet(
    *,
    findings: list[tuple[str, str | None, dict[str, float]]] = (),
    terminations: dict[str, int] | None = None,
    success: float = 0.6,
    metrics: dict[str, float] | None = None,
    spec=HOVER,
) -> DiagnosisPacket:
    # balanced by default, so only the crafted findings fire rules
    terminations = (
        terminations if terminations is not None else {"success": 6, "timeout": 2, "crash": 2}
    )
    episodes = sum(terminations.values())
    return DiagnosisPacket(
        task_id=spec.id,
        candidate="i0/c0",
        reward_hash="crafted",
        reward_terms=sorted(PARENT),
        train_steps=100_000,
        nominal=EvalSummary(
            randomized=False,
            episodes=episodes,
            seeds=list(range(episodes)),
            success_rate=success,
            termination_reasons=terminations,
            metrics={
                k: MetricStats(mean=v, std=0.0, min=v, max=v) for k, v in (metrics or {}).items()
            },
        ),
        findings=[
            Finding(code=code, message=f"crafted {code}", term=term, evidence=ev)
            for code, term, ev in findings
        ],
    )


def history_for(
    tmp_path: Path,
    packet: DiagnosisPacket | None,
    weights: dict[str, float] | None = None,
    gated: list[str] | None = None,
    score: float = 0.5,
) -> list[IterationRecord]:
    meta: dict[str, Any] = {}
    if weights is not None:
        meta["genome"] = {"weights": weights, "gated": gated or []}
    path = None
    if packet is not None:
        d = tmp_path / "iter_0" / "cand_0"
        d.mkdir(parents=True, exist_ok=True)
        (d / "packet.json").write_text(packet.model_dump_json())
        path = str(d / "packet.json")
    cand = CandidateRecord(
        iteration=0,
        index=0,
        status="trained",
        proposal=Proposal(response="crafted", designer="offline", meta=meta),
        score=score,
        success_rate=score,
        packet_path=path,
    )
    return [IterationRecord(iteration=0, candidates=[cand], best_index=0)]


def child(tmp_path: Path, packet: DiagnosisPacket, parent: dict[str, float] = PARENT, **kw):
    """Candidate 0 (rules only, no noise) refined from ``parent`` under ``packet``."""
    history = history_for(tmp_path, packet, dict(parent), **kw)
    (p,) = make_designer("offline", seed=0).propose(HOVER, history, 1)
    return p.meta["genome"]["weights"], p


# ------------------------------------------------------------------------------ start
def test_first_iteration_is_naive_then_explores():
    props = make_designer("offline", seed=0).propose(HOVER, [], 4)
    assert props[0].meta["genome"]["weights"] == {"distance": 1.0}
    assert '"distance": -1.0 * dist' in props[0].response
    added = [set(p.meta["genome"]["weights"]) - {"distance"} for p in props[1:]]
    assert all(len(a) == 1 for a in added) and len({frozenset(a) for a in added}) == 3
    assert all(p.parent is None and p.designer == "offline" for p in props)


# ------------------------------------------------------------------------------ rules
def test_crash_dominated_strengthens_attitude_and_crash_terms(tmp_path):
    packet = make_packet(
        findings=[("crash_dominated", None, {})],
        terminations={"crash": 7, "flipped": 2, "timeout": 1},
    )
    w, p = child(tmp_path, packet, parent={"distance": 1.0, "tilt": 0.5, "crash": 5.0})
    assert w["tilt"] == 1.0 and w["crash"] == 10.0
    assert "spin" in w, "body-rate damping is added"
    assert w.get("closeness") == 1.0 and "distance" not in w, (
        "the negative distance becomes a positive per-step term, so crashing early never pays"
    )
    assert "crash_dominated" in {e["rule"] for e in p.meta["rules"]}
    assert '"tilt": -1.0 * terms.tilt_penalty' in p.response


def test_crash_rule_also_fires_from_the_termination_histogram(tmp_path):
    w, _ = child(tmp_path, make_packet(terminations={"out_of_bounds": 9, "timeout": 1}))
    assert w["tilt"] == 1.0 and w["crash"] == 10.0


def test_timeouts_far_from_goal_add_progress_shaping(tmp_path):
    packet = make_packet(
        findings=[("timeout_dominated", None, {})], metrics={"final_distance": 1.2}
    )
    w, _ = child(tmp_path, packet)
    assert w["progress"] == 2 * PARENT["progress"]
    assert "closeness" in w
    assert w["on_target"] == PARENT["on_target"]


def test_timeouts_near_goal_reward_precision(tmp_path):
    packet = make_packet(
        findings=[("timeout_dominated", None, {})], metrics={"final_distance": 0.15}
    )
    w, _ = child(tmp_path, packet)
    assert w["on_target"] == 2 * PARENT["on_target"]
    assert w["progress"] == PARENT["progress"]


def test_oscillation_damps_velocity_near_goal(tmp_path):
    packet = make_packet(
        findings=[("oscillation_near_goal", None, {})], terminations={"timeout": 10}
    )
    w, p = child(
        tmp_path, packet, parent={"distance": 1.0, "speed_near_goal": 0.3, "action_rate": 0.1}
    )
    assert w["speed_near_goal"] == 0.6 and w["action_rate"] == 0.2
    assert "near * terms.velocity_penalty" in p.response


@pytest.mark.parametrize(("share", "factor"), [(0.95, 0.2), (0.85, 0.2), (0.8, 0.25)])
def test_dominant_term_is_rebalanced(tmp_path, share, factor):
    packet = make_packet(findings=[("dominant_term", "progress", {"share": share})])
    w, _ = child(tmp_path, packet)
    assert w["progress"] == pytest.approx(PARENT["progress"] * factor)
    assert w["distance"] == PARENT["distance"]


def test_dominant_core_term_is_kept(tmp_path):
    packet = make_packet(findings=[("dominant_term", "distance", {"share": 0.9})])
    w, p = child(tmp_path, packet)
    assert w["distance"] == PARENT["distance"]
    assert "kept distance" in [e["change"] for e in p.meta["rules"]]


def test_sole_dominant_term_gets_a_companion(tmp_path):
    packet = make_packet(findings=[("dominant_term", "distance", {"share": 1.0})])
    w, _ = child(tmp_path, packet, parent={"distance": 1.0})
    assert w["distance"] == 1.0 and "progress" in w


def test_inert_terms_drop_shaping_keep_guards_rescale_core(tmp_path):
    packet = make_packet(
        findings=[
            ("inert_term", "effort", {}),
            ("inert_term", "crash", {}),
            ("inert_term", "distance", {}),
        ]
    )
    w, p = child(tmp_path, packet)
    assert "effort" not in w and '"effort"' not in p.response
    assert w["crash"] == PARENT["crash"], "a crash guard that never fired stays"
    assert w["distance"] == 3 * PARENT["distance"]


def test_reward_hacking_ties_the_term_to_the_goal(tmp_path):
    packet = make_packet(findings=[("reward_hacking", "progress", {})])
    w, p = child(tmp_path, packet)
    assert w["progress"] == PARENT["progress"] / 2
    assert "progress" in p.meta["genome"]["gated"]
    assert '"progress": 2.5 * near * (prev_dist - dist)' in p.response
    assert w["distance"] == 1.5 * PARENT["distance"]


def test_reward_hacking_leaves_a_penalty_alone(tmp_path):
    packet = make_packet(
        findings=[("reward_hacking", "crash", {})], terminations={"success": 10}, success=1.0
    )
    w, p = child(tmp_path, packet)
    assert [e["change"] for e in p.meta["rules"]] == ["kept crash"]
    assert not p.meta["genome"]["gated"] and set(w) == set(PARENT)


def test_reward_hacking_of_the_core_term_adds_precision(tmp_path):
    packet = make_packet(findings=[("reward_hacking", "distance", {})])
    w, _ = child(tmp_path, packet)
    assert w["on_target"] == 1.5 * PARENT["on_target"] and w["distance"] == PARENT["distance"]


def test_nonfinite_term_is_dropped(tmp_path):
    w, _ = child(tmp_path, make_packet(findings=[("nonfinite_terms", "speed_near_goal", {})]))
    assert "speed_near_goal" not in w


def test_randomization_gap_smooths_control(tmp_path):
    w, _ = child(tmp_path, make_packet(findings=[("randomization_gap", None, {})]))
    assert w["action_rate"] == pytest.approx(1.5 * PARENT["action_rate"])
    assert "spin" in w


def test_no_learning_densifies_the_signal(tmp_path):
    w, _ = child(
        tmp_path, make_packet(findings=[("no_learning", None, {})]), parent={"distance": 1.0}
    )
    assert {"closeness", "progress"} <= set(w)


def test_no_finding_but_failures_asks_for_precision(tmp_path):
    packet = make_packet(terminations={"success": 5, "timeout": 5}, success=0.5)
    packet.nominal.termination_reasons = {"success": 5}  # no failure reason dominates
    w, _ = child(tmp_path, packet)
    assert w["on_target"] == 1.5 * PARENT["on_target"]


def test_a_solved_task_keeps_its_terms_and_only_explores_weights(tmp_path):
    packet = make_packet(terminations={"success": 10}, success=1.0)
    w, p = child(tmp_path, packet)
    assert p.meta["rules"] == [], "no rule fires on a solved task"
    # the unchanged parent was trained already, so candidate 0 perturbs its weights
    assert set(w) == set(PARENT) and w != PARENT
    assert "already tried: weights perturbed" in p.meta["extra"]


# ------------------------------------------------------------------------------ parents
def test_refines_the_best_candidate_of_the_whole_history(tmp_path):
    history = history_for(tmp_path, make_packet(), dict(PARENT), score=0.8)
    worse = history[0].candidates[0].model_copy(update={"iteration": 1, "score": 0.3})
    history.append(IterationRecord(iteration=1, candidates=[worse], best_index=0))
    (p,) = make_designer("offline").propose(HOVER, history, 1)
    assert p.parent == "i0/c0" and p.meta["iteration"] == 2


def test_foreign_best_candidate_restarts_from_naive(tmp_path):
    history = history_for(tmp_path, make_packet(terminations={"crash": 10}), weights=None)
    (p,) = make_designer("offline").propose(HOVER, history, 1)
    w = p.meta["genome"]["weights"]
    assert w["closeness"] == 1.0 and "crash" in w and "tilt" in w
    assert "restart" in {e["rule"] for e in p.meta["rules"]}


def test_missing_packet_keeps_the_parent_terms(tmp_path):
    (p,) = make_designer("offline").propose(HOVER, history_for(tmp_path, None, dict(PARENT)), 1)
    assert [e["rule"] for e in p.meta["rules"]] == ["no_packet"]
    assert set(p.meta["genome"]["weights"]) == set(PARENT)  # only the weights are explored


def test_proposals_are_deterministic_for_a_seed(tmp_path):
    history = history_for(tmp_path, make_packet(findings=[("crash_dominated", None, {})]), PARENT)
    a = make_designer("offline", seed=3).propose(HOVER, history, 4)
    b = make_designer("offline", seed=3).propose(HOVER, history, 4)
    c = make_designer("offline", seed=4).propose(HOVER, history, 4)
    assert [p.model_dump_json() for p in a] == [p.model_dump_json() for p in b]
    assert a[0].response == c[0].response, "candidate 0 is the rules alone"
    assert a[1].response != c[1].response, "the perturbations follow the seed"
    assert len({p.response for p in a}) == 4


def test_repair_keeps_only_core_terms():
    d = make_designer("offline")
    bad = Proposal(
        response="x", designer="offline", meta={"genome": {"weights": PARENT}, "iteration": 1}
    )
    fixed = d.repair(HOVER, bad, Rejection(stage="smoke", message="boom"))
    assert fixed.meta["genome"]["weights"] == {"distance": 1.0}


def test_task_without_a_goal_offset_is_refused():
    fields = tuple(f for f in HOVER.state_fields if f.name in ("pos", "vel"))
    spec = HOVER.model_copy(update={"state_fields": fields})
    with pytest.raises(DesignerError, match=r"\*_rel"):
        make_designer("offline").propose(spec, [], 1)


# ------------------------------------------------------------------------------ all tasks
ALL_RULES = [
    ("crash_dominated", None, {}),
    ("timeout_dominated", None, {}),
    ("oscillation_near_goal", None, {}),
    ("randomization_gap", None, {}),
    ("no_learning", None, {}),
    ("reward_hacking", "progress", {}),
    ("dominant_term", "distance", {"share": 0.9}),
]


@pytest.mark.parametrize("task", list(BUILTIN_TASKS))
def test_every_proposal_passes_the_reward_pipeline(task, tmp_path):
    spec = sims.get_spec(task)
    d = make_designer("offline", seed=1)
    first = d.propose(spec, [], 2)
    packet = make_packet(
        findings=ALL_RULES, terminations={"timeout": 3, "crash": 1}, spec=spec
    ).model_copy(update={"task_id": spec.id})
    history = history_for(tmp_path, packet, first[1].meta["genome"]["weights"])
    refined = d.propose(spec, history, 2)
    view = TaskView.of(spec)
    cat = catalogue(view)
    everything = render(view, Genome({k: i.weight for k, i in cat.items()}, {"effort"}), "all")
    for text in [first[0].response, refined[0].response, refined[1].response, everything]:
        verdict = rewards.check_source(text, spec)
        assert verdict.accepted, (
            f"{task}: {verdict.stage} line {verdict.line}: {verdict.message}\n{text}"
        )
        assert set(verdict.program.terms) <= set(cat)


def test_timeout_evidence_of_the_diagnostics_decides_far_or_near(tmp_path):
    evidence = {"far": 0.0, "final_distance": 0.2}
    packet = make_packet(
        findings=[("timeout_dominated", None, evidence)], metrics={"final_distance": 1.2}
    )
    w, p = child(tmp_path, packet)
    assert w["on_target"] == 2 * PARENT["on_target"] and w["progress"] == PARENT["progress"]
    assert "final distance 0.2 m" in p.rationale


def test_a_child_already_trained_is_not_proposed_again(tmp_path):
    packet = make_packet(findings=[("oscillation_near_goal", None, {})])
    history = history_for(tmp_path, packet, dict(PARENT), score=0.7)
    d = make_designer("offline", seed=0)
    (first,) = d.propose(HOVER, history, 1)
    worse = CandidateRecord(
        iteration=1, index=0, status="trained", proposal=first, score=0.0, success_rate=0.0
    )
    history.append(IterationRecord(iteration=1, candidates=[worse], best_index=0))
    (again,) = d.propose(HOVER, history, 1)
    assert again.parent == "i0/c0", "the better parent is refined again"
    assert again.meta["genome"] != first.meta["genome"]
    assert "already tried: weights perturbed" in again.meta["extra"]
    assert set(again.meta["genome"]["weights"]) == set(first.meta["genome"]["weights"])
