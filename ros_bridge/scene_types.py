"""The scene selector's shared types: what a selector chooses from, decides and is tuned by.

Used by every part of scene selection: the runtime here (:mod:`.scene_choice`,
:mod:`.scene_files`, the switcher and the selector node) and, on the training side,
``agentic_rl.scenes`` (the offline and the LLM-backed selectors answer with the same
:class:`Selection`). numpy-free, so it is vendored into generated ROS packages as is.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

SELECTOR_FORMAT = "agentic-rl/scene-selector"
SELECTOR_VERSION = 1
#: Class label of "none of the library's scenes" (trained on synthetic non-scene images).
NONE_CLASS = "none"


class SelectorFileError(ValueError):
    """A selector folder that is missing, incomplete or of an unknown format."""


@dataclass(frozen=True)
class PolicyCard:
    """One selectable policy: a library entry as the selector sees it.

    Attributes:
        name: the library entry's name (what ``select`` answers).
        task_id: the task the policy was trained on (the classifier's class).
        description: the task description (and any notes), indexed by the text matcher.
        quality: a success figure in [0, 1] used to order policies of the same task.
    """

    name: str
    task_id: str
    description: str
    quality: float = 0.0


@dataclass
class Thresholds:
    """When the selector answers "unsure" instead of choosing.

    Attributes:
        min_confidence: the chosen task's posterior must reach this.
        min_margin: ... and lead the runner-up task by this much.
        max_none: the image's "not a library scene" probability must stay below this.
        text_temperature: softness of the text posterior (cosine similarity / temperature).
    """

    min_confidence: float = 0.6
    min_margin: float = 0.2
    max_none: float = 0.5
    text_temperature: float = 0.1


@dataclass
class Ranked:
    """One policy in a selection's ranking."""

    name: str
    task_id: str
    score: float
    image: float | None = None
    text: float | None = None
    matched: list[str] = field(default_factory=list)


@dataclass
class Selection:
    """What a selector decided, with the evidence.

    Attributes:
        choice: the chosen policy's name, or ``None`` when unsure.
        unsure: True when the selector refuses to choose.
        ranking: every policy, best first, with its combined, image and text scores.
        task_scores: posterior over task ids.
        reasons: one line per piece of evidence and the verdict (what ``select`` prints).
        backend: which selector answered.
        elapsed_ms: time to decide (image decode excluded).
    """

    choice: str | None
    unsure: bool
    ranking: list[Ranked]
    task_scores: dict[str, float]
    reasons: list[str]
    backend: str = "offline"
    elapsed_ms: float = 0.0
    image_none: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
