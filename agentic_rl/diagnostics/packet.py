"""The DiagnosisPacket: what the designer is told about one trained reward candidate.

Versioned pydantic model, saved as ``packet.json`` (and its JSON schema) plus a compact text
rendering ``packet.txt`` for the designer's prompt. This module holds the data model only; the
builder, findings, plots and text rendering live beside it.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

#: Bump on any incompatible change of the packet's fields.
PACKET_VERSION = "1.0"

FindingCode = Literal[
    "dominant_term",  # one term carries > 80% of the total reward magnitude
    "inert_term",  # a term never changes (constant or always zero)
    "reward_hacking",  # reward rises while the task metric falls
    "crash_dominated",  # most failures are crashes / flips / collisions
    "timeout_dominated",  # most failures are timeouts, typically far from the goal
    "oscillation_near_goal",  # the policy reaches the goal region but oscillates there
    "nonfinite_terms",  # terms went NaN/inf and were zeroed
    "randomization_gap",  # success drops sharply under randomized physics
    "no_learning",  # success and task metric flat over training
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CurvePoint(_Model):
    """Training statistics at one of ~10 sample points."""

    step: int
    success_rate: float | None = None
    task_metric: float | None = None
    episode_length: float | None = None
    episode_reward: float | None = None
    entropy: float | None = None
    approx_kl: float | None = None
    explained_variance: float | None = None


class TermStats(_Model):
    """One reward term over training."""

    name: str
    mean: float
    min: float
    max: float
    share: float = Field(description="Share of the total reward magnitude (0..1).")
    trend: float = Field(description="Late minus early mean, per unit of the term's scale.")
    nonfinite: int = 0
    curve: list[float] = Field(default_factory=list, description="Mean at each sample point.")
    eval_step: MetricStats | None = Field(
        None, description="Per-step value over the nominal evaluation episodes."
    )
    eval_nonfinite: int = Field(0, description="Steps on which it was NaN/inf in evaluation.")


class MetricStats(_Model):
    mean: float
    std: float
    min: float
    max: float


class EvalSummary(_Model):
    """Evaluation of the deterministic policy over seeded episodes."""

    randomized: bool
    episodes: int
    seeds: list[int]
    success_rate: float
    termination_reasons: dict[str, int]
    metrics: dict[str, MetricStats] = Field(default_factory=dict)
    episode_length: MetricStats | None = None
    failed_criteria: dict[str, int] = Field(
        default_factory=dict,
        description="Declared success sub-criterion -> failed episodes that broke it.",
    )


class Moment(_Model):
    """The robot at one instant of an exemplar episode (a few key fields, rounded)."""

    t: float
    values: dict[str, list[float] | float]


class Exemplar(_Model):
    """A representative episode: the most common failure, or a success to contrast."""

    kind: Literal["failure", "success"]
    seed: int
    randomized: bool = False
    termination_reason: str
    duration_s: float
    summary: str = Field(description="Plain words: when, where, and what the robot was doing.")
    last_moments: list[Moment] = Field(default_factory=list)
    trajectory: list[list[float]] = Field(
        default_factory=list, description="Positions over the episode (for plots)."
    )


class Finding(_Model):
    """An automatic observation in plain words, with the evidence that triggered it."""

    code: FindingCode
    message: str
    term: str | None = None
    severity: Literal["info", "warning", "critical"] = "warning"
    evidence: dict[str, float] = Field(default_factory=dict)


class DiagnosisPacket(_Model):
    """Everything the designer learns about one trained candidate."""

    version: str = PACKET_VERSION
    task_id: str
    candidate: str = Field(description="Candidate id, e.g. 'i2/c1'.")
    reward_hash: str
    reward_terms: list[str]
    train_steps: int
    training: list[CurvePoint] = Field(default_factory=list)
    terms: list[TermStats] = Field(default_factory=list)
    nominal: EvalSummary
    randomized: EvalSummary | None = None
    exemplars: list[Exemplar] = Field(default_factory=list)
    findings: list[Finding] = Field(default_factory=list)
    plots: dict[str, str] = Field(default_factory=dict, description="name -> PNG path.")
    scene_image: str | None = None
    task_metric_name: str | None = Field(
        None,
        description="The task metric in CurvePoint.task_metric (the spec's first non-success metric).",
    )
    task_metric_higher_is_better: bool = True
    notes: list[str] = Field(
        default_factory=list, description="What the builder could not do, e.g. no training log."
    )
    timings: dict[str, float] = Field(
        default_factory=dict, description="Seconds spent per stage (evaluation, build, plots)."
    )

    def finding(self, code: str) -> Finding | None:
        """The first finding with this code, if any."""
        return next((f for f in self.findings if f.code == code), None)
