"""The selector folder: ``selector.json`` (classes, input size, thresholds, text index,
policies) and ``classifier.npz`` (the CNN's weights), read into a :class:`SceneSelector`."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .scene_choice import SceneSelector
from .scene_net import SceneNet
from .scene_types import (
    SELECTOR_FORMAT,
    SELECTOR_VERSION,
    PolicyCard,
    SelectorFileError,
    Thresholds,
)


def load_selector(
    folder: str | Path,
    cards: Sequence[PolicyCard] | None = None,
    thresholds: Thresholds | None = None,
) -> SceneSelector:
    """Load a selector folder (``selector.json`` + ``classifier.npz``).

    Args:
        folder: the folder ``train-selector`` wrote.
        cards: the policies to choose from (default: those recorded at training time).
        thresholds: overrides of the recorded thresholds.

    Raises:
        SelectorFileError: for a missing or foreign folder, or a classifier that lacks a
            task of ``cards``.
    """
    root = Path(folder)
    meta_path = root / "selector.json"
    if not meta_path.is_file():
        raise SelectorFileError(
            f"no trained selector in {root} (selector.json missing); run "
            "`agentic-rl library train-selector`"
        )
    meta = json.loads(meta_path.read_text())
    if meta.get("format") != SELECTOR_FORMAT or meta.get("version") != SELECTOR_VERSION:
        raise SelectorFileError(
            f"{meta_path} is {meta.get('format')!r} version {meta.get('version')!r}; this "
            f"reader needs {SELECTOR_FORMAT!r} version {SELECTOR_VERSION}: retrain the selector"
        )
    with np.load(root / meta["classifier"]["weights"]) as npz:
        weights = {k: npz[k] for k in npz.files}
    net = SceneNet(weights, meta["classifier"]["layers"])
    if cards is None:
        cards = [PolicyCard(**c) for c in meta["policies"]]
    th = thresholds or Thresholds(**meta.get("thresholds", {}))
    if not math.isfinite(th.min_confidence) or not 0 <= th.min_confidence <= 1:
        raise SelectorFileError(f"min_confidence must be in [0, 1], got {th.min_confidence}")
    return SceneSelector(net, meta["classes"], meta["input_size"], cards, th)
