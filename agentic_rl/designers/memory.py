"""The refinement memory: every candidate tried, what it was and what came of it.

Designers learn from every result, not only from the all-time best. The memory is one entry
per candidate of the run's history (rejected, failed, stopped by successive halving or
trained): its reward (source hash, terms, and for the offline designer its genome and the
rules that produced it), its parent, its outcome (held-out success, task metrics, the
termination histogram, findings, which success sub-criteria failed, why it was stopped or
rejected) and a few key lines of its diagnosis packet. It also says whether the candidate did
better or worse than its parent, which is what a designer needs to stop re-proposing what
already failed.

The memory is derived from the history (``list[IterationRecord]`` and the packets on disk),
so a fresh designer or a resumed loop rebuilds exactly the same memory. It is also persisted
as ``design_memory.json`` in the run folder (atomic writes): a person, the report and a model's
prompt read it there, and entries the history does not carry (e.g. a pre-training check
verdict of a proposal that never became a candidate) survive a resume.

Typical use (what the offline designer does at every ``propose``)::

    memory = DesignMemory.load(run_dir / MEMORY_FILE).update(history)
    memory.save(run_dir / MEMORY_FILE)
    memory.failed_genomes()           # genome keys never to propose again
    memory.render(limit_chars=4000)   # compact text for an LLM prompt
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from agentic_rl.designers.base import load_packet
from agentic_rl.records import CandidateRecord, IterationRecord

if TYPE_CHECKING:
    from agentic_rl.diagnostics.packet import DiagnosisPacket

#: File name of the persisted memory inside the run folder.
MEMORY_FILE = "design_memory.json"
#: Bump on any incompatible change of the entry fields (older files are rebuilt from history).
MEMORY_VERSION = 1
#: A trained child whose selection score is this much below its parent's did worse (success
#: points on the held-out selection episodes; below the noise of 20 episodes it is "matched").
WORSE_MARGIN = 0.1
#: Key packet lines kept per candidate (findings first, then the commonest failure exemplar).
PACKET_LINES = 4
#: Characters kept per packet line, rationale and stop reason.
LINE_CHARS = 240

Verdict = Literal["baseline", "improved", "matched", "worse", "rejected", "failed", "stopped"]


class Outcome(BaseModel):
    """What came of one candidate."""

    model_config = ConfigDict(extra="forbid")

    status: str = Field(
        description="CandidateRecord.status: trained, rejected, refused, failed, timeout, ..."
    )
    success_rate: float | None = Field(None, description="Held-out nominal success rate.")
    randomized_success_rate: float | None = None
    score: float | None = Field(None, description="Selection score (higher is better).")
    task_metrics: dict[str, float] = Field(default_factory=dict)
    terminations: dict[str, int] = Field(
        default_factory=dict, description="Termination reason -> nominal evaluation episodes."
    )
    findings: list[str] = Field(
        default_factory=list, description="Finding codes, most severe first."
    )
    failed_criteria: dict[str, int] = Field(
        default_factory=dict,
        description="Success sub-criterion -> failed episodes that broke it (when diagnosed).",
    )
    stopped: str | None = Field(
        None, description="Why it got no (or not all of its) training: rejection, halving, error."
    )
    steps: int = 0


class MemoryEntry(BaseModel):
    """One candidate the run tried."""

    model_config = ConfigDict(extra="forbid")

    cid: str
    iteration: int
    index: int
    parent: str | None = None
    designer: str = ""
    reward_hash: str = ""
    terms: list[str] = Field(default_factory=list)
    genome: dict[str, Any] | None = Field(None, description="Offline designer genome, if any.")
    rules: list[str] = Field(default_factory=list, description="Rules that produced it.")
    rationale: str = ""
    outcome: Outcome
    verdict: Verdict = "baseline"
    packet_lines: list[str] = Field(default_factory=list)

    @property
    def genome_key(self) -> str | None:
        """Canonical text of the genome (weights and gated terms), or None."""
        return genome_key(self.genome)

    @property
    def structure_key(self) -> str | None:
        """Canonical text of the genome's term set and gating, weights ignored, or None."""
        return structure_key(self.genome)

    def line(self) -> str:
        """One line for a prompt or a log: id, parent, outcome, verdict, terms."""
        o = self.outcome
        parts = [self.cid]
        if self.parent:
            parts.append(f"(from {self.parent})")
        if o.success_rate is not None:
            parts.append(f"success {o.success_rate:.0%}")
        if o.terminations:
            ends = ", ".join(f"{k} {v}" for k, v in sorted(o.terminations.items()))
            parts.append(f"ends [{ends}]")
        if o.failed_criteria:
            crit = ", ".join(f"{k} {v}" for k, v in sorted(o.failed_criteria.items()))
            parts.append(f"failed criteria [{crit}]")
        parts.append(self.verdict.upper())
        if o.stopped:
            parts.append(f"({o.stopped})")
        if self.rules:
            parts.append("rules: " + ", ".join(self.rules))
        if self.terms:
            parts.append("terms: " + ", ".join(self.terms))
        return " ".join(parts)


