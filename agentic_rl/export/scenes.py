"""Export of the scene classifier as its own bundle, and the training side's door to the
scene-selection contract.

:func:`export_scene_classifier` writes the folder ``ros_bridge.scene_bundle`` reads like a
PolicyBundle: ``model.onnx`` (the classifier graph, checked against torch with onnxruntime),
``classifier.npz`` (the numpy fallback) and ``selector.json`` (a typed
:class:`~ros_bridge.scene_types.SceneMeta`, defined on the robot side and built here).

``agentic_rl`` reaches ``ros_bridge`` only through export, the CLI and robustness, so the
shared scene types (:class:`PolicyCard`, :class:`Selection`, :class:`Ranked`,
:class:`Thresholds`), the classifier's input preprocessing (:func:`to_input`, the exact
function the robot runs, so training images go through it too) and the loader of an exported
selector (:func:`load_selector`, what the offline backend runs) are re-exported from here.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ros_bridge.scene_bundle import SceneBundle, load_scene_bundle, load_selector
from ros_bridge.scene_choice import SceneSelector
from ros_bridge.scene_images import as_rgb, to_input
from ros_bridge.scene_types import (
    NONE_CLASS,
    ClassifierMeta,
    PolicyCard,
    Ranked,
    SceneMeta,
    Selection,
    SelectorFileError,
    Thresholds,
)

if TYPE_CHECKING:
    from torch import nn

__all__ = [
    "NONE_CLASS",
    "PolicyCard",
    "Ranked",
    "SceneBundle",
    "SceneMeta",
    "SceneSelector",
    "Selection",
    "SelectorFileError",
    "Thresholds",
    "as_rgb",
    "export_scene_classifier",
    "load_scene_bundle",
    "load_selector",
    "record_held_out_accuracy",
    "to_input",
]

#: File names inside the bundle folder.
MODEL_FILE, WEIGHTS_FILE, META_FILE = "model.onnx", "classifier.npz", "selector.json"
#: Names of the graph's input and output (recorded in ``selector.json``).
INPUT_NAME, OUTPUT_NAME = "image", "logits"
#: ONNX opset, as for policies: 17 runs on every onnxruntime since 1.13.
OPSET = 17
#: Largest allowed logit difference between the ONNX graph and torch (float32 graph).
SCENE_ONNX_ATOL = 1e-3


def export_scene_classifier(
    net: nn.Module,
    classes: Sequence[str],
    input_size: int,
    cards: Sequence[PolicyCard],
    out: str | Path,
    *,
    thresholds: Thresholds | None = None,
) -> SceneBundle:
    """Write the scene-classifier bundle for a trained ``SceneCNN`` and read it back.

    Args:
        net: the trained classifier (``agentic_rl.scenes.classifier.SceneCNN``: its
            ``numpy_weights()`` and ``layers`` make the numpy twin).
        classes: its labels in output order.
        input_size: side of the square input.
        cards: the library's policies at training time.
        out: the bundle folder (created; existing files are replaced).
        thresholds: the "unsure" thresholds recorded (default: :class:`Thresholds`).

    Returns:
        The bundle as ``ros_bridge`` loads it.

    Raises:
        RuntimeError: when onnxruntime's logits differ from torch's by more than
            :data:`SCENE_ONNX_ATOL` on a random batch (the bundle is then incomplete).
    """
    import onnx
    import torch

    root = Path(out)
    root.mkdir(parents=True, exist_ok=True)
    net = net.eval()
    example = torch.zeros(1, 3, input_size, input_size, dtype=torch.float32)
    with warnings.catch_warnings():
        # the TorchScript exporter (as in onnx_export): no onnxscript needed, one-file graph
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(
            net,
            (example,),
            str(root / MODEL_FILE),
            input_names=[INPUT_NAME],
            output_names=[OUTPUT_NAME],
            dynamic_axes={INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}},
            opset_version=OPSET,
            dynamo=False,
        )
    onnx.checker.check_model(onnx.load(str(root / MODEL_FILE)), full_check=True)
    np.savez(root / WEIGHTS_FILE, **net.numpy_weights())
    meta = SceneMeta(
        classes=tuple(classes),
        input_size=int(input_size),
        classifier=ClassifierMeta(
            onnx=MODEL_FILE,
            weights=WEIGHTS_FILE,
            input=INPUT_NAME,
            output=OUTPUT_NAME,
            opset=OPSET,
            layers=tuple((int(s), int(p)) for s, p in net.layers),
        ),
        thresholds=thresholds or Thresholds(),
        policies=tuple(cards),
        created=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    _write_meta(root, meta)
    bundle = load_scene_bundle(root)
    x = np.random.default_rng(0).normal(0.0, 1.0, (4, 3, input_size, input_size))
    x = x.astype(np.float32)
    with torch.no_grad():
        want = net(torch.from_numpy(x)).numpy()
    error = float(np.max(np.abs(bundle.make_classifier("onnxruntime").logits(x) - want)))
    if not error <= SCENE_ONNX_ATOL:
        raise RuntimeError(
            f"exported scene classifier differs from torch by {error:.2e} "
            f"(> {SCENE_ONNX_ATOL:g}); retrain or report the torch/onnx versions"
        )
    return bundle


def record_held_out_accuracy(bundle: SceneBundle, accuracy: float) -> SceneBundle:
    """Record the held-out accuracy (measured with the exported classifier) in its meta."""
    meta = replace(bundle.meta, held_out_accuracy=float(accuracy))
    _write_meta(bundle.path, meta)
    return replace(bundle, meta=meta)


def _write_meta(root: Path, meta: SceneMeta) -> None:
    (root / META_FILE).write_text(json.dumps(meta.to_dict(), indent=2))
