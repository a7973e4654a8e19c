"""Checks before training, wired into the loop (the checks themselves:
:mod:`agentic_rl.designers.precheck`).

Before a new reward gets training steps it is scored on its parent's recorded evaluation
episodes: successful episodes must out-earn failed ones, and ending early by a failure must
not pay more than surviving to the time limit. A reward that fails is ``refused``, with the
numbers kept in its record (shown in the report, counted in ``summary.json``). A designer
that can act on them (:attr:`~agentic_rl.designers.base.Designer.repairs_refusals`, a model)
gets them as a repair message and one chance to fix the reward (checked again); the others'
refused rewards (the offline designer's rules cannot act on such a message) are discarded.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import rewards
from agentic_rl.records import CandidateRecord, CandidateState, PreCheck, Rejection, find
from agentic_rl.runstore import write_json

if TYPE_CHECKING:
    from agentic_rl.designers.precheck import PrecheckVerdict
    from agentic_rl.loop.core import RefineLoop


def check(loop: RefineLoop) -> None:
    """Run the checks on every accepted candidate of the iteration in flight."""
    from agentic_rl.designers.base import BudgetExceeded

    current = loop.current
    for cand in current.candidates:
        if cand.status != CandidateState.ACCEPTED:
            continue
        verdict = _verdict(loop, cand)
        if verdict is not None and not verdict.passed and loop.designer.repairs_refusals:
            loop.console.print(
                f"{cand.cid}: refused by the checks before training; asking for one repair"
            )
            rejection = Rejection(stage="precheck", message=verdict.feedback)
            write_json(Path(cand.run_dir) / "rejection.json", rejection)
            try:
                repaired = loop.designer.repair(
                    loop.spec,
                    cand.proposal,
                    rejection,
                    loop.history(),
                    round=1,
                    rounds=1,
                    candidate=cand.cid,
                )
            except BudgetExceeded:
                repaired = None
            finally:
                loop.sync_usage()
            if repaired is not None:
                accepted = rewards.check_source(repaired.response, loop.spec)
                if not isinstance(accepted, rewards.Rejected):
                    cand.proposal = repaired
                    cand.code = accepted.program.source
                    write_json(Path(cand.run_dir) / "proposal.json", repaired)
                    (Path(cand.run_dir) / "reward.py").write_text(cand.code)
                    write_json(Path(cand.run_dir) / "reward.json", accepted.program)
                    verdict = _verdict(loop, cand)
        if verdict is None:
            cand.status = CandidateState.CHECKED
        else:
            cand.precheck = PreCheck(
                passed=verdict.passed,
                message=verdict.message,
                details=verdict.model_dump(mode="json", exclude={"message"}),
            )
            cand.status = CandidateState.CHECKED if verdict.passed else CandidateState.REFUSED
            if not verdict.passed:
                failed = [c.message for c in verdict.checks if c.applicable and not c.passed]
                loop.console.print(
                    f"{cand.cid}: [red]refused[/] by the checks before training: "
                    + (failed[0] if failed else verdict.message).split(". ")[0]
                )
        loop.save()
    current.stage = "train"
    loop.save()


def _verdict(loop: RefineLoop, cand: CandidateRecord) -> PrecheckVerdict | None:
    """The checks' verdict on the candidate's reward, or ``None`` when there is nothing to
    check against (no parent, the control, or a parent without recorded episodes)."""
    from agentic_rl.designers.precheck import check_reward, parent_episodes

    if cand.lineage.start == "control" or cand.code is None:
        return None
    parent = find(loop.manifest, cand.proposal.parent)
    if parent is None:
        return None
    episodes = parent_episodes(parent)
    if not episodes:
        return None
    return check_reward(cand.code, loop.spec, episodes)
