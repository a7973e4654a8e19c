"""Reading a scene-classifier bundle and running it (onnxruntime, or numpy as a fallback).

The bundle is the folder ``agentic_rl.export.scenes`` writes (the library's ``selector/``):

* ``selector.json``: a typed :class:`~.scene_types.SceneMeta` (classes, input size,
  thresholds, the policies at training time, the graph's names);
* ``model.onnx``: the classifier, normalized image batch (N, 3, S, S) float32 -> logits;
* ``classifier.npz``: the same network as arrays, run by :class:`~.scene_net.SceneNet` where
  onnxruntime is not installed (as ``weights.npz`` is for a PolicyBundle).

It is read like a PolicyBundle (:mod:`.bundle`): :func:`load_scene_bundle` checks the folder
and its meta, :meth:`SceneBundle.make_classifier` picks the backend, and :func:`load_selector`
builds the :class:`~.scene_choice.SceneSelector` the switcher and ``agentic-rl select`` run.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .scene_choice import SceneSelector
from .scene_net import SceneNet
from .scene_types import PolicyCard, SceneMeta, SelectorFileError, Thresholds

#: Backends of :meth:`SceneBundle.make_classifier` (as for ``PolicyBundle.make_policy``).
BACKENDS = ("auto", "onnxruntime", "numpy")


@dataclass
class SceneBundle:
    """A loaded scene-classifier bundle.

    Attributes:
        path: the bundle folder.
        meta: the parsed ``selector.json``.
        weights: the numpy twin's arrays.
    """

    path: Path
    meta: SceneMeta
    weights: dict[str, np.ndarray] = field(repr=False)

    def make_classifier(self, backend: str = "auto") -> SceneNet | OnnxSceneNet:
        """The classifier (``logits(x)``): onnxruntime on ``model.onnx`` when ``backend`` is
        auto and it is installed, or onnxruntime; numpy on ``classifier.npz`` otherwise.

        Raises:
            SelectorFileError: for an unknown backend, or ``"onnxruntime"`` when it is not
                installed.
        """
        if backend not in BACKENDS:
            raise SelectorFileError(f"backend must be one of {BACKENDS}; got {backend!r}")
        if backend != "numpy":
            try:
                return OnnxSceneNet(self.path / self.meta.classifier.onnx, self.meta)
            except ImportError:
                if backend == "onnxruntime":
                    raise SelectorFileError(
                        "backend 'onnxruntime' requested but onnxruntime is not installed "
                        "(pip install onnxruntime), or use backend='numpy'"
                    ) from None
        return SceneNet(self.weights, self.meta.classifier.layers)


class OnnxSceneNet:
    """The exported classifier graph run by onnxruntime, with :class:`SceneNet`'s interface.

    Raises:
        ImportError: when onnxruntime is not installed.
    """

    backend = "onnxruntime"

    def __init__(self, path: Path, meta: SceneMeta) -> None:
        import onnxruntime as ort

        opts = ort.SessionOptions()
        # one thread, as for the policy: a small graph, and the robot's other nodes need cores
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
        self._session = ort.InferenceSession(
            str(path), sess_options=opts, providers=["CPUExecutionProvider"]
        )
        self._input = meta.classifier.input

    def logits(self, x: np.ndarray) -> np.ndarray:
        """Class logits for a batch (N, 3, S, S) or one image (3, S, S)."""
        x = np.asarray(x, np.float32)
        batch = x[None] if x.ndim == 3 else x
        out = self._session.run(None, {self._input: np.ascontiguousarray(batch)})[0]
        return out[0] if x.ndim == 3 else out


def load_scene_bundle(folder: str | Path) -> SceneBundle:
    """Load a scene-classifier bundle (``selector.json``, ``model.onnx``, ``classifier.npz``).

    Raises:
        SelectorFileError: for a missing, incomplete or foreign folder, or weights that do not
            match the declared classes.
    """
    root = Path(folder)
    meta_path = root / "selector.json"
    if not meta_path.is_file():
        raise SelectorFileError(
            f"no trained selector in {root} (selector.json missing); run "
            "`agentic-rl library train-selector`"
        )
    try:
        raw = json.loads(meta_path.read_text())
    except json.JSONDecodeError as exc:
        raise SelectorFileError(f"{meta_path} is not valid JSON: {exc}") from None
    meta = SceneMeta.from_dict(raw, str(meta_path))
    missing = [
        f for f in (meta.classifier.onnx, meta.classifier.weights) if not (root / f).is_file()
    ]
    if missing:
        raise SelectorFileError(f"scene-classifier bundle {root} is incomplete: missing {missing}")
    with np.load(root / meta.classifier.weights) as npz:
        weights = {k: npz[k] for k in npz.files}
    if weights["fc.bias"].shape != (len(meta.classes),):
        raise SelectorFileError(
            f"{root}: the classifier has {weights['fc.bias'].shape[0]} outputs for "
            f"{len(meta.classes)} classes; retrain the selector"
        )
    return SceneBundle(root, meta, weights)


def load_selector(
    folder: str | Path,
    cards: Sequence[PolicyCard] | None = None,
    thresholds: Thresholds | None = None,
    backend: str = "auto",
) -> SceneSelector:
    """The selector over a scene-classifier bundle.

    Args:
        folder: the bundle folder ``train-selector`` wrote.
        cards: the policies to choose from (default: those recorded at training time).
        thresholds: overrides of the recorded thresholds.
        backend: the classifier's backend (see :meth:`SceneBundle.make_classifier`).

    Raises:
        SelectorFileError: for a missing or foreign folder, or a classifier that lacks a
            task of ``cards``.
    """
    bundle = load_scene_bundle(folder)
    meta = bundle.meta
    th = thresholds or meta.thresholds
    if not math.isfinite(th.min_confidence) or not 0 <= th.min_confidence <= 1:
        raise SelectorFileError(f"min_confidence must be in [0, 1], got {th.min_confidence}")
    return SceneSelector(
        bundle.make_classifier(backend),
        meta.classes,
        meta.input_size,
        meta.policies if cards is None else cards,
        th,
    )
