"""Choosing a library policy for a scene: the classifier's posterior over tasks times the
text matcher's (a product of experts), a ranking of the policies, and "unsure" instead of a
guess when the evidence is weak or contradicts itself."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Protocol

import numpy as np

from .scene_images import to_input
from .scene_net import softmax
from .scene_text import TextMatcher
from .scene_types import NONE_CLASS, PolicyCard, Ranked, Selection, SelectorFileError, Thresholds


class SceneClassifier(Protocol):
    """What selection needs of the classifier: the ONNX graph run by onnxruntime
    (:class:`~.scene_bundle.OnnxSceneNet`) or its numpy twin (:class:`~.scene_net.SceneNet`)."""

    def logits(self, x: np.ndarray) -> np.ndarray:
        """Class logits for a batch (N, 3, S, S) or one image (3, S, S)."""
        ...


class SceneSelector:
    """Offline selection: the CNN over the image and the text matcher over the sentence.

    Args:
        net: the scene classifier (``None``: text only).
        classes: its class labels (task ids, plus :data:`NONE_CLASS`).
        input_size: side of the square classifier input.
        cards: the selectable policies.
        thresholds: when to answer "unsure".
    """

    def __init__(
        self,
        net: SceneClassifier | None,
        classes: Sequence[str],
        input_size: int,
        cards: Sequence[PolicyCard],
        thresholds: Thresholds | None = None,
    ) -> None:
        if not cards:
            raise SelectorFileError("the selector has no policies to choose from")
        self.net = net
        self.classes = list(classes)
        self.input_size = int(input_size)
        self.cards = list(cards)
        self.thresholds = thresholds or Thresholds()
        self.tasks = sorted({c.task_id for c in self.cards})
        missing = [t for t in self.tasks if net is not None and t not in self.classes]
        if missing:
            raise SelectorFileError(
                f"the scene classifier was trained without {missing}; retrain it for the "
                "current library (agentic-rl library train-selector)"
            )
        docs: dict[str, str] = {}
        for c in self.cards:
            docs[c.name] = f"{c.task_id.split('/')[-1].rsplit('-v', 1)[0]} {c.description}"
        self.text = TextMatcher.build(docs)

    # ------------------------------------------------------------------ evidence
    def image_probs(self, image: np.ndarray) -> dict[str, float]:
        """Classifier probabilities per class label for one RGB image."""
        if self.net is None:
            raise SelectorFileError("this selector has no image classifier")
        p = softmax(self.net.logits(to_input(image, self.input_size)).astype(np.float64))
        return {c: float(v) for c, v in zip(self.classes, p, strict=True)}

    def select(self, image: np.ndarray | None = None, sentence: str | None = None) -> Selection:
        """Rank the policies for an image and/or a sentence (at least one of them).

        Raises:
            ValueError: when neither an image nor a sentence is given.
        """
        if image is None and not (sentence and sentence.strip()):
            raise ValueError("give a scene image, an instruction sentence, or both")
        start = time.perf_counter()
        th = self.thresholds
        reasons: list[str] = []
        n_tasks = len(self.tasks)
        post = np.ones(n_tasks) / n_tasks
        img_task: dict[str, float] | None = None
        none_p: float | None = None
        if image is not None:
            probs = self.image_probs(image)
            none_p = probs.get(NONE_CLASS, 0.0)
            known = np.array([probs.get(t, 0.0) for t in self.tasks]) + 1e-9
            img = known / known.sum()
            img_task = dict(zip(self.tasks, img.tolist(), strict=True))
            post = post * img
            reasons.append("image: " + _top(img_task) + f"; not a library scene {none_p:.2f}")
        sims = np.zeros(len(self.cards))
        matched: dict[str, list[str]] = {c.name: [] for c in self.cards}
        txt_task: dict[str, float] | None = None
        if sentence and sentence.strip():
            sims, matched = self.text.scores(sentence)
            best_sim = np.array(
                [
                    max(s for s, c in zip(sims, self.cards, strict=True) if c.task_id == t)
                    for t in self.tasks
                ]
            )
            if best_sim.max() <= 0.0:
                reasons.append(f"sentence: no word of {sentence!r} matches a task description")
            else:
                txt = softmax(best_sim / th.text_temperature)
                txt_task = dict(zip(self.tasks, txt.tolist(), strict=True))
                post = post * txt
                reasons.append("sentence: " + _top(txt_task))
        post = post / post.sum()
        task_scores = dict(zip(self.tasks, post.tolist(), strict=True))
        order = np.argsort(-post)
        top = float(post[order[0]])
        second = float(post[order[1]]) if n_tasks > 1 else 0.0
        ranking = self._rank(task_scores, sims, matched, img_task)
        unsure_why = []
        if image is None and txt_task is None:
            unsure_why.append("the sentence names no task of the library")
        if none_p is not None and none_p >= th.max_none:
            unsure_why.append(f"the image does not look like any library scene ({none_p:.2f})")
        if img_task is not None and txt_task is not None:
            ti, tt = max(img_task, key=img_task.get), max(txt_task, key=txt_task.get)
            if ti != tt and img_task[ti] >= th.min_confidence and txt_task[tt] >= th.min_confidence:
                unsure_why.append(f"the image says {_short(ti)} but the sentence says {_short(tt)}")
        if top < th.min_confidence:
            unsure_why.append(f"best score {top:.2f} < {th.min_confidence:g}")
        elif top - second < th.min_margin:
            unsure_why.append(f"margin {top - second:.2f} to the runner-up < {th.min_margin:g}")
        unsure = bool(unsure_why)
        choice = None if unsure else ranking[0].name
        if unsure:
            reasons.append("unsure: " + "; ".join(unsure_why))
        else:
            reasons.append(f"chose {choice} ({_short(ranking[0].task_id)}, score {top:.2f})")
        return Selection(
            choice=choice,
            unsure=unsure,
            ranking=ranking,
            task_scores=task_scores,
            reasons=reasons,
            elapsed_ms=(time.perf_counter() - start) * 1e3,
            image_none=none_p,
        )

    def _rank(
        self,
        task_scores: Mapping[str, float],
        sims: np.ndarray,
        matched: Mapping[str, list[str]],
        img_task: Mapping[str, float] | None,
    ) -> list[Ranked]:
        """Policies ordered by their task's posterior, then text similarity, then quality;
        a task's posterior is shared among its policies (softmax of their text scores)."""
        rows = []
        for t in self.tasks:
            idx = [i for i, c in enumerate(self.cards) if c.task_id == t]
            share = softmax(np.array([sims[i] for i in idx]) / self.thresholds.text_temperature)
            for j, i in enumerate(idx):
                c = self.cards[i]
                rows.append(
                    (
                        (task_scores[t], float(sims[i]), c.quality),
                        Ranked(
                            name=c.name,
                            task_id=t,
                            score=float(task_scores[t] * share[j]),
                            image=None if img_task is None else float(img_task[t]),
                            text=float(sims[i]),
                            matched=list(matched.get(c.name, [])),
                        ),
                    )
                )
        rows.sort(key=lambda r: r[0], reverse=True)
        return [r for _, r in rows]


def _short(task_id: str) -> str:
    return task_id.split("/")[-1].rsplit("-v", 1)[0]


def _top(scores: Mapping[str, float], k: int = 3) -> str:
    best = sorted(scores.items(), key=lambda kv: -kv[1])[:k]
    return ", ".join(f"{_short(t)} {p:.2f}" for t, p in best)
