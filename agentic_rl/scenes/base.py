"""The selector interface: which library policy fits a scene image and an instruction.

Two backends answer the same question with the same ``Selection`` (``ros_bridge.scene_types``)
(ranked policies with scores, the reasons, and an explicit "unsure" verdict):

* ``offline`` (:class:`~agentic_rl.scenes.offline.OfflineSelector`, the default): a small CNN
  trained on randomized renders of the library's tasks, combined with a text matcher over the
  task descriptions; no network;
* ``openai`` (:class:`~agentic_rl.scenes.openai_backend.OpenAISelector`): a multimodal model
  behind any OpenAI-compatible endpoint, whose answer is validated against the library.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

import numpy as np

from agentic_rl.export.scenes import Selection
from agentic_rl.library import Library

SELECTORS = ("offline", "openai")


class SelectorError(RuntimeError):
    """A selector that cannot answer: no policies, no trained classifier, a bad endpoint."""


class Selector(ABC):
    """Chooses a library policy for a scene image and/or an instruction sentence.

    Args:
        library: the policies to choose from.
    """

    name: str = ""

    def __init__(self, library: Library) -> None:
        if not library.entries():
            raise SelectorError(
                f"the library at {library.root} is empty; add policies with "
                "`agentic-rl library add RUN_DIR|BUNDLE`"
            )
        self.library = library

    @abstractmethod
    def select(self, image: np.ndarray | None = None, sentence: str | None = None) -> Selection:
        """Rank the library's policies; ``Selection.unsure`` when no choice is safe to make.

        Args:
            image: an RGB (H, W, 3) uint8 scene image, or ``None``.
            sentence: the instruction, or ``None``.

        Raises:
            ValueError: when neither is given.
        """


def load_image(path: str | Path) -> np.ndarray:
    """An image file (PNG, JPEG, ...) as an (H, W, 3) uint8 RGB array.

    Raises:
        ValueError: when the file is missing or not an image.
    """
    from PIL import Image, UnidentifiedImageError

    p = Path(path)
    if not p.is_file():
        raise ValueError(f"image {p} does not exist")
    try:
        with Image.open(p) as im:
            return np.asarray(im.convert("RGB"))
    except (UnidentifiedImageError, OSError) as exc:
        raise ValueError(f"{p} is not an image PIL can read: {exc}") from None


def make_selector(name: str, library: Library, **options: Any) -> Selector:
    """A selector backend by name (``offline`` or ``openai``) over a library.

    Raises:
        SelectorError: for an unknown name, or a backend that cannot start.
    """
    if name == "offline":
        from agentic_rl.scenes.offline import OfflineSelector

        return OfflineSelector(library, **options)
    if name == "openai":
        from agentic_rl.scenes.openai_backend import OpenAISelector

        return OpenAISelector(library, **options)
    raise SelectorError(f"unknown selector {name!r}; choose one of {list(SELECTORS)}")
