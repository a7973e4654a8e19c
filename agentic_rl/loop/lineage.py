"""Warm starts: which policy each candidate of an iteration starts from.

From iteration 1 (``warm_start`` on, or auto when the parent's policy succeeded at least once),
the designer's candidates continue their parent's policy under their new reward: a refined
reward then gets the steps its parent already paid for instead of learning from scratch. Two
candidates keep the comparison honest:

* the **control** continues the parent under the parent's unchanged reward for the same steps,
  so the report separates what the new reward bought from what more training bought;
* with 4 or more candidates, the designer's last proposal starts **cold** (from scratch), so
  the loop can leave a bad basin.
"""

from __future__ import annotations

from pathlib import Path

from agentic_rl.config import RefineConfig
from agentic_rl.records import (
    CandidateRecord,
    CandidateState,
    Lineage,
    Manifest,
    Proposal,
    StartKind,
    find,
)

#: Candidates per iteration from which one of the designer's proposals starts cold.
COLD_FROM = 4


def warm_parent(manifest: Manifest, config: RefineConfig) -> CandidateRecord | None:
    """The policy this iteration's warm starts continue (the all-time best), or ``None`` when
    the iteration trains cold."""
    if config.warm_start == "off" or manifest.best is None:
        return None
    parent = find(manifest, manifest.best.cid)
    if parent is None or parent.status != CandidateState.TRAINED:
        return None
    if not (Path(parent.run_dir) / "checkpoint.pt").exists():
        return None
    if config.warm_start == "auto" and not (parent.success_rate or 0.0) > 0.0:
        return None  # nothing worth continuing: a policy that never succeeded
    return parent


def designer_slots(config: RefineConfig, parent: CandidateRecord | None) -> int:
    """How many proposals to ask the designer for (one slot goes to the control)."""
    return (
        config.candidates - 1
        if parent is not None and config.candidates >= 2
        else config.candidates
    )


def start_kind(
    k: int, proposals: int, config: RefineConfig, parent: CandidateRecord | None
) -> StartKind:
    """How the designer's proposal ``k`` of ``proposals`` starts."""
    if parent is None:
        return "cold"
    if config.candidates >= COLD_FROM and k == proposals - 1:
        return "cold"
    return "warm"


def lineage_for(kind: StartKind, parent: CandidateRecord | None) -> Lineage:
    if kind == "cold" or parent is None:
        return Lineage(start="cold")
    return Lineage(
        start=kind,
        warm_from=parent.cid,
        init_checkpoint=str(Path(parent.run_dir) / "checkpoint.pt"),
    )


def control(parent: CandidateRecord, iteration: int, index: int) -> CandidateRecord:
    """The control candidate: the parent's policy and reward, trained on for the same steps."""
    proposal = Proposal(
        response=parent.code or "",
        rationale=f"control: {parent.cid}'s reward unchanged, its policy trained on for the "
        "same steps (what more training alone buys)",
        designer=parent.proposal.designer,
        parent=parent.cid,
        meta={**parent.proposal.meta, "control": True},
    )
    return CandidateRecord(
        iteration=iteration,
        index=index,
        proposal=proposal,
        lineage=lineage_for("control", parent),
    )


def lineage_steps(record: CandidateRecord, manifest: Manifest, own_steps: int) -> int:
    """Env steps of the record's policy lineage: its parent's lineage plus its own."""
    parent = find(manifest, record.lineage.warm_from) if record.lineage.start != "cold" else None
    return own_steps + (parent.lineage.steps if parent is not None else 0)
