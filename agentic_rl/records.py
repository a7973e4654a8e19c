"""Plain records shared by the designers, the diagnostics and the refinement loop.

They are pydantic models so that they round-trip through the run folder's JSON files: a
resumed run and the replay designer read exactly what the loop wrote.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class Usage(BaseModel):
    """What one designer call cost."""

    model_config = ConfigDict(extra="forbid")

    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    latency_s: float = 0.0
    calls: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
            cost_usd=self.cost_usd + other.cost_usd,
            latency_s=self.latency_s + other.latency_s,
            calls=self.calls + other.calls,
        )


class Proposal(BaseModel):
    """One reward candidate as a designer proposed it.

    ``response`` is the designer's full text (an LLM answer with prose and code fences, or
    the offline designer's source); the reward pipeline extracts and validates the code.
    """

    model_config = ConfigDict(extra="forbid")

    response: str
    rationale: str = ""
    designer: str
    usage: Usage = Field(default_factory=Usage)
    parent: str | None = Field(None, description="Id 'i<iter>/c<k>' of the candidate refined.")
    meta: dict[str, Any] = Field(
        default_factory=dict,
        description="Designer-specific details (rules applied, weights, randomization ranges).",
    )


CandidateStatus = Literal["rejected", "trained", "failed", "timeout", "stopped_early"]


class Rejection(BaseModel):
    """Why the reward pipeline refused a proposal (handed back to the designer to repair)."""

    stage: str
    line: int | None = None
    message: str


class CandidateRecord(BaseModel):
    """Everything the loop knows about one candidate once it is finished."""

    model_config = ConfigDict(extra="forbid")

    iteration: int
    index: int
    proposal: Proposal
    status: CandidateStatus
    code: str | None = Field(None, description="The accepted reward source.")
    rejection: Rejection | None = None
    error: str | None = Field(None, description="Why training failed or timed out.")
    success_rate: float | None = Field(None, description="Held-out nominal success rate.")
    randomized_success_rate: float | None = None
    task_metrics: dict[str, float] = Field(default_factory=dict)
    score: float | None = Field(None, description="Selection score (higher is better).")
    steps: int = 0
    wall_time: float = 0.0
    packet_text: str | None = None
    packet_path: str | None = None
    run_dir: str = ""

    @property
    def cid(self) -> str:
        return f"i{self.iteration}/c{self.index}"


class IterationRecord(BaseModel):
    """One iteration of the loop: its candidates and which one was best."""

    model_config = ConfigDict(extra="forbid")

    iteration: int
    candidates: list[CandidateRecord]
    best_index: int | None = None

    @property
    def best(self) -> CandidateRecord | None:
        return None if self.best_index is None else self.candidates[self.best_index]
