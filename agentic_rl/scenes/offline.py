"""The offline selector: train it from the library's tasks, then select without a network.

:func:`train_offline_selector` renders randomized scenes of every task in the library (and
synthetic non-scenes), trains the CNN on CPU, exports it as the library's ``selector/``
scene-classifier bundle (:func:`agentic_rl.export.scenes.export_scene_classifier`: ONNX graph,
numpy fallback, typed ``selector.json``), and measures top-1 accuracy on held-out scenes from a
disjoint seed range with the exported classifier that selection runs. :class:`OfflineSelector`
loads that bundle with the library's current policies.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from agentic_rl.export.scenes import (
    PolicyCard,
    Selection,
    SelectorFileError,
    Thresholds,
    load_scene_bundle,
    load_selector,
)
from agentic_rl.library import Library
from agentic_rl.scenes.base import Selector, SelectorError
from agentic_rl.seeds import SCENE_HELD_OUT


def policy_cards(library: Library) -> list[PolicyCard]:
    """The library's entries as the selector sees them (notes join the description)."""
    return [
        PolicyCard(
            name=e.name,
            task_id=e.task_id,
            description=f"{e.description} {e.notes}".strip(),
            quality=e.quality,
        )
        for e in library.entries()
    ]


class OfflineSelector(Selector):
    """CNN over the image and TF-IDF over the sentence: the exported scene-classifier bundle
    run by the robot's selection core (``ros_bridge.scene_choice``).

    Args:
        library: the policies to choose from.
        thresholds: overrides of the trained selector's "unsure" thresholds.
        backend: the classifier's runtime: ``auto`` (onnxruntime when installed), ``onnxruntime``
            or ``numpy`` (the fallback the robot uses without onnxruntime).

    Raises:
        SelectorError: when the library has no trained selector, or one trained without a
            task the library now has.
    """

    name = "offline"

    def __init__(
        self, library: Library, thresholds: Thresholds | None = None, backend: str = "auto"
    ) -> None:
        super().__init__(library)
        try:
            self.core = load_selector(
                library.selector_dir, policy_cards(library), thresholds, backend=backend
            )
        except SelectorFileError as exc:
            raise SelectorError(str(exc)) from None

    def select(self, image: np.ndarray | None = None, sentence: str | None = None) -> Selection:
        return self.core.select(image, sentence)


@dataclass
class TrainSettings:
    """How ``train-selector`` builds the classifier.

    Attributes:
        per_class: training images per task (and for the "none" class).
        held_out: held-out images per class (disjoint scenes) for the accuracy figure.
        input_size: side of the square classifier input, pixels.
        epochs: training epochs.
        seed: seeds rendering and training.
        threads: torch threads (1 on a shared machine).
    """

    per_class: int = 600
    held_out: int = 50
    input_size: int = 128
    epochs: int = 16
    seed: int = 0
    threads: int = 1


@dataclass
class TrainSummary:
    """What ``train-selector`` measured (also written to ``selector/report.json``)."""

    classes: list[str]
    held_out_accuracy: float
    per_class_accuracy: dict[str, float]
    confusion: list[list[int]]
    train_accuracy: float
    train_images: int
    held_out_images: int
    render_s: float
    train_s: float
    settings: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def train_offline_selector(
    library: Library,
    settings: TrainSettings | None = None,
    *,
    log: Callable[[str], None] | None = None,
) -> TrainSummary:
    """(Re)train the library's offline selector and write ``<library>/selector/``.

    Raises:
        SelectorError: when the library is empty.
    """
    from agentic_rl.export.scenes import export_scene_classifier, record_held_out_accuracy
    from agentic_rl.scenes.classifier import render_dataset, train_classifier

    s = settings or TrainSettings()
    say = log or (lambda _msg: None)
    tasks = library.task_ids()
    if not tasks:
        raise SelectorError(
            f"the library at {library.root} is empty; add policies before training a selector"
        )
    say(f"rendering {s.per_class} + {s.held_out} scenes for each of {len(tasks)} tasks + none")
    t0 = time.perf_counter()
    train = render_dataset(tasks, s.per_class, s.input_size, seed=s.seed)
    test = render_dataset(tasks, s.held_out, s.input_size, seed=SCENE_HELD_OUT + s.seed)
    render_s = time.perf_counter() - t0
    say(f"rendered {len(train) + len(test)} images in {render_s:.0f} s; training")
    net, report = train_classifier(
        train,
        epochs=s.epochs,
        seed=s.seed,
        threads=s.threads,
        progress=lambda e, loss: say(f"epoch {e}/{s.epochs}: loss {loss:.3f}"),
    )
    out = library.selector_dir
    bundle = export_scene_classifier(
        net, train.classes, s.input_size, policy_cards(library), out, thresholds=Thresholds()
    )
    deployed = bundle.make_classifier()
    # the held-out figure is measured with the exported classifier that selection runs
    pred = np.concatenate(
        [deployed.logits(test.x[b : b + 64]).argmax(1) for b in range(0, len(test), 64)]
    )
    n = len(train.classes)
    conf = np.zeros((n, n), np.int64)
    np.add.at(conf, (test.y, pred), 1)
    per_class = {c: float(conf[i, i] / max(1, conf[i].sum())) for i, c in enumerate(train.classes)}
    summary = TrainSummary(
        classes=train.classes,
        held_out_accuracy=float(np.trace(conf) / max(1, conf.sum())),
        per_class_accuracy=per_class,
        confusion=conf.tolist(),
        train_accuracy=report.train_accuracy,
        train_images=len(train),
        held_out_images=len(test),
        render_s=render_s,
        train_s=report.seconds,
        settings=asdict(s),
    )
    record_held_out_accuracy(bundle, summary.held_out_accuracy)
    (out / "report.json").write_text(json.dumps(summary.to_dict(), indent=2))
    return summary


def selector_status(library: Library) -> str:
    """One line: whether the library's selector is trained and covers its tasks."""
    if not (Path(library.selector_dir) / "selector.json").is_file():
        return "no offline selector yet: run `agentic-rl library train-selector`"
    try:
        meta = load_scene_bundle(library.selector_dir).meta
    except SelectorFileError as exc:
        return f"offline selector unusable: {exc}"
    missing = sorted(set(library.task_ids()) - set(meta.classes))
    acc = meta.held_out_accuracy
    acc_text = f", held-out accuracy {acc:.1%}" if isinstance(acc, float) else ""
    if missing:
        return (
            f"offline selector is stale (lacks {missing}): run `agentic-rl library train-selector`"
        )
    return f"offline selector trained {meta.created or '?'}{acc_text}"
