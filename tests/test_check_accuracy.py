"""benchmarks/check_accuracy.py without training: the designer's guard-off hook, the corpus
filled from a task's declarations (and accepted by the reward pipeline), the confusion table
and its block in RESULTS.md."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

import rewards
import sims
from agentic_rl.designers.offline import OfflineDesigner
from agentic_rl.designers.precheck import judge
from tests.test_designers_offline import HOVER, history_for, hover_episode, make_packet

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCH))

import check_accuracy as ca  # noqa: E402


def _scored(code: str, episodes):
    fn = rewards.compile_program(code, HOVER)
    return [
        np.array([sum(fn(s, a, q, HOVER.constants).values()) for s, a, q in e.transitions()])
        for e in episodes
    ]


def test_guard_off_keeps_the_designers_terms_and_drops_the_alive_offset(tmp_path):
    heavy = {"distance": 3.0, "attitude": 5.0, "guard_crash": 5.0, "effort": 1.0}
    eps = [hover_episode("success")] * 2 + [hover_episode("far"), hover_episode("crash")]
    history = history_for(tmp_path, make_packet(), heavy, episodes=eps)
    (on,) = OfflineDesigner(seed=0).propose(HOVER, history, 1)
    (off,) = OfflineDesigner(seed=0, survival=False).propose(HOVER, history, 1)
    w_on, w_off = on.meta["genome"]["weights"], off.meta["genome"]["weights"]
    assert w_on["alive"] > 0 and "alive" not in w_off
    assert {k: v for k, v in w_on.items() if k != "alive"} == w_off
    assert "survival guard off" in off.rationale
    # the guard-off reward is the crash-paying one the checks exist for
    assert judge(HOVER, eps, _scored(on.response, eps)).passed
    assert not judge(HOVER, eps, _scored(off.response, eps)).passed


def test_the_corpus_is_filled_from_declarations_and_compiles():
    hover, skipped = ca.corpus_candidates(HOVER)
    assert not skipped and len(hover) >= 10
    assert {c.intent for c in hover} == {"mistake", "sound"}
    smoke = list(rewards.recorded_states(HOVER).transitions())[:20]
    for c in hover:
        assert "$" not in c.code
        # the pipeline's compile (AST allowlist, restricted builtins) and finite terms on the
        # smoke run's recorded states; the benchmark then runs rewards.check_source on each
        fn = rewards.compile_program(c.code, HOVER)
        totals = [sum(fn(s, a, q, HOVER.constants).values()) for s, a, q in smoke]
        assert np.isfinite(totals).all() and not sum(fn.error_counts.values()), c.name
    # a task without a tilt or fed-back action gets only what it declares the fields for
    reach, skipped = ca.corpus_candidates(sims.get_spec("ArmReach"))
    assert reach and all("$" not in c.code for c in reach)
    assert any("no body_tilt" in s for s in skipped) and len(reach) + len(skipped) == len(hover)


def test_confusion_counts_refusals_and_acceptances_against_the_yardstick():
    outcomes = [
        ("refused", True),
        ("refused", False),
        ("refused", True),
        ("accepted", False),
        ("accepted", True),
        ("rejected", True),  # the pipeline's, not the checks': not counted
    ]
    acc = ca.confusion(outcomes)
    assert (acc["refused_below"], acc["refused_not"]) == (2, 1)
    assert (acc["accepted_below"], acc["accepted_not"]) == (1, 1)
    assert acc["refused_right"] == 2 / 3 and acc["accepted_below_share"] == 0.5
    assert acc["base_rate"] == 3 / 5 and acc["target_met"] is False
    assert ca.confusion([("refused", True)] * 4 + [("refused", False)])["target_met"] is True
    none = ca.confusion([("accepted", False)])
    assert none["target_met"] is None and none["refused_right"] is None


def test_spread_picks_evenly_and_keeps_short_lists():
    assert ca.spread([1, 2], 5) == [1, 2]
    assert ca.spread(list(range(10)), 3) == [0, 3, 6]


def _trained(success: float, parent: float, control: float) -> dict:
    return {
        "success": success,
        "reasons": {"timeout": 1},
        "cpu_s": 1.0,
        "steps": 10,
        "below_parent": success < parent,
        "below_control": success < control,
    }


def _run(seed: int, refused_success: float) -> dict:
    cands = [
        ca.Candidate("corpus: a", "corpus", "mistake", "code", "refused", "(b) pays: 3 of 4"),
        ca.Candidate("corpus: b", "corpus", "sound", "code", "accepted"),
        ca.Candidate("corpus: c", "corpus", "sound", "code", "accepted"),  # not trained
    ]
    cands[0].trained = _trained(refused_success, 0.6, 0.9)
    cands[1].trained = _trained(0.95, 0.6, 0.9)
    control = {**_trained(0.9, 0.6, 0.9), "below_parent": False}
    return {
        "seed": seed,
        "parent": {
            "cid": "i0/c1",
            "steps": 20,
            "cpu_s": 9.0,
            "success": 0.6,
            "reasons": {"success": 30, "timeout": 20},
            "recorded_episodes": 20,
            "recorded_successes": 12,
            "recorded_reasons": {"success": 12, "timeout": 8},
        },
        "control": control,
        "population": 3,
        "by_origin": "corpus 3",
        "refused": 1,
        "accepted": 2,
        "rejected": 0,
        "skipped": [],
        "candidates": [vars(c) for c in cands],
        "checks_cpu_s": 1.0,
        "cpu_s": 30.0,
    }


def _result(task: str, refused_success: float) -> dict:
    runs = [_run(0, refused_success), _run(1, 0.1)]
    return {
        "task": f"agentic_rl/{task}-v0",
        "parent_steps": 20,
        "steps": 10,
        "runs": runs,
        "accuracy": ca.confusion(ca.outcomes(runs, "parent")),
        "vs_control": ca.confusion(ca.outcomes(runs, "control")),
        "cpu_s": 60.0,
    }


def test_outcomes_pool_the_seeds_against_parent_or_control():
    runs = _result("DroneHover", 0.9)["runs"]
    expected = [("refused", False), ("accepted", False), ("refused", True), ("accepted", False)]
    assert ca.outcomes(runs, "parent") == expected
    runs[0]["candidates"][1]["trained"]["below_control"] = True
    assert ca.outcomes(runs, "control")[1] == ("accepted", True)


def test_the_block_states_the_figure_against_the_target_and_replaces_its_task(tmp_path):
    title, text = ca.block(_result("DroneHover", 0.1), "cmd", "1.0 1.0 1.0")
    assert title.startswith("### DroneHover-v0: seeds 0, 1; parent: the loop's iteration 0")
    assert "| refused | 2 | 0 | 100% | 100% |" in text
    assert "| accepted | 0 | 2 | 0% | 0% |" in text
    assert "2 of 2 (100%; target >= 80%: met)" in text and "`cmd`" in text
    assert text.count("| corpus: a |") == 2 and "corpus: c" not in text  # trained rows only
    assert "| refused (b) pays |" in text and "3 of 4" not in text
    assert "**Seed 1**" in text and "12 successes of 20 (success 12, timeout 8)" in text
    path = tmp_path / "RESULTS.md"
    ca.write_results([_result("DroneHover", 0.9), _result("ArmReach", 0.1)], "a", "1", path)
    ca.write_results([_result("DroneHover", 0.1)], "b", "1", path)
    body = path.read_text()
    assert body.count("### DroneHover-v0") == 1 and body.count("### ArmReach-v0") == 1
    # the first DroneHover run (1 of 2 refusals right: missed) was replaced by the second
    assert "missed" not in body and body.count("target >= 80%: met") == 2
    assert "`b`" in body.split("### DroneHover-v0")[1] and "`a`" in body


@pytest.mark.slow
def test_the_benchmark_runs_end_to_end_on_the_real_loop_at_a_tiny_budget(tmp_path):
    """The wiring the fast tests cannot see: the loop's iteration 0 as parent, its recorded
    episodes, the designer's proposals both ways, the checks, warm-started training and the
    scores, through the script's command line (nothing written to RESULTS.md)."""
    import json
    import os
    import subprocess

    cmd = [sys.executable, str(BENCH / "check_accuracy.py"), "--seeds", "0"]
    cmd += ["--parent-steps", "2048", "--steps", "2048", "--proposals", "1", "--train", "1"]
    cmd += ["--episodes", "2", "--no-write", "--json"]
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=900, env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    (res,) = json.loads(out.stdout)
    (run,) = res["runs"]
    assert run["parent"]["cid"].startswith("i0/") and run["parent"]["recorded_episodes"] > 0
    assert run["population"] >= 14  # one designer proposal (guard on) + the 13-program corpus
    assert {c["verdict"] for c in run["candidates"]} <= {"refused", "accepted", "rejected"}
    trained = [c for c in run["candidates"] if c["trained"] is not None]
    assert 1 <= len(trained) <= 2 and 0.0 <= run["control"]["success"] <= 1.0
    acc = res["accuracy"]
    assert acc["refused_trained"] + acc["accepted_trained"] == len(trained)
    assert "refused rewards below their parent" in out.stderr
