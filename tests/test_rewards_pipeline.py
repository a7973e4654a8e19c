"""The whole pipeline on real tasks: references, the sparse floor, files, model responses."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

import rewards
import sims
from rewards import Accepted, Rejected, RewardRejected
from rewards.states import synthetic_states

REALISTIC = sorted((Path(__file__).parent / "data" / "reward_corpus" / "realistic").glob("*.md"))
TASKS = list(sims.BUILTIN_TASKS)


def test_every_builtin_task_ships_a_reference_reward():
    names = rewards.reference_names()
    for tid in TASKS:
        short = tid.split("/")[-1].removesuffix("-v0")
        assert short in names, f"no reference reward for {tid}"
        assert "def compute_reward" in rewards.reference_source(tid)
        assert rewards.reference_source(short) == rewards.reference_source(tid)
    with pytest.raises(LookupError, match="references exist for"):
        rewards.reference_source("agentic_rl/NoSuchTask-v0")


@pytest.mark.parametrize("task_id", TASKS)
def test_reference_and_sparse_pass_the_pipeline_on_recorded_states(task_id):
    spec = sims.get_spec(task_id)
    for which in ("reference", "sparse"):
        fn = rewards.load_reward(spec, which)
        assert fn.program.smoke_states >= 200
        assert fn.program.cost_us is not None and fn.program.cost_us < 100.0
        assert fn.program.notes == ()  # references need no import mapping or rescaling
    assert fn.program.terms == ("success",)
    batch = rewards.recorded_states(spec)
    assert batch.origin == "env"  # recorded from the real task, not synthesized
    ref = rewards.load_reward(spec, "reference")
    for state, action, prev in list(batch.transitions())[:50]:
        out = ref(state, action, prev, spec.constants)
        assert all(np.isfinite(v) for v in out.values())
    assert ref.nonfinite_counts == {} and ref.error_counts == {}


def test_sparse_reward_pays_only_in_the_success_region():
    spec = sims.get_spec("DroneHover")
    fn = rewards.compile_program(rewards.SPARSE_SOURCE, spec)
    batch = rewards.recorded_states(spec)
    state, action, prev = next(batch.transitions())
    at_goal = dict(state, goal_rel=np.zeros(3), tilt=np.float64(0.0))
    away = dict(state, goal_rel=np.array([0.5, 0.0, 0.0]))
    assert fn(at_goal, action, prev, spec.constants) == {"success": 1.0}
    assert fn(away, action, prev, spec.constants) == {"success": 0.0}


@pytest.mark.slow
def test_realistic_model_responses_are_accepted():
    """The issue's target: >= 95% of 20 realistic responses (fenced, with prose, with
    harmless imports) are accepted."""
    assert len(REALISTIC) >= 20
    accepted, failures = 0, []
    for path in REALISTIC:
        text = path.read_text()
        task = re.search(r"<!-- task: (\w+) -->", text).group(1)
        result = rewards.check_source(text, sims.get_spec(task))
        if result.accepted:
            accepted += 1
        else:
            failures.append(f"{path.name}: {result.stage} line {result.line}: {result.message}")
    assert accepted / len(REALISTIC) >= 0.95, "\n".join(failures)


def test_check_source_results_are_structured_and_serializable(tmp_path):
    spec = sims.get_spec("DroneHover")
    ok = rewards.check_source(rewards.reference_source("DroneHover"), spec)
    assert isinstance(ok, Accepted)
    assert ok.program.source_hash == rewards.program.source_hash(ok.program.source)
    assert "near_goal" in ok.program.terms
    payload = json.loads(json.dumps(rewards.as_json(ok)))
    assert payload["accepted"] is True and payload["terms"] == list(ok.program.terms)

    bad = rewards.check_source("```python\nimport os\n```", spec)
    assert isinstance(bad, Rejected) and bad.stage == "validate" and bad.line == 1
    assert "Reply with the corrected complete program" in bad.feedback()
    with pytest.raises(RewardRejected) as info:
        raise bad.to_exception()
    assert (info.value.stage, info.value.line) == ("validate", 1)
    assert rewards.as_json(bad) == {
        "accepted": False,
        "stage": "validate",
        "line": 1,
        "message": bad.message,
        "task_id": spec.id,
    }


def test_load_reward_from_a_file_and_from_a_saved_response(tmp_path):
    spec = sims.get_spec("ArmReach")
    py = tmp_path / "reward.py"
    py.write_text(rewards.reference_source("ArmReach"))
    assert rewards.load_reward(spec, py).program.terms[0] == "progress"  # a Path works too
    response = tmp_path / "response.md"
    response.write_text(
        "My reward:\n```python\nimport numpy as np\n"
        "def compute_reward(state, action, prev_state, task):\n"
        "    return {'d': -float(np.linalg.norm(state['goal_rel']))}\n```\n"
    )
    fn = rewards.load_reward(spec, str(response))
    assert fn.program.terms == ("d",) and fn.program.notes
    with pytest.raises(FileNotFoundError, match="'sparse', 'reference' or an existing file"):
        rewards.load_reward(spec, str(tmp_path / "missing.py"))
    broken = tmp_path / "broken.py"
    broken.write_text(
        "def compute_reward(state, action, prev_state, task):\n    return {'d': state['nope']}\n"
    )
    with pytest.raises(RewardRejected) as info:
        rewards.load_reward(spec, str(broken))
    assert info.value.stage == "validate" and "goal_rel" in info.value.message


def test_slow_programs_are_rejected_by_their_measured_cost():
    spec = sims.get_spec("DroneHover")
    src = (
        "def compute_reward(state, action, prev_state, task):\n"
        "    return {'s': float(np.sum(np.ones((200, 200)) @ np.ones((200, 200))))}\n"
    )
    few = synthetic_states(rewards.RewardContext.from_spec(spec), n=16)
    result = rewards.check_source(src, spec, budget_us=50.0, states=few)
    assert isinstance(result, Rejected) and result.stage == "smoke"
    assert "per call" in result.message and "budget is 50 us" in result.message


def test_program_api_text_lists_fields_constants_and_terms():
    from rewards.describe import describe, program_api

    spec = sims.get_spec("DroneGates")
    text = program_api(spec)
    for needle in (
        "`gate_rel` (3, m, world)",
        "`n_gates`=3",
        "terms.gate_alignment(",
        "compute_reward(state, action, prev_state, task)",
    ):
        assert needle in text, needle
    data = describe(spec)
    assert [f["name"] for f in data["state_fields"]] == list(spec.field_names)
    assert "norm" in {t["name"] for t in data["terms"]}
