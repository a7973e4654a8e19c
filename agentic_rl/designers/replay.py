"""The replay designer: reproduce a run's proposals from its ``llm_transcript.jsonl``.

Every designer appends a ``proposals`` line per ``propose``/``repair`` call to the run's
transcript (see :mod:`agentic_rl.llm.transcript`). Replaying hands those proposals back,
in order, exactly as recorded (byte for byte), without a model or a network, so any run can
be reproduced, re-trained or re-reported.

The replay checks that the run asks for what was recorded: the same task, the same kind of
call, the same number of candidates; and it fails with a clear message when the transcript
runs out.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from agentic_rl.designers.base import Designer, DesignerError, check_n
from agentic_rl.llm.transcript import read_transcript
from agentic_rl.records import IterationRecord, Proposal, Rejection

if TYPE_CHECKING:
    from sims.spec import TaskSpec


class ReplayDesigner(Designer):
    """Hands back the proposals recorded in a transcript.

    Args:
        transcript: the ``llm_transcript.jsonl`` to replay (it is read, never written).
        seed: accepted for a uniform interface; replay has nothing random.

    ``usage`` sums the recorded usage of the proposals handed back (what the recorded run
    spent); the replay itself calls no model.

    Raises:
        DesignerError: if the transcript is missing, unreadable or holds no proposals.
    """

    name = "replay"

    def __init__(self, *, transcript: str | Path | None = None, seed: int = 0) -> None:
        # Not passed to the base class: replay reads the file and must never append to it.
        super().__init__(transcript=None, seed=seed)
        if transcript is None:
            raise DesignerError(
                "the replay designer needs a transcript: set --transcript "
                "RUN_DIR/llm_transcript.jsonl"
            )
        self.path = Path(transcript)
        try:
            lines = read_transcript(self.path)
        except (FileNotFoundError, ValueError) as exc:
            raise DesignerError(str(exc)) from None
        self.records: list[dict[str, Any]] = [r for r in lines if r.get("type") == "proposals"]
        if not self.records:
            raise DesignerError(
                f"transcript {self.path} holds no recorded proposals; replay the "
                "llm_transcript.jsonl of a run that proposed candidates"
            )
        self._cursor = 0

    @property
    def remaining(self) -> int:
        """Recorded calls not replayed yet."""
        return len(self.records) - self._cursor

    def propose(self, spec: TaskSpec, history: list[IterationRecord], n: int) -> list[Proposal]:
        """The next recorded ``propose`` call's proposals."""
        n = check_n(n)
        rec = self._next("propose", spec, iteration=len(history))
        if rec.get("n") != n:
            raise DesignerError(
                f"transcript {self.path} recorded {rec.get('n')} candidates for iteration "
                f"{rec.get('iteration')}, the run asks for {n}; set --candidates "
                f"{rec.get('n')}"
            )
        return self._proposals(rec)

    def repair(
        self,
        spec: TaskSpec,
        proposal: Proposal,
        rejection: Rejection,
        history: Any = None,
        **_: Any,
    ) -> Proposal:
        """The next recorded ``repair`` call's proposal."""
        rec = self._next("repair", spec)
        proposals = self._proposals(rec)
        if not proposals:
            raise DesignerError(
                f"transcript {self.path} record seq {rec.get('seq')} is a repair without a "
                "proposal; the file was edited or cut"
            )
        return proposals[0]

    def _next(self, call: str, spec: TaskSpec, iteration: int | None = None) -> dict[str, Any]:
        # A resumed run may have recorded an iteration's proposals twice (it crashed after
        # proposing, before persisting); the later record is the one the run went on with.
        while iteration is not None and self._cursor + 1 < len(self.records):
            rec, nxt = self.records[self._cursor], self.records[self._cursor + 1]
            same = rec.get("call") == nxt.get("call") == call
            if same and rec.get("iteration") == nxt.get("iteration") == iteration:
                self._cursor += 1
            else:
                break
        if self._cursor >= len(self.records):
            raise DesignerError(
                f"transcript {self.path} is used up: all {len(self.records)} recorded calls "
                f"were replayed and the run asks for another {call}; lower --iterations or "
                "replay with the recorded run's settings"
            )
        rec = self.records[self._cursor]
        if rec.get("task_id") != spec.id:
            raise DesignerError(
                f"transcript {self.path} was recorded for task {rec.get('task_id')}, not "
                f"{spec.id}; replay it with --task {rec.get('task_id')}"
            )
        if rec.get("call") != call:
            raise DesignerError(
                f"transcript {self.path} record {self._cursor} is a {rec.get('call')} call but "
                f"the run asks for a {call}; the run diverged from the recording (were the "
                "reward pipeline or the settings changed?)"
            )
        if iteration is not None and rec.get("iteration") not in (None, iteration):
            raise DesignerError(
                f"transcript {self.path} record {self._cursor} is for iteration "
                f"{rec.get('iteration')}, the run is at iteration {iteration}; replay a "
                "fresh run folder with the recorded settings"
            )
        self._cursor += 1
        return rec

    def _proposals(self, rec: dict[str, Any]) -> list[Proposal]:
        try:
            out = [Proposal.model_validate(p) for p in rec.get("proposals") or []]
            # What the recorded run spent, so a replayed run reports the same tokens and cost
            # (the replay itself calls no model).
            for p in out:
                self.usage = self.usage + p.usage
            return out
        except ValueError as exc:
            first = str(exc).splitlines()[0]
            raise DesignerError(
                f"transcript {self.path} line seq {rec.get('seq')} holds a malformed proposal "
                f"({first}); the file was edited or written by another version"
            ) from None
