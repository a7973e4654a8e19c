"""The refinement memory: entries and verdicts from a history, persistence, prompt text."""

from __future__ import annotations

from pathlib import Path

import sims
from agentic_rl.designers.memory import MEMORY_FILE, DesignMemory, MemoryEntry, Outcome
from agentic_rl.diagnostics.packet import DiagnosisPacket, EvalSummary, Exemplar, Finding
from agentic_rl.records import CandidateRecord, IterationRecord, Proposal, Rejection

HOVER = sims.get_spec("DroneHover")


def _packet(tmp: Path, cid: str, ends: dict[str, int], findings: list[str]) -> str:
    n = sum(ends.values())
    packet = DiagnosisPacket(
        task_id=HOVER.id,
        candidate=cid,
        reward_hash="h",
        reward_terms=["closeness", "tilt"],
        train_steps=1000,
        nominal=EvalSummary(
            randomized=False,
            episodes=n,
            seeds=list(range(n)),
            success_rate=ends.get("success", 0) / n,
            termination_reasons=ends,
        ),
        findings=[Finding(code=c, message=f"{c} happened " + "x" * 400) for c in findings],
        exemplars=[
            Exemplar(
                kind="failure",
                seed=1,
                termination_reason="crash",
                duration_s=1.0,
                summary="hit the floor at 1.0 s",
            )
        ],
    )
    d = tmp / cid.replace("/", "_")
    d.mkdir(parents=True, exist_ok=True)
    (d / "packet.json").write_text(packet.model_dump_json())
    return str(d / "packet.json")


def _cand(i, k, *, parent=None, status="trained", score=None, weights=None, packet=None, **kw):
    meta = {"genome": {"weights": weights, "gated": []}} if weights else {}
    meta["rules"] = [{"rule": "crash_dominated", "change": "x", "why": "y"}] if parent else []
    return CandidateRecord(
        iteration=i,
        index=k,
        status=status,
        proposal=Proposal(
            response=f"def compute_reward(s, a, p, t):\n    return {{'x': {i}.{k}}}\n",
            designer="offline",
            parent=parent,
            meta=meta,
        ),
        score=score,
        success_rate=score,
        packet_path=packet,
        **kw,
    )


def _history(tmp: Path) -> list[IterationRecord]:
    p0 = _packet(tmp, "i0/c0", {"success": 19, "timeout": 1}, [])
    p1 = _packet(tmp, "i1/c0", {"crash": 20}, ["crash_dominated"])
    it0 = IterationRecord(
        iteration=0,
        candidates=[_cand(0, 0, score=0.95, weights={"distance": 1.0}, packet=p0)],
        best_index=0,
    )
    it1 = IterationRecord(
        iteration=1,
        candidates=[
            _cand(
                1, 0, parent="i0/c0", score=0.0, weights={"closeness": 1.0, "tilt": 1.0}, packet=p1
            ),
            _cand(1, 1, parent="i0/c0", score=0.97, weights={"distance": 1.3}),
            _cand(
                1,
                2,
                parent="i0/c0",
                status="rejected",
                weights={"distance": 1.0, "effort": 0.1},
                rejection=Rejection(stage="precheck", message="crashing early pays 12.0 > 3.0"),
            ),
            _cand(
                1,
                3,
                parent="i0/c0",
                status="stopped_early",
                weights={"distance": 1.0, "spin": 0.1},
                error="stopped at the rung (1,000 steps): training score 0.1 in the lower half",
            ),
        ],
        best_index=1,
    )
    return [it0, it1]


def test_entries_and_verdicts_cover_every_candidate(tmp_path):
    mem = DesignMemory().update(_history(tmp_path))
    v = {cid: e.verdict for cid, e in mem.entries.items()}
    assert v == {
        "i0/c0": "baseline",
        "i1/c0": "worse",
        "i1/c1": "matched",
        "i1/c2": "rejected",
        "i1/c3": "stopped",
    }
    crashed = mem.entries["i1/c0"]
    assert crashed.outcome.terminations == {"crash": 20}
    assert crashed.outcome.findings == ["crash_dominated"]
    assert crashed.rules == ["crash_dominated"] and crashed.terms == ["closeness", "tilt"]
    assert crashed.packet_lines[0].startswith("[warning] crash_dominated happened")
    assert crashed.packet_lines[-1] == "failure exemplar: hit the floor at 1.0 s"
    assert all(len(line) <= 240 for line in crashed.packet_lines)
    assert "precheck" in mem.entries["i1/c2"].outcome.stopped
    assert [e.cid for e in mem.last_iteration()] == ["i1/c0", "i1/c1", "i1/c2", "i1/c3"]
    assert len(mem.children("i0/c0")) == 4