class _File(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int = MEMORY_VERSION
    entries: list[MemoryEntry] = Field(default_factory=list)


def genome_key(genome: dict[str, Any] | None) -> str | None:
    """Canonical text of an offline genome's weights and gating (None for no genome).

    The survival offset's weight is left out (its presence counts): it is measured on the
    parent's episodes, not designed, so a child that differs from a tried genome only in that
    offset is the same design (a second control, not a refinement).
    """
    from agentic_rl.designers.offline.ingredients import ALIVE

    if not isinstance(genome, dict) or not isinstance(genome.get("weights"), dict):
        return None
    weights = {
        str(k): "measured" if k == ALIVE else round(float(w), 6)
        for k, w in genome["weights"].items()
    }
    return json.dumps([sorted(weights.items()), sorted(genome.get("gated", []))])


def structure_key(genome: dict[str, Any] | None) -> str | None:
    """Canonical text of an offline genome's term set and gating, weights ignored."""
    if not isinstance(genome, dict) or not isinstance(genome.get("weights"), dict):
        return None
    return json.dumps([sorted(genome["weights"]), sorted(genome.get("gated", []))])


def _cut(text: str, n: int = LINE_CHARS) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= n else text[: n - 3] + "..."


def _reward_hash(record: CandidateRecord) -> str:
    from rewards.program import source_hash

    return source_hash(record.code or record.proposal.response)[:16]


def _terms(record: CandidateRecord, packet: DiagnosisPacket | None) -> list[str]:
    if packet is not None and packet.reward_terms:
        return list(packet.reward_terms)
    genome = record.proposal.meta.get("genome")
    if isinstance(genome, dict) and isinstance(genome.get("weights"), dict):
        return sorted(genome["weights"])
    return []


def _failed_criteria(packet: DiagnosisPacket) -> dict[str, int]:
    return dict(packet.nominal.failed_criteria)


def _packet_lines(packet: DiagnosisPacket) -> list[str]:
    lines = [_cut(f"[{f.severity}] {f.message}") for f in packet.findings]
    lines += [
        _cut(f"failure exemplar: {e.summary}") for e in packet.exemplars if e.kind == "failure"
    ][:1]
    return lines[:PACKET_LINES]


def _stopped(record: CandidateRecord) -> str | None:
    # the checks before training refuse a reward with their verdict in ``record.precheck``
    if record.precheck is not None and not record.precheck.passed:
        return _cut(f"refused by the checks before training: {record.precheck.message}")
    if record.rejection is not None:
        return _cut(f"rejected at {record.rejection.stage}: {record.rejection.message}")
    if record.error:
        return _cut(record.error)
    return None


def entry_for(record: CandidateRecord) -> MemoryEntry:
    """The memory entry of one finished candidate (its verdict is set by :meth:`update`)."""
    packet = load_packet(record)
    outcome = Outcome(
        status=str(record.status),
        success_rate=record.success_rate,
        randomized_success_rate=record.randomized_success_rate,
        score=record.score,
        task_metrics=dict(record.task_metrics),
        stopped=_stopped(record),
        steps=record.steps,
    )
    lines: list[str] = []
    if packet is not None:
        outcome.terminations = dict(packet.nominal.termination_reasons)
        outcome.findings = [f.code for f in packet.findings]
        outcome.failed_criteria = _failed_criteria(packet)
        lines = _packet_lines(packet)
    meta = record.proposal.meta
    genome = meta.get("genome") if isinstance(meta.get("genome"), dict) else None
    rules = meta.get("rules") or []
    return MemoryEntry(
        cid=record.cid,
        iteration=record.iteration,
        index=record.index,
        parent=record.proposal.parent,
        designer=record.proposal.designer,
        reward_hash=_reward_hash(record),
        terms=_terms(record, packet),
        genome=genome,
        rules=list(dict.fromkeys(str(e.get("rule", "")) for e in rules if isinstance(e, dict))),
        rationale=_cut(record.proposal.rationale),
        outcome=outcome,
        packet_lines=lines,
    )


def _verdict(entry: MemoryEntry, parent: MemoryEntry | None) -> Verdict:
    status = entry.outcome.status
    if status in ("rejected", "refused"):  # by the reward pipeline / the checks before training
        return "rejected"
    if status in ("failed", "timeout"):
        return "failed"
    if status == "stopped_early":
        return "stopped"
    if parent is None or parent.outcome.score is None:
        return "baseline"
    if entry.outcome.score is None:
        return "failed"
    delta = entry.outcome.score - parent.outcome.score
    if delta < -WORSE_MARGIN:
        return "worse"
    return "improved" if delta > WORSE_MARGIN else "matched"


class DesignMemory:
    """Every candidate the run tried, keyed by candidate id (see the module docstring)."""

    def __init__(self, entries: Iterable[MemoryEntry] = ()) -> None:
        self.entries: dict[str, MemoryEntry] = {e.cid: e for e in entries}

    # ------------------------------------------------------------------ persistence
    @classmethod
    def load(cls, path: str | Path | None) -> DesignMemory:
        """The memory saved at ``path``; empty if there is none, or it is unreadable or of
        another version (it is rebuilt from the history by :meth:`update`)."""
        if path is None:
            return cls()
        try:
            data = _File.model_validate_json(Path(path).read_text("utf-8"))
        except (OSError, ValueError):
            return cls()
        return cls(data.entries) if data.version == MEMORY_VERSION else cls()

    def save(self, path: str | Path) -> None:
        """Write the memory atomically (a reader never sees a torn file)."""
        from agentic_rl.runstore import write_json

        write_json(Path(path), _File(entries=self.ordered()))

    # ------------------------------------------------------------------ building
    def update(self, history: list[IterationRecord]) -> DesignMemory:
        """Add or refresh an entry for every candidate in ``history`` (history wins over what
        was loaded) and recompute every verdict against the entry's parent. Returns self."""
        for it in history:
            for record in it.candidates:
                self.entries[record.cid] = entry_for(record)
        for e in self.entries.values():
            e.verdict = _verdict(e, self.entries.get(e.parent or ""))
        return self

    def add(self, entry: MemoryEntry) -> None:
        """Record a candidate the history does not carry (kept across :meth:`update`)."""
        self.entries[entry.cid] = entry

    # ------------------------------------------------------------------ queries
    def ordered(self) -> list[MemoryEntry]:
        """Entries in (iteration, index) order."""
        return sorted(self.entries.values(), key=lambda e: (e.iteration, e.index, e.cid))

    def iteration(self, i: int) -> list[MemoryEntry]:
        """Every entry of iteration ``i``."""
        return [e for e in self.ordered() if e.iteration == i]

    def last_iteration(self) -> list[MemoryEntry]:
        """Every entry of the latest iteration (the children of the last refinement)."""
        if not self.entries:
            return []
        return self.iteration(max(e.iteration for e in self.entries.values()))

    def children(self, cid: str) -> list[MemoryEntry]:
        """Every entry refined from candidate ``cid``."""
        return [e for e in self.ordered() if e.parent == cid]

    def tried_genomes(self) -> set[str]:
        """Genome keys of every offline candidate tried, whatever its outcome."""
        return {k for e in self.entries.values() if (k := e.genome_key) is not None}

    def failed_genomes(self) -> set[str]:
        """Genome keys that were rejected, failed, stopped early or did worse than their
        parent, and never did better elsewhere."""
        return self._failed(lambda e: e.genome_key)

    def failed_structures(self) -> set[str]:
        """Term sets (weights ignored) that only ever did worse than their parent (or were
        rejected or failed): re-weighting them is what the issue saw fail again and again."""
        return self._failed(lambda e: e.structure_key, include_stopped=False)

    def _failed(self, key: Any, include_stopped: bool = True) -> set[str]:
        bad = {"worse", "rejected", "failed"} | ({"stopped"} if include_stopped else set())
        failed, good = set(), set()
        for e in self.entries.values():
            k = key(e)
            if k is None:
                continue
            if e.verdict in bad:
                failed.add(k)
            elif e.verdict in ("improved", "matched", "baseline"):
                good.add(k)
        return failed - good

    def render(self, limit_chars: int | None = None) -> str:
        """Compact text for a designer's prompt: one line per candidate, the latest iteration
        with its key packet lines; cut from the oldest entries to fit ``limit_chars``."""
        entries = self.ordered()
        if not entries:
            return ""
        last = max(e.iteration for e in entries)
        blocks = []
        for e in entries:
            block = "- " + e.line()
            if e.iteration == last and e.packet_lines:
                block += "".join(f"\n    {line}" for line in e.packet_lines)
            blocks.append(block)
        head = "Every reward candidate tried so far (verdict relative to its parent):"
        text = "\n".join([head, *blocks])
        while limit_chars is not None and len(text) > limit_chars and len(blocks) > 1:
            blocks.pop(0)
            text = "\n".join([head, "- [older candidates cut to fit]", *blocks])
        return text if limit_chars is None else text[:limit_chars]
