"""The LLM designer's prompt: the memory of what was tried, within its token budget, and the
task's facts stated once (no model involved)."""

from __future__ import annotations

from pathlib import Path

import sims
from agentic_rl.designers.prompt_facts import interface_text, task_facts
from agentic_rl.designers.prompt_memory import render_memory
from agentic_rl.diagnostics.render import estimate_tokens
from agentic_rl.records import CandidateRecord, IterationRecord, Proposal, Rejection

CODE = """def compute_reward(state, action, prev_state, task):
    d = terms.norm(state["goal_rel"])
    return {{"near": terms.closeness(d, 0.5), "{extra}": -{w} * terms.tilt_penalty(state["tilt"])}}
"""


def _history(tmp_path: Path, iterations: int = 1) -> list[IterationRecord]:
    out = []
    for i in range(iterations):
        stopped_dir = tmp_path / f"iter_{i}" / "cand_2"
        stopped_dir.mkdir(parents=True)
        (stopped_dir / "train.csv").write_text(
            "time/total_steps,rollout/episodes,rollout/success_rate,rollout/end_crash,"
            "reward/near,reward/wobble\n"
            "1024,,,,,\n"
            "50000,40,0.0,0.9,12.5,-51169.0\n"
        )
        cands = [
            CandidateRecord(
                iteration=i,
                index=0,
                status="trained",
                code=CODE.format(extra="tilt", w=0.5),
                proposal=Proposal(response="x", designer="openai", rationale="level and near"),
                success_rate=0.4 + 0.1 * i,
                score=0.4 + 0.1 * i,
                steps=150_000,
                task_metrics={"final_distance": 0.2, "success": 0.4},
            ),
            CandidateRecord(
                iteration=i,
                index=1,
                status="trained",
                code=CODE.format(extra="lean", w=2.0),
                proposal=Proposal(response="x", designer="openai"),
                success_rate=0.1,
                score=0.1,
                steps=150_000,
            ),
            CandidateRecord(
                iteration=i,
                index=2,
                status="stopped_early",
                code=CODE.format(extra="wobble", w=9),
                proposal=Proposal(response="x", designer="openai"),
                steps=50_000,
                error="stopped at the rung (50,000 steps): training score 0.000 in the lower half",
                run_dir=str(stopped_dir),
            ),
            CandidateRecord(
                iteration=i,
                index=3,
                status="rejected",
                proposal=Proposal(response="```python\nimport os\n```", designer="openai"),
                rejection=Rejection(stage="validate", line=1, message="`import os` is not allowed"),
            ),
        ]
        out.append(IterationRecord(iteration=i, candidates=cands, best_index=0))
    return out


def test_memory_shows_every_candidate_of_the_last_iteration(tmp_path):
    memory = render_memory(_history(tmp_path), 6000)
    text = memory.text
    assert "## All-time best: i0/c0" in text and "nominal success 40%" in text
    assert "### i0/c1: trained 150,000 steps: nominal success 10%" in text
    assert "+++ i0/c1/reward.py" in text or '"lean"' in text, "code or diff of a sibling"
    assert "### i0/c2: stopped early by successive halving after 50,000 steps" in text
    assert "wobble -5.117e+04" in text, "a stopped candidate's per-episode term sums"
    assert "episodes ended: crash 90%" in text
    assert "### i0/c3: rejected by the validator (validate, line 1): `import os`" in text
    assert "import os" in text, "what the rejected answer tried"
    assert "Everything tried so far" in text and "- i0/c3" in text
    assert memory.dropped == [] and memory.tokens == estimate_tokens(text)


def test_memory_drops_oldest_detail_first_and_says_so(tmp_path):
    history = _history(tmp_path, iterations=4)
    full = render_memory(history, 100_000)
    cut = render_memory(history, 650)
    assert cut.tokens < full.tokens
    assert cut.dropped[0] == "table rows of the oldest iterations"
    assert "[Memory cut to fit 650 tokens: dropped table rows of the oldest iterations" in cut.text
    assert "## All-time best: i3/c0" in cut.text, "the best survives every cut"
    assert "candidates of iterations 0-" in cut.text


def test_facts_are_consistent_and_complete():
    spec = sims.get_spec("DroneHover")
    facts, api = task_facts(spec), interface_text(spec)
    for label in ("**nominal success**", "**randomized success**", "**training success**"):
        assert facts.count(label) == 1, label
    assert "gamma=0.99" in facts and "running standard deviation" in facts
    assert "`near_goal`: field norm(goal_rel) < pos_tolerance = 0.1 m" in facts
    assert "- `goal_rel` (m): [" in facts, "goal distribution over seeded resets"
    assert "x 1.0 (max_speed) m/s" in api and "`pos_tolerance`=0.1 m" in api
    assert "gate_alignment" not in api and "grasp" not in api, "only relevant terms"
    gates = interface_text(sims.get_spec("DroneGates"))
    assert "gate_alignment" in gates and "x 1.5 (max_speed) m/s" in gates
    assert "The goal advances: each time `gates_passed` rises, `gate_rel`" in task_facts(
        sims.get_spec("DroneGates")
    )
    assert "The goal advances" not in facts, "DroneHover's goal stays put"