def test_failed_genomes_and_structures(tmp_path):
    mem = DesignMemory().update(_history(tmp_path))
    failed = mem.failed_genomes()
    keys = {cid: e.genome_key for cid, e in mem.entries.items()}
    assert failed == {keys["i1/c0"], keys["i1/c2"], keys["i1/c3"]}
    assert keys["i0/c0"] in mem.tried_genomes() and keys["i0/c0"] not in failed
    structures = mem.failed_structures()
    assert mem.entries["i1/c0"].structure_key in structures
    assert mem.entries["i1/c3"].structure_key not in structures, "halving is not a verdict"
    # a term set that also did well elsewhere is not "failed"
    assert mem.entries["i1/c1"].structure_key not in structures


def test_persisted_memory_round_trips_and_keeps_extra_entries(tmp_path):
    path = tmp_path / MEMORY_FILE
    mem = DesignMemory().update(_history(tmp_path))
    mem.add(
        MemoryEntry(
            cid="i2/p0",
            iteration=2,
            index=0,
            parent="i1/c1",
            outcome=Outcome(status="rejected", stopped="pre-training check"),
            verdict="rejected",
        )
    )
    mem.save(path)
    again = DesignMemory.load(path)
    assert [e.model_dump() for e in again.ordered()] == [e.model_dump() for e in mem.ordered()]
    again.update(_history(tmp_path))
    assert "i2/p0" in again.entries and again.entries["i1/c0"].verdict == "worse"


def test_unreadable_or_missing_memory_starts_empty(tmp_path):
    assert DesignMemory.load(None).entries == {}
    assert DesignMemory.load(tmp_path / "none.json").entries == {}
    bad = tmp_path / MEMORY_FILE
    bad.write_text("{not json")
    assert DesignMemory.load(bad).entries == {}


def test_render_fits_the_limit_and_keeps_the_latest(tmp_path):
    mem = DesignMemory().update(_history(tmp_path))
    full = mem.render()
    assert "i1/c0 (from i0/c0) success 0% ends [crash 20] WORSE" in full
    assert "crash_dominated happened" in full, "latest iteration carries packet lines"
    short = mem.render(limit_chars=600)
    assert len(short) <= 600 and "older candidates cut" in short and "i1/c3" in short


def test_offline_designer_persists_its_memory_in_the_run_folder(tmp_path):
    from agentic_rl.designers import make_designer

    history = _history(tmp_path)
    designer = make_designer("offline", transcript=tmp_path / "llm_transcript.jsonl")
    proposals = designer.propose(HOVER, history, 2)
    saved = DesignMemory.load(tmp_path / MEMORY_FILE)
    assert set(saved.entries) == {"i0/c0", "i1/c0", "i1/c1", "i1/c2", "i1/c3"}
    tried = saved.tried_genomes()
    assert all(p.meta["genome"] and str(p.meta["genome"]) for p in proposals)
    from agentic_rl.designers.memory import genome_key

    assert not {genome_key(p.meta["genome"]) for p in proposals} & tried


def test_a_reward_refused_by_the_checks_before_training_is_a_rejection(tmp_path):
    from agentic_rl.records import PreCheck

    history = _history(tmp_path)
    refused = _cand(
        2,
        0,
        parent="i0/c0",
        status="refused",
        weights={"distance": 1.0, "attitude": 3.0},
    ).model_copy(update={"precheck": PreCheck(passed=False, message="(b) Ending early pays")})
    history.append(IterationRecord(iteration=2, candidates=[refused], best_index=None))
    mem = DesignMemory().update(history)
    entry = mem.entries["i2/c0"]
    assert entry.verdict == "rejected" and entry.outcome.status == "refused"
    assert "refused by the checks before training: (b) Ending early pays" in entry.outcome.stopped
    assert entry.genome_key in mem.failed_genomes()


def test_a_child_that_only_moves_the_survival_offset_is_not_a_new_design(tmp_path):
    from agentic_rl.designers import make_designer
    from agentic_rl.designers.memory import genome_key

    # the survival offset is measured, not designed: its weight does not make a genome new
    assert genome_key({"weights": {"distance": 1.0, "alive": 0.85}}) == genome_key(
        {"weights": {"distance": 1.0, "alive": 0.9}}
    )
    assert genome_key({"weights": {"distance": 1.0, "alive": 0.85}}) != genome_key(
        {"weights": {"distance": 1.0}}
    )
    # a solved parent with nothing to fix: no proposal may be the parent's reward again with
    # only the survival offset re-measured (0.58 on the smoke states; it would be a second
    # control, not a refinement)
    parent = {"distance": 1.0, "on_target": 1.0, "alive": 0.6}
    packet = _packet(tmp_path, "i0/c0", {"success": 20}, [])
    history = [
        IterationRecord(
            iteration=0,
            candidates=[_cand(0, 0, score=1.0, weights=parent, packet=packet)],
            best_index=0,
        )
    ]
    proposals = make_designer("offline").propose(HOVER, history, 3)
    designed = [
        {k: w for k, w in p.meta["genome"]["weights"].items() if k != "alive"} for p in proposals
    ]
    assert {"distance": 1.0, "on_target": 1.0} not in designed
