"""What the rules act on: the parent's packet, its recorded episodes and the last iteration.

Everything a rule reads is measured on the *failed* episodes or gated the way the diagnostics
gate their own findings (:data:`~agentic_rl.diagnostics.findings.MIN_FAILURE_RATE`): a rule
never fires on one timeout in twenty episodes.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from agentic_rl.designers.offline.view import TaskView
from agentic_rl.diagnostics.findings import FAR_TOLERANCES, MIN_FAILURE_RATE

if TYPE_CHECKING:
    from agentic_rl.designers.precheck import RecordedEpisode
    from agentic_rl.diagnostics.packet import DiagnosisPacket


@dataclass
class Evidence:
    """The facts about the parent candidate that the rules read.

    Attributes:
        packet: the parent's diagnosis packet.
        episodes: its recorded nominal evaluation episodes (may be empty).
        total: nominal evaluation episodes.
        failures: failed episodes by termination reason.
        failed_criteria: success sub-criterion -> failed episodes that broke it (the
            diagnostics evaluate the task's declared criteria on every failed episode).
        final_error: mean final size of the goal's primary error over the failed episodes
            that ran out of time (None when unknown).
        far: whether those episodes ended far from the goal (None when unknown).
    """

    packet: DiagnosisPacket
    episodes: list[RecordedEpisode] = field(default_factory=list)
    total: int = 0
    failures: Counter[str] = field(default_factory=Counter)
    failed_criteria: dict[str, int] = field(default_factory=dict)
    final_error: float | None = None
    far: bool | None = None

    @property
    def codes(self) -> set[str]:
        """The finding codes of the packet (each already past its own gate)."""
        return {f.code for f in self.packet.findings}

    def crossed_gate(self, count: int) -> bool:
        """``count`` failed episodes are at least the diagnostics' failure-rate gate."""
        return self.total > 0 and count >= MIN_FAILURE_RATE * self.total


def gather(
    view: TaskView,
    packet: DiagnosisPacket,
    episodes: list[RecordedEpisode],
) -> Evidence:
    """Collect the evidence of one parent (see :class:`Evidence`)."""
    success = {r.name for r in view.spec.termination_reasons if r.success} | {"success"}
    failures = Counter(
        {k: v for k, v in packet.nominal.termination_reasons.items() if k not in success}
    )
    ev = Evidence(
        packet=packet,
        episodes=episodes,
        total=packet.nominal.episodes,
        failures=failures,
    )
    ev.failed_criteria = dict(packet.nominal.failed_criteria)
    ev.final_error, ev.far = _final_error(view, packet, episodes)
    return ev


def _final_error(
    view: TaskView, packet: DiagnosisPacket, episodes: list[RecordedEpisode]
) -> tuple[float | None, bool | None]:
    """Mean final goal error of the failed, timed-out episodes and whether that is far.

    The diagnostics' ``timeout_dominated`` finding measures exactly this (over the timed-out
    failures); the recorded episodes are the fallback. Never the mean over all episodes: a
    task mostly solved has a small mean distance while its failures are far away.
    """
    finding = packet.finding("timeout_dominated")
    if finding is not None and "far" in finding.evidence:
        final = finding.evidence.get("final_distance")
        return final, bool(finding.evidence["far"])
    truncated = {r.name for r in view.spec.termination_reasons if r.kind == "truncated"}
    field_name = view.primary.field
    finals = [
        float(np.linalg.norm(np.asarray(ep.states[field_name][-1])))
        for ep in episodes
        if not ep.success and ep.reason in truncated and field_name in ep.states
    ]
    if not finals:
        return None, None
    final = float(np.mean(finals))
    return final, final > FAR_TOLERANCES * view.tol
