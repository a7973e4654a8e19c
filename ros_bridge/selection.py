"""Scenario selection with numpy only: which library policy fits a camera image and a sentence.

This is the inference half of the offline selector (the training half, with torch, lives in
``agentic_rl.selector``). It runs unchanged in ``agentic-rl select`` and on the robot, where it
is vendored into the generated ROS package, so both give the same scores for the same inputs:

* :func:`resize_area` / :func:`to_input`: any RGB image -> the classifier's square input, by
  exact area averaging (training images go through the same function);
* :class:`SceneNet`: a small CNN (3x3 convolutions, ReLU, 2x2 max pooling, global max+mean
  pooling, linear),
  evaluated with numpy from the weights ``agentic-rl library train-selector`` wrote;
* :class:`TextMatcher`: TF-IDF cosine similarity between an instruction and each policy's
  task description, with a light stemmer and a synonym table for robot-task words;
* :class:`SceneSelector`: combines both into a posterior over tasks (a product of experts),
  ranks the library's policies and says "unsure" instead of guessing.

A selector folder holds ``selector.json`` (classes, input size, thresholds, text index,
policies) and ``classifier.npz`` (the CNN's weights).
"""

from __future__ import annotations

import contextlib
import json
import math
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

SELECTOR_FORMAT = "agentic-rl/scene-selector"
SELECTOR_VERSION = 1
#: Class label of "none of the library's scenes" (trained on synthetic non-scene images).
NONE_CLASS = "none"
#: Per-channel normalization of the classifier input (images are in [0, 1]).
INPUT_MEAN, INPUT_STD = 0.5, 0.25


class SelectorFileError(ValueError):
    """A selector folder that is missing, incomplete or of an unknown format."""


# ---------------------------------------------------------------------------------- images
def _resize_axis(a: np.ndarray, n_out: int, axis: int) -> np.ndarray:
    """Area-average ``a`` along ``axis`` to ``n_out`` samples: output ``i`` is the mean of the
    input over [i, i + 1) * n_in / n_out, pixels weighted by their overlap. Exact, O(n), from
    the running sum evaluated at the fractional edges."""
    n_in = a.shape[axis]
    shape = list(a.shape)
    shape[axis] = 1
    cs = np.concatenate([np.zeros(shape, np.float64), np.cumsum(a, axis, dtype=np.float64)], axis)
    edges = np.linspace(0.0, n_in, n_out + 1)
    lo = np.minimum(np.floor(edges).astype(np.intp), n_in - 1)
    frac = (edges - lo).reshape([-1 if d == axis else 1 for d in range(a.ndim)])
    c0, c1 = np.take(cs, lo, axis), np.take(cs, lo + 1, axis)
    integral = c0 + frac * (c1 - c0)  # running sum at each edge (linear inside a pixel)
    upper = np.take(integral, np.arange(1, n_out + 1), axis)
    lower = np.take(integral, np.arange(n_out), axis)
    return (upper - lower) * (n_out / n_in)


