"""The designer interface: who writes reward programs, and how the loop talks to them.

A designer turns a task and the history of finished iterations into reward-program text
(:class:`~agentic_rl.records.Proposal`). It never runs that text: only the reward pipeline
(:func:`rewards.check_source`) does. Three designers implement this interface:

* ``offline`` (:mod:`agentic_rl.designers.offline`): no network, rules over diagnosis packets;
* ``openai`` (:mod:`agentic_rl.designers.openai_designer`): any OpenAI-compatible endpoint;
* ``replay`` (:mod:`agentic_rl.designers.replay`): a recorded ``llm_transcript.jsonl``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from agentic_rl.llm.chat import BudgetExceeded
from agentic_rl.llm.transcript import Transcript
from agentic_rl.records import CandidateRecord, IterationRecord, Proposal, Rejection, Usage

if TYPE_CHECKING:
    from agentic_rl.diagnostics.packet import DiagnosisPacket
    from sims.spec import TaskSpec


__all__ = [
    "BudgetExceeded",
    "Designer",
    "DesignerError",
    "best_candidate",
    "check_n",
    "load_packet",
    "packet_text",
    "rejected",
    "scored",
]


class DesignerError(RuntimeError):
    """A designer cannot go on: bad options, an unreachable endpoint, a transcript mismatch.

    The message is one line that says what was wrong and what to set.
    """


class Designer(ABC):
    """Base class of reward designers.

    Args:
        transcript: ``llm_transcript.jsonl`` to append every request, response and proposal
            list to (secrets removed). ``None`` records nothing.
        seed: seeds every random choice, so proposals are reproducible.

    Attributes:
        usage: running totals of tokens, cost, latency and calls over this designer's life.
    """

    #: Registry name, as passed to :func:`agentic_rl.designers.make_designer`.
    name: ClassVar[str] = ""
    #: Whether :meth:`repair` can act on a refusal by the checks before training (a message
    #: with the reward's returns on the parent's episodes). A designer that cannot (its
    #: repair only knows pipeline rejections) has its refused rewards discarded instead.
    repairs_refusals: ClassVar[bool] = True

    def __init__(self, *, transcript: str | Path | None = None, seed: int = 0) -> None:
        self.seed = int(seed)
        self.usage = Usage()
        self.transcript = Transcript(transcript) if transcript is not None else None

    @abstractmethod
    def propose(self, spec: TaskSpec, history: list[IterationRecord], n: int) -> list[Proposal]:
        """Propose ``n`` reward candidates for the next iteration.

        Args:
            spec: the task.
            history: every finished iteration, oldest first; the best so far is the candidate
                with the highest ``score``.
            n: number of candidates wanted.

        Returns:
            Exactly ``n`` proposals (their code is validated by the loop, not here).

        Raises:
            BudgetExceeded: before a call that would exceed a token or USD budget.
            DesignerError: when the designer cannot produce proposals at all.
        """

    @abstractmethod
    def repair(
        self,
        spec: TaskSpec,
        proposal: Proposal,
        rejection: Rejection,
        history: list[IterationRecord] | None = None,
        **context: Any,
    ) -> Proposal:
        """One repair round: fix a proposal the reward pipeline rejected.

        Args:
            spec: the task.
            proposal: the rejected proposal (for a second round, the first round's answer).
            rejection: the pipeline's stage, line and message.
            history: the history the proposal was made from, so the repair request can
                carry the original request's context.
            **context: ``round``, ``rounds`` (the loop's repair-round count) and
                ``candidate`` (its id), for the designer's messages and transcript.

        Returns:
            A new proposal (its ``parent`` is the rejected proposal's parent).
        """

    # ------------------------------------------------------------------ shared helpers
    def _record_proposals(
        self,
        call: str,
        spec: TaskSpec,
        history_len: int,
        n: int,
        proposals: list[Proposal],
        **extra: Any,
    ) -> None:
        """Append the proposals a call returned to the transcript (what replay reads)."""
        if self.transcript is None:
            return
        self.transcript.append(
            {
                "type": "proposals",
                "designer": self.name,
                "call": call,
                "task_id": spec.id,
                "iteration": history_len,
                "n": n,
                "proposals": [p.model_dump(mode="json") for p in proposals],
                **extra,
            }
        )


def check_n(n: int) -> int:
    """Validate the number of candidates asked for."""
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise DesignerError(f"propose() needs n >= 1 candidates, got {n!r}; set --candidates")
    return n


def scored(history: list[IterationRecord]) -> list[CandidateRecord]:
    """Every candidate of the history that has a selection score, oldest first."""
    return [c for it in history for c in it.candidates if c.score is not None]


def best_candidate(history: list[IterationRecord]) -> CandidateRecord | None:
    """The all-time best candidate: highest ``score``, the earliest one on ties."""
    best: CandidateRecord | None = None
    for cand in scored(history):
        assert cand.score is not None  # scored() filters
        if best is None or cand.score > (best.score or float("-inf")):
            best = cand
    return best


def rejected(history: list[IterationRecord], last: int = 1) -> list[CandidateRecord]:
    """Candidates of the last ``last`` iterations that the pipeline rejected or that failed."""
    out = []
    for it in history[-last:] if last > 0 else []:
        out += [c for c in it.candidates if c.status in ("rejected", "failed", "timeout")]
    return out


def load_packet(record: CandidateRecord) -> DiagnosisPacket | None:
    """The candidate's DiagnosisPacket, read from ``packet_path`` (a ``packet.json`` or the
    candidate folder holding one); ``None`` if it has none or it cannot be read.

    A packet that does not parse is treated like a missing one: designers then fall back to
    the scores in the record instead of failing the whole loop.
    """
    from agentic_rl.diagnostics.packet import DiagnosisPacket

    if not record.packet_path:
        return None
    path = Path(record.packet_path)
    if path.is_dir():
        path = path / "packet.json"
    try:
        return DiagnosisPacket.model_validate_json(path.read_text("utf-8"))
    except (OSError, ValueError):
        return None


def packet_text(record: CandidateRecord, limit_chars: int | None = None) -> str:
    """The candidate's packet text (from the record or ``packet.txt`` beside its packet)."""
    text = record.packet_text
    if not text and record.packet_path:
        path = Path(record.packet_path)
        txt = (path if path.is_dir() else path.parent) / "packet.txt"
        try:
            text = txt.read_text("utf-8")
        except OSError:
            text = None
    text = text or ""
    if limit_chars is not None and len(text) > limit_chars:
        text = text[:limit_chars] + "\n[... packet text cut to fit the prompt]"
    return text
