"""Plain records shared by the designers, the diagnostics and the refinement loop.

They are pydantic models so that they round-trip through the run folder's JSON files: a
resumed run and the replay designer read exactly what the loop wrote.
"""

from __future__ import annotations

from enum import StrEnum
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


class CandidateState(StrEnum):
    """Where one candidate is in the loop; the one vocabulary of manifests, records and
    reports (a ``str`` enum, so ``state == "trained"`` and JSON round-trips just work).

    In flight: ``proposed`` -> ``accepted`` (reward pipeline passed) -> ``checked`` (checks
    before training passed) -> ``training_rung`` -> ``paused`` -> ``survivor`` ->
    ``training``. Finished: ``trained``, ``stopped_early`` (successive halving),
    ``rejected`` (reward pipeline, after one repair), ``refused`` (checks before training),
    ``failed``, ``timeout``.
    """

    PROPOSED = "proposed"
    ACCEPTED = "accepted"
    CHECKED = "checked"
    TRAINING_RUNG = "training_rung"
    PAUSED = "paused"
    SURVIVOR = "survivor"
    TRAINING = "training"
    TRAINED = "trained"
    STOPPED_EARLY = "stopped_early"
    REJECTED = "rejected"
    REFUSED = "refused"
    FAILED = "failed"
    TIMEOUT = "timeout"

    @property
    def finished(self) -> bool:
        return self in _FINISHED


_FINISHED = {
    CandidateState.TRAINED,
    CandidateState.STOPPED_EARLY,
    CandidateState.REJECTED,
    CandidateState.REFUSED,
    CandidateState.FAILED,
    CandidateState.TIMEOUT,
}

#: How a candidate's policy starts: ``cold`` from scratch; ``warm`` from its parent's policy
#: under its new reward; ``control`` from its parent's policy under the parent's unchanged
#: reward, for the same steps (what more training alone buys).
StartKind = Literal["cold", "warm", "control"]


class Rejection(BaseModel):
    """Why the reward pipeline refused a proposal (handed back to the designer to repair)."""

    stage: str
    line: int | None = None
    message: str


class PreCheck(BaseModel):
    """Outcome of the checks before training: the new reward scored on the parent's recorded
    evaluation episodes (the numbers go back to the designer when it fails)."""

    model_config = ConfigDict(extra="forbid")

    passed: bool
    message: str = Field("", description="One line per failed check, with the numbers.")
    details: dict[str, Any] = Field(default_factory=dict)


class Lineage(BaseModel):
    """Which policy a candidate started from, and how many env steps its policy has seen."""

    model_config = ConfigDict(extra="forbid")

    start: StartKind = "cold"
    warm_from: str | None = Field(
        None, description="Id of the candidate whose policy this one continues (warm/control)."
    )
    init_checkpoint: str | None = Field(None, description="That candidate's checkpoint.pt.")
    steps: int = Field(0, description="Env steps of the whole lineage (parents' and its own).")


class CandidateRecord(BaseModel):
    """Everything the loop knows about one candidate, from proposal to outcome.

    The manifest holds one per candidate of the iteration in flight (``status`` moves along
    :class:`CandidateState`) and, once the iteration is selected, the finished records that
    designers read as history.
    """

    model_config = ConfigDict(extra="forbid")

    iteration: int
    index: int
    proposal: Proposal
    status: CandidateState = CandidateState.PROPOSED
    lineage: Lineage = Field(default_factory=Lineage)
    precheck: PreCheck | None = None
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
    rung_row: dict[str, float] = Field(
        default_factory=dict, description="Last training log row (halving ranks on it)."
    )
    reeval: dict[str, Any] | None = Field(
        None, description="Extra selection-seed episodes of an iteration's top two."
    )

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


# ---------------------------------------------------------------------------- the manifest
#: Layout version of ``manifest.json``; 1 was the untyped dict before CandidateState.
MANIFEST_VERSION = 2


