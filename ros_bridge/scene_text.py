"""Instruction text against task descriptions: TF-IDF cosine similarity with a light stemmer,
stop words and a synonym table for robot-task words (numpy only)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

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
