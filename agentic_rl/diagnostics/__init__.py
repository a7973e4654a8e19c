"""Diagnosis packets: how and where a trained reward candidate's policy failed.

>>> from agentic_rl.diagnostics import diagnose, render_text
>>> packet = diagnose("DroneHover", "runs/x/policy.npz", "runs/x", candidate="i0/c0",
...                   reward_source=src, episodes=20, seed=1_000_000, randomized_episodes=20,
...                   out_dir="runs/x/diag")
>>> print(render_text(packet, budget_tokens=2500))

:func:`diagnose` runs seeded evaluation episodes (nominal and randomized physics), reads the
training log, and writes ``packet.json``, ``packet.txt``, ``packet.schema.json`` and PNG plots;
:func:`build_packet` is the part without evaluation; :func:`render_text` the prompt text.
"""

from agentic_rl.diagnostics.builder import build_packet, diagnose, load_packet, save_packet
from agentic_rl.diagnostics.findings import compute_findings
from agentic_rl.diagnostics.packet import (
    PACKET_VERSION,
    CurvePoint,
    DiagnosisPacket,
    EvalSummary,
    Exemplar,
    Finding,
    FindingCode,
    MetricStats,
    Moment,
    TermStats,
)
from agentic_rl.diagnostics.render import DEFAULT_BUDGET_TOKENS, estimate_tokens, render_text
from agentic_rl.diagnostics.rollouts import EpisodeRecord, Rollouts, run_rollouts
from agentic_rl.diagnostics.trainlog import TrainLog

__all__ = [
    "DEFAULT_BUDGET_TOKENS",
    "PACKET_VERSION",
    "CurvePoint",
    "DiagnosisPacket",
    "EpisodeRecord",
    "EvalSummary",
    "Exemplar",
    "Finding",
    "FindingCode",
    "MetricStats",
    "Moment",
    "Rollouts",
    "TermStats",
    "TrainLog",
    "build_packet",
    "compute_findings",
    "diagnose",
    "estimate_tokens",
    "load_packet",
    "render_text",
    "run_rollouts",
    "save_packet",
]
