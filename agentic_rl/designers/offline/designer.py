"""The offline designer itself: parent, rules, memory, candidates, survival, proposals."""

from __future__ import annotations

import math
import random
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agentic_rl.designers.base import (
    Designer,
    DesignerError,
    best_candidate,
    check_n,
    load_packet,
)
from agentic_rl.designers.memory import MEMORY_FILE, DesignMemory
from agentic_rl.designers.offline.evidence import gather
from agentic_rl.designers.offline.genome import Genome, _round, key, render, structure
from agentic_rl.designers.offline.ingredients import ALIVE, Ingredient, catalogue
from agentic_rl.designers.offline.rules import RuleLog, Rules
from agentic_rl.designers.offline.survival import apply_survival, drop_survival
from agentic_rl.designers.offline.view import TaskView
from agentic_rl.records import CandidateRecord, IterationRecord, Proposal, Rejection

if TYPE_CHECKING:
    from agentic_rl.designers.precheck import RecordedEpisode
    from sims.spec import TaskSpec

#: Standard deviation of the log-normal weight perturbation across candidates.
PERTURB_SIGMA = 0.35
#: Verdicts of the refinement memory that blame the terms a child added to its parent.
BLAMING = ("worse", "rejected", "failed")


class OfflineDesigner(Designer):
    """Rule-based reward designer; the default, no network (see the package docstring).

    Args:
        transcript: ``llm_transcript.jsonl`` to record proposals in (replayable).
        seed: seeds the perturbations and the exploration picks.
        sigma: standard deviation of the log-normal weight perturbation.
        memory: where to persist the refinement memory
            (:class:`~agentic_rl.designers.memory.DesignMemory`); default: beside the
            transcript (the run folder), or nowhere without one. The memory is rebuilt from
            the history on every call either way, so proposals never depend on the file.
        survival: measure and add each proposal's survival offset (default). ``False`` is a
            measuring hook, never a loop setting: proposals keep the rules' and the search's
            terms with alive offset 0, the classic mistake the checks before training exist
            for (``benchmarks/check_accuracy.py`` measures how often the checks are right on
            them).
    """

    name = "offline"
    # Its repair keeps a genome's core terms, which answers a pipeline rejection but not a
    # refusal by the checks before training: the loop discards refused rewards instead.
    repairs_refusals = False

    def __init__(
        self,
        *,
        transcript: str | Path | None = None,
        seed: int = 0,
        sigma: float = PERTURB_SIGMA,
        memory: str | Path | None = None,
        survival: bool = True,
    ) -> None:
        super().__init__(transcript=transcript, seed=seed)
        self.survival = bool(survival)
        if not sigma >= 0:
            raise DesignerError(f"offline designer sigma must be >= 0, got {sigma}")
        self.sigma = float(sigma)
        if memory is None and transcript is not None:
            memory = Path(transcript).parent / MEMORY_FILE
        self.memory_path = Path(memory) if memory is not None else None

    def remember(self, history: list[IterationRecord]) -> DesignMemory:
        """The refinement memory of ``history`` (persisted when a path is set)."""
        memory = DesignMemory.load(self.memory_path).update(history)
        if self.memory_path is not None:
            memory.save(self.memory_path)
        return memory

    @staticmethod
    def naive(spec: TaskSpec) -> Genome:
        """The naive first reward: the distance to the goal, nothing else."""
        TaskView.of(spec)  # fails early, with the message, for a task without a goal
        return Genome({"distance": 1.0})

    def propose(self, spec: TaskSpec, history: list[IterationRecord], n: int) -> list[Proposal]:
        """Proposals for iteration ``len(history)`` (see the package docstring)."""
        n = check_n(n)
        view = TaskView.of(spec)
        cat = catalogue(view)
        iteration = len(history)
        parent = best_candidate(history)
        memory = self.remember(history)
        base, log, parent_id, note, episodes, blocked = self._refined(view, cat, parent, memory)
        failed = memory.failed_genomes()
        tried = memory.tried_genomes()
        proposals = []
        for k in range(n):
            rng = random.Random(f"offline:{self.seed}:{iteration}:{k}")
            genome, extra = base.copy(), []
            if iteration == 0 or parent is None:
                if k > 0:
                    extra.append(self._explore(genome, cat, rng, k, blocked))
            elif k > 0:
                self._perturb(genome, rng)
                extra.append(f"weights x exp(N(0, {self.sigma:g}))")
                if k % 2 == 1:
                    extra.append(self._explore(genome, cat, rng, k, blocked))
            naive = (iteration == 0 or parent is None) and k == 0
            # Training a reward that was already trained teaches nothing (the rules' child of
            # the best candidate did worse, so the best stayed the same): perturb until new.
            for _ in range(6):
                if not naive:  # the naive reward stays naive: it is the baseline
                    survival = (
                        apply_survival(view, genome, episodes)
                        if self.survival
                        else drop_survival(genome)
                    )
                if key(genome) not in tried:
                    break
                self._perturb(genome, rng)
                again = "already failed" if key(genome) in failed else "already tried"
                extra.append(f"{again}: weights perturbed")
            if not naive:
                extra.append(f"survival: {survival}")
            tried.add(key(genome))  # type: ignore[arg-type]
            proposals.append(
                self._proposal(view, genome, log, parent_id, note, iteration, k, extra)
            )
        self._record_proposals("propose", spec, iteration, n, proposals)
        return proposals

    def repair(
        self,
        spec: TaskSpec,
        proposal: Proposal,
        rejection: Rejection,
        history: list[IterationRecord] | None = None,
        **_: Any,
    ) -> Proposal:
        """Rebuild a rejected proposal's genome without its optional terms.

        Offline programs are built from checked ingredients, so a rejection means a term
        failed on this task (e.g. a plugin's field with an unexpected shape): the repair keeps
        only the core terms, which every task with a declared goal supports.
        """
        view = TaskView.of(spec)
        cat = catalogue(view)
        old = Genome.from_meta(proposal.meta.get("genome"), cat) or self.naive(spec)
        genome = Genome({k: w for k, w in old.weights.items() if cat[k].role == "core"})
        if not genome.weights:
            genome = self.naive(spec)
        log = RuleLog()
        log.add(
            "repair", "kept only core terms", f"rejected at {rejection.stage}: {rejection.message}"
        )
        iteration = int(proposal.meta.get("iteration", 0))
        k = int(proposal.meta.get("candidate", 0))
        fixed = self._proposal(view, genome, log, proposal.parent, "", iteration, k, ["repair"])
        self._record_proposals(
            "repair", spec, iteration, 1, [fixed], rejection=rejection.model_dump()
        )
        return fixed

    # ------------------------------------------------------------------ internals
    def _refined(
        self,
        view: TaskView,
        cat: dict[str, Ingredient],
        parent: CandidateRecord | None,
        memory: DesignMemory,
    ) -> tuple[Genome, RuleLog, str | None, str, list[RecordedEpisode], dict[str, str]]:
        """The rules applied to the best candidate (or the naive reward at the start), with
        the parent's recorded episodes and the terms the memory blames."""
        from agentic_rl.designers.precheck import parent_episodes

        log = RuleLog()
        if parent is None:
            log.add("naive", "distance only", "first iteration: start from the naive reward")
            return self.naive(view.spec), log, None, "", [], {}
        genome = Genome.from_meta(parent.proposal.meta.get("genome"), cat)
        if genome is None:
            # The best candidate came from another designer (or a person): its code is not a
            # genome we can edit, so rules start over from the naive reward.
            genome = self.naive(view.spec)
            log.add("restart", "naive reward", f"best candidate {parent.cid} has no offline genome")
        blocked = self._blocked(genome, parent, memory, log)
        episodes = parent_episodes(parent)
        packet = load_packet(parent)
        if packet is None:
            log.add("no_packet", "weights unchanged", f"{parent.cid} has no readable packet.json")
            return genome, log, parent.cid, "no packet", episodes, blocked
        evidence = gather(view, packet, episodes)
        refined, rule_log = Rules(view, blocked).apply(genome, evidence)
        log.entries += rule_log.entries
        failed = memory.failed_structures()
        if structure(refined) in failed and structure(refined) != structure(genome):
            # The same term set already did worse: keep the parent's terms, change weights.
            kept = {k: w for k, w in refined.weights.items() if k in genome.weights}
            refined = Genome(kept, refined.gated & set(kept))
            log.add("memory", "kept the parent's terms", "this term set already did worse")
        note = f"packet of {parent.cid}: success {packet.nominal.success_rate:.0%}"
        return refined, log, parent.cid, note, episodes, blocked

    @staticmethod
    def _blocked(
        genome: Genome, parent: CandidateRecord, memory: DesignMemory, log: RuleLog
    ) -> dict[str, str]:
        """Terms a child added to this parent before and then did worse, was rejected or
        failed (read from every sibling's memory entry, packet lines included)."""
        blocked: dict[str, str] = {}
        parent_success = memory.entries.get(parent.cid)
        base = parent_success.outcome.success_rate if parent_success else None
        for child in memory.children(parent.cid):
            weights = (child.genome or {}).get("weights") or {}
            added = sorted(set(weights) - set(genome.weights) - {ALIVE})
            findings = ", ".join(child.outcome.findings) or "no finding"
            if child.verdict in BLAMING:
                got = child.outcome.success_rate
                how = f"{child.verdict}" + (
                    f" ({got:.0%} vs {base:.0%})" if got is not None and base is not None else ""
                )
                for name in added:
                    blocked.setdefault(name, f"{child.cid} added it to {parent.cid}: {how}")
            log.add(
                "memory",
                f"read {child.cid}: {child.verdict}",
                f"added {', '.join(added) or 'nothing'}; {findings}",
            )
        return blocked

    def _perturb(self, genome: Genome, rng: random.Random) -> None:
        for name in sorted(genome.weights):
            if name != ALIVE:  # the survival offset is measured, not searched
                genome.weights[name] = _round(
                    genome.weights[name] * math.exp(rng.gauss(0.0, self.sigma))
                )

    def _explore(
        self,
        genome: Genome,
        cat: dict[str, Ingredient],
        rng: random.Random,
        k: int,
        blocked: dict[str, str],
    ) -> str:
        """Add one ingredient the genome lacks and the memory does not blame."""
        options = [
            n
            for n in cat
            if n not in genome.weights and cat[n].role != "core" and n != ALIVE and n not in blocked
        ]
        if not options:
            return "nothing left to add"
        # Spread candidates over the catalogue first, then pick at random.
        name = options[(k - 1) % len(options)] if k - 1 < len(options) else rng.choice(options)
        genome.weights[name] = cat[name].weight
        return f"explore: added {name}"

    def _proposal(
        self,
        view: TaskView,
        genome: Genome,
        log: RuleLog,
        parent_id: str | None,
        packet_note: str,
        iteration: int,
        k: int,
        extra: list[str],
    ) -> Proposal:
        # the program's docstring lists what changed; rules that found a term already changed
        # stay in meta["rules"] and the rationale
        changes = [e["change"] for e in log.entries if not e["change"].endswith("already changed")]
        changes += extra
        short = view.spec.id.split("/")[-1]
        origin = f"refines {parent_id} ({packet_note})" if parent_id else "naive start"
        header = (
            f"Offline designer, {short}, iteration {iteration} candidate {k}: {origin}.\n"
            + "\n".join(f"- {c}" for c in changes)
        )
        source = render(view, genome, header)
        why = "; ".join(f"{e['rule']}: {e['change']} ({e['why']})" for e in log.entries)
        rationale = why + ("; " if why and extra else "") + "; ".join(extra)
        return Proposal(
            response=source,
            rationale=rationale or "unchanged",
            designer=self.name,
            parent=parent_id,
            meta={
                "genome": genome.to_meta(),
                "rules": log.entries,
                "extra": extra,
                "iteration": iteration,
                "candidate": k,
                "seed": self.seed,
            },
        )
