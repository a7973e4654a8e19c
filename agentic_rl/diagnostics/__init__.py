"""Diagnosis packets: how and where a trained reward candidate's policy failed."""

from agentic_rl.diagnostics.packet import (
    PACKET_VERSION,
    CurvePoint,
    DiagnosisPacket,
    EvalSummary,
    Exemplar,
    Finding,
    MetricStats,
    Moment,
    TermStats,
)

__all__ = [
    "PACKET_VERSION",
    "CurvePoint",
    "DiagnosisPacket",
    "EvalSummary",
    "Exemplar",
    "Finding",
    "MetricStats",
    "Moment",
    "TermStats",
]