def resize_area(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """Resize an (H, W, C) image by area averaging; returns float32 in the input's scale."""
    img = np.asarray(image, np.float32)
    return _resize_axis(_resize_axis(img, height, 0), width, 1).astype(np.float32)


def as_rgb(image: np.ndarray) -> np.ndarray:
    """An (H, W, 3) uint8 RGB view of a grey, RGB or RGBA image (uint8 or floats in [0, 1]).

    Raises:
        ValueError: for shapes that are not an image.
    """
    img = np.asarray(image)
    if img.ndim == 2:
        img = np.repeat(img[:, :, None], 3, axis=2)
    if img.ndim != 3 or img.shape[2] not in (1, 3, 4) or min(img.shape[:2]) < 2:
        raise ValueError(
            f"expected an image of shape (H, W), (H, W, 3) or (H, W, 4), got {img.shape}"
        )
    if img.shape[2] == 1:
        img = np.repeat(img, 3, axis=2)
    img = img[:, :, :3]
    if img.dtype != np.uint8:
        img = np.clip(np.round(np.asarray(img, np.float64) * 255.0), 0, 255).astype(np.uint8)
    return img


def to_input(image: np.ndarray, size: int) -> np.ndarray:
    """The classifier input for one image: (3, size, size) float32, normalized."""
    rgb = resize_area(as_rgb(image), size, size) / 255.0
    return ((rgb - INPUT_MEAN) / INPUT_STD).transpose(2, 0, 1).astype(np.float32)


_CHANNELS = {"rgb8": (3, (0, 1, 2)), "bgr8": (3, (2, 1, 0)), "rgba8": (4, (0, 1, 2))}
_CHANNELS.update({"bgra8": (4, (2, 1, 0)), "mono8": (1, (0, 0, 0))})


def image_from_msg(msg: Any) -> np.ndarray:
    """An (H, W, 3) uint8 RGB array from a ``sensor_msgs/Image`` (rclpy or rosbags).

    Raises:
        ValueError: for an encoding other than rgb8, bgr8, rgba8, bgra8 or mono8, or a data
            length that does not match height x step.
    """
    enc = str(msg.encoding).lower()
    if enc not in _CHANNELS:
        raise ValueError(
            f"image encoding {msg.encoding!r} is not supported; publish one of "
            f"{sorted(_CHANNELS)} (e.g. through image_proc or a republish node)"
        )
    ch, order = _CHANNELS[enc]
    h, w, step = int(msg.height), int(msg.width), int(msg.step)
    data = np.frombuffer(bytes(msg.data), np.uint8)
    if step < w * ch or data.size < h * step:
        raise ValueError(
            f"image data has {data.size} bytes; {h} rows x step {step} (width {w} x {ch} "
            "channels) do not fit"
        )
    rows = data[: h * step].reshape(h, step)[:, : w * ch].reshape(h, w, ch)
    return np.ascontiguousarray(rows[:, :, list(order)])


# ---------------------------------------------------------------------------------- classifier
class SceneNet:
    """The scene classifier evaluated with numpy (the torch twin is in ``agentic_rl.selector``).

    Args:
        weights: ``conv{i}.weight`` (out, in, 3, 3), ``conv{i}.bias``, ``fc.weight``
            (classes, 2 x channels), ``fc.bias``.
        layers: (stride, pool) of each convolution: padding is always 1, and ``pool`` > 1
            max-pools the ReLU output over ``pool`` x ``pool`` blocks.
    """

    def __init__(self, weights: Mapping[str, np.ndarray], layers: Sequence[Sequence[int]]) -> None:
        self.convs = [
            (
                np.asarray(weights[f"conv{i}.weight"], np.float32),
                np.asarray(weights[f"conv{i}.bias"], np.float32),
                int(stride),
                int(pool),
            )
            for i, (stride, pool) in enumerate(layers)
        ]
        self.fc_w = np.asarray(weights["fc.weight"], np.float32)
        self.fc_b = np.asarray(weights["fc.bias"], np.float32)

    def logits(self, x: np.ndarray) -> np.ndarray:
        """Class logits for a batch (N, 3, S, S) or one image (3, S, S)."""
        with _one_blas_thread():
            return self._logits(x)

    def _logits(self, x: np.ndarray) -> np.ndarray:
        single = x.ndim == 3
        h = np.asarray(x, np.float32)[None] if single else np.asarray(x, np.float32)
        h = np.ascontiguousarray(h.transpose(0, 2, 3, 1))  # NHWC: channels last for im2col
        for w, b, s, pool in self.convs:
            n = h.shape[0]
            padded = np.pad(h, ((0, 0), (1, 1), (1, 1), (0, 0)))
            # im2col: (N, H', W', C, 3, 3) windows at the stride -> rows of C*9, one BLAS
            # matrix product with the kernels (an einsum over the 6-D view is ~5x slower)
            win = np.lib.stride_tricks.sliding_window_view(padded, (3, 3), axis=(1, 2))
            win = win[:, ::s, ::s]
            hh, ww = win.shape[1], win.shape[2]
            cols = win.reshape(n * hh * ww, -1)
            h = (cols @ w.reshape(w.shape[0], -1).T + b).reshape(n, hh, ww, w.shape[0])
            np.maximum(h, 0.0, out=h)
            if pool > 1:  # floor division of odd sizes, as torch's max_pool2d does
                hh, ww = hh // pool * pool, ww // pool * pool
                h = h[:, :hh, :ww].reshape(n, hh // pool, pool, ww // pool, pool, -1)
                h = h.max(axis=(2, 4))
        pooled = np.concatenate([h.max(axis=(1, 2)), h.mean(axis=(1, 2))], axis=1)
        out = pooled @ self.fc_w.T + self.fc_b
        return out[0] if single else out


_BLAS: list[Any] = []


def _one_blas_thread() -> Any:
    """A context in which numpy's BLAS uses one thread (threadpoolctl, when installed).

    The products here are small: on a busy machine a multi-threaded BLAS spends more time
    waiting for its threads to get a core than computing (3x the latency, measured)."""
    if not _BLAS:
        try:
            from threadpoolctl import ThreadpoolController

            _BLAS.append(ThreadpoolController())
        except ImportError:  # the robot may not have it: numpy's default threading then
            _BLAS.append(None)
    ctl = _BLAS[0]
    return ctl.limit(limits=1, user_api="blas") if ctl is not None else contextlib.nullcontext()


def softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - np.max(z, axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


# ---------------------------------------------------------------------------------- text
_STOP = frozenset(
    [
        "a",
        "an",
        "the",
        "and",
        "or",
        "of",
        "to",
        "in",
        "on",
        "at",
        "by",
        "for",
        "from",
        "with",
        "without",
        "into",
        "onto",
        "over",
        "under",
        "then",
        "than",
        "it",
        "its",
        "is",
        "are",
        "be",
        "been",
        "this",
        "that",
        "these",
        "those",
        "there",
        "here",
        "as",
        "up",
        "down",
        "off",
        "out",
        "please",
        "now",
        "can",
        "could",
        "would",
        "should",
        "will",
        "let",
        "lets",
        "me",
        "my",
        "i",
        "you",
        "your",
        "we",
        "our",
        "us",
        "do",
        "does",
        "go",
        "get",
        "make",
        "some",
        "any",
        "each",
        "every",
        "all",
        "one",
        "two",
        "three",
        "four",
        "five",
        "six",
        "seven",
        "eight",
        "nine",
        "ten",
        "m",
        "s",
    ]
)
#: Robot-task words people say -> the words task descriptions use (after stemming).
SYNONYMS: dict[str, str] = {
    "hoop": "gate",
    "ring": "gate",
    "arch": "gate",
    "portal": "gate",
    "gateway": "gate",
    "doorway": "gate",
    "window": "gate",
    "column": "pillar",
    "pole": "pillar",
    "post": "pillar",
    "tree": "pillar",
    "forest": "pillar",
    "obstacl": "pillar",
    "clutter": "pillar",
    "avoid": "pillar",
    "dodg": "pillar",
    "slalom": "pillar",
    "barrier": "wall",
    "fence": "wall",
    "touchdown": "land",
    "landing": "land",
    "platform": "pad",
    "helipad": "pad",
    "perch": "land",
    "hold": "hover",
    "hoveri": "hover",
    "station": "hover",
    "loiter": "hover",
    "stay": "hover",
    "still": "hover",
    "steady": "hover",
    "circl": "orbit",
    "revolv": "orbit",
    "rotat": "orbit",
    "around": "orbit",
    "encircl": "orbit",
    "track": "follow",
    "trac": "follow",
    "path": "trajectory",
    "rout": "trajectory",
    "lap": "trajectory",
    "loop": "trajectory",
    "eight": "figure",
    "lemniscat": "figure",
    "climb": "over",
    "launch": "take",
    "takeoff": "take",
    "liftoff": "take",
    "grab": "pick",
    "grasp": "pick",
    "lift": "pick",
    "shove": "push",
    "nudg": "push",
    "touch": "reach",
}
_WORD = re.compile(r"[a-z]+|\d+(?:\.\d+)?")


def stem(word: str) -> str:
    """A light suffix stripper: enough to meet 'gates'/'gate', 'landing'/'land', 'flies'/'fly'."""
    w = word
    for suffix, repl in (
        ("ies", "y"),
        ("sses", "ss"),
        ("ing", ""),
        ("ed", ""),
        ("es", ""),
        ("s", ""),
    ):
        if w.endswith(suffix) and len(w) - len(suffix) >= 3:
            w = w[: len(w) - len(suffix)] + repl
            break
    if w.endswith("e") and len(w) > 4:
        w = w[:-1]
    return w


def tokens(text: str) -> list[str]:
    """Stemmed content words of a text, synonyms mapped to the description vocabulary.

    CamelCase identifiers (task ids like ``DroneWallLanding``) are split into words.
    """
    text = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", text)
    out = []
    for raw in _WORD.findall(text.lower()):
        if raw in _STOP or raw.replace(".", "").isdigit():
            continue
        s = stem(raw)
        out.append(SYNONYMS.get(s, SYNONYMS.get(raw, s)))
    return out


@dataclass
class TextMatcher:
    """TF-IDF cosine similarity between an instruction and one document per key.

    Build with :meth:`build`; persisted as a plain dict (:meth:`to_dict`, :meth:`from_dict`).
    """

    vocab: dict[str, int]
    idf: np.ndarray
    keys: list[str]
    vectors: np.ndarray  # (keys, vocab), rows L2-normalized

    @classmethod
    def build(cls, documents: Mapping[str, str]) -> TextMatcher:
        """Index one document per key (e.g. a policy's task id, description and notes)."""
        keys = list(documents)
        docs = [tokens(documents[k]) for k in keys]
        vocab = {w: i for i, w in enumerate(sorted({w for d in docs for w in d}))}
        df = np.zeros(len(vocab))
        for d in docs:
            for w in set(d):
                df[vocab[w]] += 1
        # smoothed idf: a word in every document still counts a little
        idf = np.log((1.0 + len(docs)) / (1.0 + df)) + 1.0
        vectors = np.stack([cls._vector(d, vocab, idf) for d in docs]) if docs else np.zeros((0, 0))
        return cls(vocab, idf, keys, vectors)

    @staticmethod
    def _vector(words: list[str], vocab: Mapping[str, int], idf: np.ndarray) -> np.ndarray:
        v = np.zeros(len(vocab))
        for w in words:
            if w in vocab:
                v[vocab[w]] += 1.0
        v = np.where(v > 0, 1.0 + np.log(np.maximum(v, 1.0)), 0.0) * idf
        n = np.linalg.norm(v)
        return v / n if n > 0 else v

    def scores(self, sentence: str) -> tuple[np.ndarray, dict[str, list[str]]]:
        """(cosine similarity per key in [0, 1], the query words each key's document shares)."""
        words = tokens(sentence)
        q = self._vector(words, self.vocab, self.idf)
        sims = self.vectors @ q if self.vectors.size else np.zeros(len(self.keys))
        matched = {
            k: sorted({w for w in words if w in self.vocab and self.vectors[i, self.vocab[w]] > 0})
            for i, k in enumerate(self.keys)
        }
        return np.clip(sims, 0.0, 1.0), matched

    def to_dict(self) -> dict[str, Any]:
        return {
            "vocab": sorted(self.vocab, key=self.vocab.__getitem__),
            "idf": self.idf.tolist(),
            "keys": self.keys,
            "vectors": self.vectors.tolist(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TextMatcher:
        vocab = {w: i for i, w in enumerate(data["vocab"])}
        vectors = np.asarray(data["vectors"], np.float64).reshape(len(data["keys"]), len(vocab))
        return cls(vocab, np.asarray(data["idf"], np.float64), list(data["keys"]), vectors)


# ---------------------------------------------------------------------------------- selection
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


class SceneSelector:
    """Offline selection: the CNN over the image and the text matcher over the sentence.

    Args:
        net: the scene classifier.
        classes: its class labels (task ids, plus :data:`NONE_CLASS`).
        input_size: side of the square classifier input.
        cards: the selectable policies.
        thresholds: when to answer "unsure".
    """

    def __init__(
        self,
        net: SceneNet | None,
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


# ---------------------------------------------------------------------------------- files
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


__all__ = [
    "NONE_CLASS",
    "SELECTOR_FORMAT",
    "SELECTOR_VERSION",
    "PolicyCard",
    "Ranked",
    "SceneNet",
    "SceneSelector",
    "Selection",
    "SelectorFileError",
    "TextMatcher",
    "Thresholds",
    "as_rgb",
    "image_from_msg",
    "load_selector",
    "resize_area",
    "to_input",
    "tokens",
]
