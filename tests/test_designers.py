"""Designer plumbing: transcript redaction, price table, replay of recorded runs."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

import sims
from agentic_rl.designers import DesignerError, PriceTable, Transcript, make_designer
from agentic_rl.designers.base import best_candidate
from agentic_rl.llm.transcript import read_transcript
from agentic_rl.records import CandidateRecord, IterationRecord, Proposal, Rejection

HOVER = sims.get_spec("DroneHover")


# ------------------------------------------------------------------------------ transcript
def test_transcript_masks_secrets_and_abbreviates_images(tmp_path):
    t = Transcript(tmp_path / "t.jsonl", secrets=["hunter2-very-secret"])
    png = base64.b64encode(b"\x89PNG" + b"x" * 500).decode()
    t.append(
        {
            "note": "key hunter2-very-secret leaked; also sk-abcdefghijklmnopqrstuvwx",
            "api_key": "anything",
            "headers": {"Authorization": "Bearer zzzzzzzzzzzz"},
            "parts": [{"image_url": {"url": f"data:image/png;base64,{png}"}}],
            "auth_note": "bearer abcdefghijklmnop",
        }
    )
    text = (tmp_path / "t.jsonl").read_text()
    for secret in ("hunter2", "sk-abcdefghijklmnop", "zzzzzzzzzzzz", "anything", png[:40]):
        assert secret not in text
    (rec,) = read_transcript(tmp_path / "t.jsonl")
    assert rec["seq"] == 0 and rec["api_key"] == "***"
    assert rec["parts"][0]["image_url"]["url"].startswith("<image/png 504 bytes sha256:")


def test_transcript_sequence_continues_after_reopening(tmp_path):
    path = tmp_path / "t.jsonl"
    Transcript(path).append({"a": 1})
    Transcript(path).append({"a": 2})
    assert [r["seq"] for r in read_transcript(path)] == [0, 1]


def test_read_transcript_errors_name_the_line(tmp_path):
    path = tmp_path / "t.jsonl"
    path.write_text('{"a": 1}\nnot json\n')
    with pytest.raises(ValueError, match="line 2"):
        read_transcript(path)
    with pytest.raises(FileNotFoundError, match=r"llm_transcript\.jsonl"):
        read_transcript(tmp_path / "missing.jsonl")


# ------------------------------------------------------------------------------ prices
def test_prices_lookup_by_longest_prefix_and_cost():
    table = PriceTable()
    assert table.lookup("gpt-4o-2024-08-06") == table.prices["gpt-4o"]
    assert table.lookup("gpt-4o-mini-2024-07-18") == table.prices["gpt-4o-mini"]
    assert table.cost("gpt-4o", 1_000_000, 1_000_000) == pytest.approx(12.5)
    assert table.lookup("llama3:8b") is None and table.cost("llama3:8b", 10, 10) == 0.0
    with pytest.raises(ValueError, match="no price known for model 'llama3:8b'"):
        table.require("llama3:8b")


def test_prices_overrides_from_a_mapping_or_a_file(tmp_path):
    path = tmp_path / "prices.json"
    path.write_text(json.dumps({"llama3:8b": {"prompt": 0.1, "completion": 0.2}}))
    for source in (path, str(path), {"llama3:8b": {"prompt": 0.1, "completion": 0.2}}):
        table = PriceTable(source)
        assert table.cost("llama3:8b", 1_000_000, 1_000_000) == pytest.approx(0.3)
        assert "gpt-4o" in table.prices  # merged over the defaults
    with pytest.raises(ValueError, match='"prompt"'):
        PriceTable({"m": {"input": 1.0}})
    path.write_text("{oops")
    with pytest.raises(ValueError, match="cannot be read as JSON"):
        PriceTable(path)


# ------------------------------------------------------------------------------ helpers
def test_best_candidate_is_the_highest_score_earliest_on_ties():
    def cand(it: int, k: int, score: float | None) -> CandidateRecord:
        return CandidateRecord(
            iteration=it,
            index=k,
            status="trained" if score is not None else "rejected",
            proposal=Proposal(response="", designer="offline"),
            score=score,
        )

    history = [
        IterationRecord(iteration=0, candidates=[cand(0, 0, 0.5), cand(0, 1, None)]),
        IterationRecord(iteration=1, candidates=[cand(1, 0, 0.7), cand(1, 1, 0.7)]),
    ]
    assert best_candidate(history).cid == "i1/c0"
    assert best_candidate([]) is None


# ------------------------------------------------------------------------------ replay
def _recorded_offline_run(tmp_path: Path) -> tuple[Path, list[list[Proposal]]]:
    """Two iterations and a repair of the offline designer, recorded to a transcript."""
    path = tmp_path / "run" / "llm_transcript.jsonl"
    d = make_designer("offline", seed=7, transcript=path)
    first = d.propose(HOVER, [], 3)
    cand = CandidateRecord(
        iteration=0, index=1, status="trained", proposal=first[1], score=0.4
    )  # no packet: the designer keeps the parent's genome and perturbs it
    history = [IterationRecord(iteration=0, candidates=[cand], best_index=0)]
    second = d.propose(HOVER, history, 3)
    fixed = d.repair(HOVER, second[2], Rejection(stage="smoke", message="boom"))
    return path, [first, second, [fixed]]


def test_replay_reproduces_an_offline_run_byte_for_byte(tmp_path):
    path, recorded = _recorded_offline_run(tmp_path)
    replay = make_designer("replay", transcript=path)
    first = replay.propose(HOVER, [], 3)
    cand = CandidateRecord(iteration=0, index=1, status="trained", proposal=first[1], score=0.4)
    second = replay.propose(HOVER, [IterationRecord(iteration=0, candidates=[cand])], 3)
    fixed = replay.repair(HOVER, second[2], Rejection(stage="smoke", message="boom"))
    for got, want in zip([first, second, [fixed]], recorded, strict=True):
        assert [p.model_dump_json() for p in got] == [p.model_dump_json() for p in want]
    assert replay.remaining == 0
    assert path.read_text().count("\n") == 3, "replay never writes to the transcript"


def test_replay_refuses_another_task_or_candidate_count(tmp_path):
    path, _ = _recorded_offline_run(tmp_path)
    with pytest.raises(DesignerError, match="recorded for task agentic_rl/DroneHover-v0") as err:
        make_designer("replay", transcript=path).propose(sims.get_spec("ArmReach"), [], 3)
    assert "--task" in str(err.value)
    with pytest.raises(DesignerError, match="--candidates 3"):
        make_designer("replay", transcript=path).propose(HOVER, [], 2)
    with pytest.raises(DesignerError, match="is a propose call but the run asks for a repair"):
        make_designer("replay", transcript=path).repair(
            HOVER, Proposal(response="", designer="x"), Rejection(stage="smoke", message="x")
        )


def test_replay_says_when_the_transcript_is_used_up(tmp_path):
    path, _ = _recorded_offline_run(tmp_path)
    replay = make_designer("replay", transcript=path)
    replay.propose(HOVER, [], 3)
    replay.propose(HOVER, [IterationRecord(iteration=0, candidates=[])], 3)
    replay.repair(HOVER, Proposal(response="", designer="x"), Rejection(stage="smoke", message="x"))
    with pytest.raises(DesignerError, match="used up: all 3 recorded calls"):
        replay.propose(HOVER, [IterationRecord(iteration=i, candidates=[]) for i in range(2)], 3)


def test_replay_skips_a_superseded_record_of_a_resumed_run(tmp_path):
    path = tmp_path / "llm_transcript.jsonl"
    d = make_designer("offline", seed=1, transcript=path)
    d.propose(HOVER, [], 2)  # a crash after proposing: the resumed run proposes again
    d2 = make_designer("offline", seed=2, transcript=path)
    kept = d2.propose(HOVER, [], 2)
    got = make_designer("replay", transcript=path).propose(HOVER, [], 2)
    assert [p.model_dump_json() for p in got] == [p.model_dump_json() for p in kept]


def test_replay_bad_transcripts(tmp_path):
    with pytest.raises(DesignerError, match="needs a transcript"):
        make_designer("replay")
    with pytest.raises(DesignerError, match="does not exist"):
        make_designer("replay", transcript=tmp_path / "nope.jsonl")
    empty = tmp_path / "empty.jsonl"
    empty.write_text(json.dumps({"type": "request", "seq": 0}) + "\n")
    with pytest.raises(DesignerError, match="holds no recorded proposals"):
        make_designer("replay", transcript=empty)