class Best(BaseModel):
    """The all-time best candidate (selected on selection seeds, never on test seeds)."""

    model_config = ConfigDict(extra="forbid")

    cid: str
    iteration: int
    index: int
    score: float
    success_rate: float
    randomized_success_rate: float | None = None
    task_metrics: dict[str, float] = Field(default_factory=dict)
    run_dir: str


class CurrentIteration(BaseModel):
    """The iteration in flight: its candidates move along :class:`CandidateState`."""

    model_config = ConfigDict(extra="forbid")

    iteration: int
    stage: Literal["validate", "check", "train", "select"] = "validate"
    candidates: list[CandidateRecord]
    randomize: bool | dict[str, list[float]] = False
    planned_steps: int | None = None


class TrainingCpu(BaseModel):
    """CPU seconds of the training phases and the core-seconds they could have used."""

    cpu_s: float = 0.0
    core_s: float = 0.0


class TestResult(BaseModel):
    """One policy evaluated on the test seeds (never used for selection)."""

    model_config = ConfigDict(extra="forbid")

    cid: str
    episodes: int
    success_rate: float
    task_metrics: dict[str, float] = Field(default_factory=dict)
    randomized_episodes: int = 0
    randomized_success_rate: float | None = None
    randomized_task_metrics: dict[str, float] = Field(default_factory=dict)


class Manifest(BaseModel):
    """The state of the loop (``manifest.json``), rewritten atomically after every step."""

    model_config = ConfigDict(extra="forbid")

    version: int = MANIFEST_VERSION
    task_id: str
    status: Literal["running", "finished"] = "running"
    stop_reason: str | None = None
    iteration: int = 0
    iterations: list[IterationRecord] = Field(default_factory=list)
    current: CurrentIteration | None = None
    best: Best | None = None
    usage: Usage = Field(default_factory=Usage)
    wall_time: float = 0.0
    started: float = 0.0
    training_cpu: TrainingCpu = Field(default_factory=TrainingCpu)
    test: dict[str, TestResult] = Field(
        default_factory=dict,
        description="Test-seed results by candidate id: the final, iteration 0's best, and "
        "each iteration's control and best refined candidate.",
    )
    baselines: dict[str, Any] = Field(default_factory=dict)

    @classmethod
    def from_json(cls, data: dict[str, Any], where: str) -> Manifest:
        """Parse a manifest, refusing other layout versions with a one-line error.

        Raises:
            ValueError: for a manifest of another version (or one that does not parse).
        """
        version = data.get("version") if isinstance(data, dict) else None
        if version != MANIFEST_VERSION:
            raise ValueError(
                f"{where} was written by manifest version {version}, this agentic-rl reads "
                f"version {MANIFEST_VERSION}: it cannot be resumed; start a new run "
                "(its best/ bundle and report.html stay usable)"
            )
        return cls.model_validate(data)


# ---------------------------------------------------------------------- queries over a manifest
# Plain functions of the record, shared by the loop (lineage, checks, testing) and the report
# (summary.json), so the report needs nothing of the loop.


def find(manifest: Manifest, cid: str | None) -> CandidateRecord | None:
    """The finished candidate with id ``cid`` (``i<iter>/c<k>``), if any."""
    for it in manifest.iterations:
        for c in it.candidates:
            if c.cid == cid:
                return c
    return None


def initial_best(manifest: Manifest) -> CandidateRecord | None:
    """Iteration 0's best candidate (the baseline the improvement is measured against)."""
    return manifest.iterations[0].best if manifest.iterations else None


def control_pairs(manifest: Manifest) -> list[tuple[int, CandidateRecord, CandidateRecord]]:
    """(iteration, control, best warm-started refined candidate) of each iteration that had
    both trained."""
    pairs = []
    for it in manifest.iterations:
        trained = [c for c in it.candidates if c.status == CandidateState.TRAINED]
        controls = [c for c in trained if c.lineage.start == "control"]
        refined = [c for c in trained if c.lineage.start == "warm"]
        if controls and refined:
            best = max(refined, key=lambda c: (c.score or 0.0, -c.index))
            pairs.append((it.iteration, controls[0], best))
    return pairs
