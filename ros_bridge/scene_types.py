"""Scene selection's shared types: the one contract both sides read.

What a selector chooses from (:class:`PolicyCard`), decides (:class:`Selection`,
:class:`Ranked`), is tuned by (:class:`Thresholds`), and the typed ``selector.json`` of the
exported scene-classifier bundle (:class:`SceneMeta`, like :class:`~.meta.BundleMeta` for a
PolicyBundle). Defined here, on the robot side, because the robot must not import torch or
``agentic_rl``: the runtime (:mod:`.scene_choice`, :mod:`.scene_bundle`, the switcher and the
scene node) uses it directly, and the training side (``agentic_rl.scenes``) reaches it through
``agentic_rl.export.scenes``, which builds the bundle. Standard library only, so it is vendored
into generated ROS packages as is.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from typing import Any

SELECTOR_FORMAT = "agentic-rl/scene-selector"
#: 2: the classifier is an ONNX graph (``classifier.npz`` stays as the numpy fallback).
SELECTOR_VERSION = 2
SUPPORTED_SELECTOR_VERSIONS = (2,)
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


@dataclass(frozen=True)
class ClassifierMeta:
    """The scene classifier's files and graph.

    Attributes:
        onnx: the ONNX graph (normalized image batch (N, 3, S, S) float32 -> class logits).
        weights: the same network as arrays, for the numpy fallback (``SceneNet``).
        input: the graph's input name.
        output: the graph's output name.
        opset: the ONNX opset it was exported with.
        layers: (stride, pool) of each convolution, as ``SceneNet`` takes them.
    """

    onnx: str
    weights: str
    input: str
    output: str
    opset: int
    layers: tuple[tuple[int, int], ...]


@dataclass(frozen=True)
class SceneMeta:
    """Everything a scene-classifier bundle's ``selector.json`` holds.

    Attributes:
        classes: the classifier's labels in output order (task ids, then :data:`NONE_CLASS`).
        input_size: side of the square classifier input, pixels.
        classifier: the graph and its numpy twin.
        thresholds: the "unsure" thresholds selection starts from.
        policies: the library's policies when the classifier was trained.
        none_class: the label of "not a library scene".
        created: ISO time of export.
        held_out_accuracy: top-1 accuracy on held-out scenes, measured with the exported graph.
    """

    classes: tuple[str, ...]
    input_size: int
    classifier: ClassifierMeta
    thresholds: Thresholds
    policies: tuple[PolicyCard, ...]
    none_class: str = NONE_CLASS
    created: str = ""
    held_out_accuracy: float | None = None
    format: str = SELECTOR_FORMAT
    version: int = SELECTOR_VERSION

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (tuples as lists)."""
        return json.loads(json.dumps(asdict(self)))

    @classmethod
    def from_dict(cls, raw: Any, origin: str = "selector.json") -> SceneMeta:
        """Parse and check a ``selector.json`` mapping.

        Raises:
            SelectorFileError: for another format or version, or the first missing or
                malformed entry.
        """
        if not isinstance(raw, dict):
            raise SelectorFileError(f"{origin}: expected a JSON object, got {type(raw).__name__}")
        if raw.get("format") != SELECTOR_FORMAT or raw.get("version") not in (
            SUPPORTED_SELECTOR_VERSIONS
        ):
            raise SelectorFileError(
                f"{origin} is {raw.get('format')!r} version {raw.get('version')!r}; this "
                f"reader needs {SELECTOR_FORMAT!r} version {SELECTOR_VERSION}: retrain the "
                "selector (`agentic-rl library train-selector`)"
            )
        try:
            c = raw["classifier"]
            return cls(
                classes=tuple(str(x) for x in raw["classes"]),
                input_size=int(raw["input_size"]),
                classifier=ClassifierMeta(
                    onnx=str(c["onnx"]),
                    weights=str(c["weights"]),
                    input=str(c["input"]),
                    output=str(c["output"]),
                    opset=int(c["opset"]),
                    layers=tuple((int(s), int(p)) for s, p in c["layers"]),
                ),
                thresholds=_known(Thresholds, raw.get("thresholds") or {}),
                policies=tuple(_known(PolicyCard, p) for p in raw["policies"]),
                none_class=str(raw.get("none_class", NONE_CLASS)),
                created=str(raw.get("created", "")),
                held_out_accuracy=raw.get("held_out_accuracy"),
                format=raw["format"],
                version=int(raw["version"]),
            )
        except KeyError as exc:
            raise SelectorFileError(f"{origin}: missing entry {exc.args[0]!r}") from None
        except (TypeError, ValueError) as exc:
            raise SelectorFileError(f"{origin}: {exc}") from None


def _known(cls: type, raw: Any) -> Any:
    """A dataclass from a mapping, naming an unknown key instead of a bare TypeError."""
    if not isinstance(raw, dict):
        raise TypeError(f"expected an object for {cls.__name__}, got {type(raw).__name__}")
    unknown = set(raw) - {f.name for f in fields(cls)}
    if unknown:
        raise ValueError(f"unknown {cls.__name__} entries {sorted(unknown)}")
    return cls(**raw)
