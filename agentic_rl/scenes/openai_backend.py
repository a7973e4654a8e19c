"""The openai backend: a multimodal model chooses the policy, the library checks the answer.

The model gets the instruction, the scene image (as an image part) and one task card per
library policy, and answers in JSON. Whatever it says is validated against the library before
it becomes a ``Selection`` (the shared type, ``ros_bridge.scene_types``): a name that is not a library policy, a
malformed answer or a low confidence all become an "unsure" verdict, never a guess.

The conversation is :class:`agentic_rl.llm.ChatClient`'s (the same one the reward designer
uses): retries with backoff under a time budget, token/cost budgets, usage and the redacted
transcript. This module owns only the prompt and the parsing of the answer.
"""

from __future__ import annotations

import inspect
import io
import json
import re
import time
from typing import Any

import numpy as np

from agentic_rl.export.scenes import Ranked, Selection, Thresholds, as_rgb
from agentic_rl.library import Library
from agentic_rl.llm.chat import BudgetExceeded, ChatClient, ChatError
from agentic_rl.scenes.base import Selector, SelectorError

SYSTEM_PROMPT = """\
You choose which trained robot policy to run. You get an operator's instruction, a camera image
of the scene (when there is one) and one card per available policy. Pick the policy whose task
matches the scene and the instruction. If none fits, or the image and the instruction disagree,
do not guess: answer unsure.

Answer with one JSON object and nothing else:
{"choice": "<policy name from the cards, or null>",
 "scores": {"<policy name>": <probability 0..1>, ...},
 "unsure": <true|false>,
 "reason": "<one sentence>"}
"""
#: Longest side of the image sent to the model (enough to see gates, walls and markers).
MAX_IMAGE_SIDE = 512


#: How the selector talks to the model: deterministic, short answers, a quick give-up (a
#: person is waiting); the caller's options override any of these.
CHAT_DEFAULTS: dict[str, Any] = {
    "timeout": 60.0,
    "max_retries": 2,
    "retry_budget_s": 60.0,
    "temperature": 0.0,
    "max_tokens": 400,
    "option_hint": "the OpenAISelector option ",
}


class OpenAISelector(Selector):
    """Policy selection by a multimodal model behind an OpenAI-compatible endpoint.

    Args:
        library: the policies to choose from.
        thresholds: ``min_confidence`` and ``min_margin`` apply to the model's scores too.
        **chat_options: :class:`agentic_rl.llm.ChatClient`'s options (``model``,
            ``base_url``, ``api_key``, ``timeout``, ``max_retries``, ``retry_budget_s``,
            ``budget_tokens``, ``budget_usd``, ``transcript`` ...; ``OPENAI_*`` environment
            defaults) over :data:`CHAT_DEFAULTS`.

    Raises:
        SelectorError: for an option ChatClient does not have, or an endpoint it cannot use.
    """

    name = "openai"

    def __init__(
        self, library: Library, *, thresholds: Thresholds | None = None, **chat_options: Any
    ) -> None:
        super().__init__(library)
        self.thresholds = thresholds or Thresholds()
        self.entries = {e.name: e for e in library.entries()}
        known = inspect.signature(ChatClient).parameters
        unknown = sorted(set(chat_options) - set(known))
        if unknown:
            raise SelectorError(
                f"the openai selector has no option {', '.join(unknown)}; it takes "
                + ", ".join(k for k in known if k != "option_hint")
            )
        try:
            self.chat = ChatClient(**{**CHAT_DEFAULTS, **chat_options})
        except ChatError as exc:
            raise SelectorError(str(exc)) from None

    def messages(self, image: np.ndarray | None, sentence: str | None) -> list[dict[str, Any]]:
        """The chat request: system prompt, then the cards, the instruction and the image."""
        cards = "\n\n".join(e.card_text() for e in self.entries.values())
        text = (
            f"Available policies:\n\n{cards}\n\n"
            f"Instruction: {sentence.strip() if sentence and sentence.strip() else '(none)'}\n"
            f"Scene image: {'attached' if image is not None else '(none)'}"
        )
        content: list[dict[str, Any]] = [{"type": "text", "text": text}]
        if image is not None:
            content.append({"type": "image_url", "image_url": {"url": _png_data_url(image)}})
        return [
            {"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": content},
        ]

    def select(self, image: np.ndarray | None = None, sentence: str | None = None) -> Selection:
        if image is None and not (sentence and sentence.strip()):
            raise ValueError("give a scene image, an instruction sentence, or both")
        start = time.perf_counter()
        try:
            answers = self.chat.complete(
                self.messages(image, sentence), 1, context={"call": "select"}
            )
        except (ChatError, BudgetExceeded) as exc:
            raise SelectorError(str(exc)) from None
        text = answers[0].text if answers else ""
        sel = self.validate(text)
        sel.elapsed_ms = (time.perf_counter() - start) * 1e3
        return sel

    def validate(self, text: str) -> Selection:
        """Turn the model's answer into a Selection, trusting only what the library confirms."""
        names = list(self.entries)
        reasons: list[str] = []
        answer = _json_object(text)
        if answer is None:
            return self._unsure(
                {}, [f"unsure: the model's answer is not the JSON asked for: {text[:200]!r}"]
            )
        raw_scores = answer.get("scores") if isinstance(answer.get("scores"), dict) else {}
        scores: dict[str, float] = {}
        for key, value in raw_scores.items():
            name = self._resolve(str(key))
            if name is None:
                reasons.append(f"ignored a score for {key!r}: no such policy in the library")
                continue
            try:
                scores[name] = max(scores.get(name, 0.0), min(1.0, max(0.0, float(value))))
            except (TypeError, ValueError):
                reasons.append(f"ignored a non-numeric score for {key!r}")
        raw_choice = answer.get("choice")
        choice = self._resolve(str(raw_choice)) if raw_choice not in (None, "", "null") else None
        why = str(answer.get("reason") or "").strip()
        if why:
            reasons.insert(0, f"model: {why}")
        if raw_choice not in (None, "", "null") and choice is None:
            reasons.append(
                f"unsure: the model chose {raw_choice!r}, which is not in the library {names}"
            )
            return self._unsure(scores, reasons)
        if choice is not None and choice not in scores:
            scores[choice] = 1.0  # a choice without scores: the model's full confidence
        total = sum(scores.values())
        probs = {n: scores.get(n, 0.0) / total if total > 0 else 0.0 for n in names}
        if answer.get("unsure") is True or choice is None:
            reasons.append("unsure: the model declined to choose")
            return self._unsure(probs, reasons)
        ranked = sorted(probs.values(), reverse=True)
        top = probs[choice]
        second = ranked[1] if len(ranked) > 1 else 0.0
        th = self.thresholds
        if top < th.min_confidence or top - second < th.min_margin:
            reasons.append(
                f"unsure: the model's score for {choice} is {top:.2f} (runner-up {second:.2f})"
            )
            return self._unsure(probs, reasons)
        reasons.append(f"chose {choice} ({self.entries[choice].task_id}, score {top:.2f})")
        return Selection(
            choice=choice,
            unsure=False,
            ranking=self._ranking(probs, first=choice),
            task_scores=self._task_scores(probs),
            reasons=reasons,
            backend=self.name,
        )

    # ------------------------------------------------------------------ helpers
    def _resolve(self, key: str) -> str | None:
        """A library entry name for the model's word: the name itself, or a task id (or its
        short form) that exactly one entry has."""
        if key in self.entries:
            return key
        folded = {n.lower(): n for n in self.entries}
        if key.lower() in folded:
            return folded[key.lower()]
        by_task = [
            n
            for n, e in self.entries.items()
            if key
            in (e.task_id, e.task_id.split("/")[-1], e.task_id.split("/")[-1].rsplit("-v", 1)[0])
        ]
        return by_task[0] if len(by_task) == 1 else None

    def _ranking(self, probs: dict[str, float], first: str | None = None) -> list[Ranked]:
        order = sorted(
            self.entries,
            key=lambda n: (n == first, probs.get(n, 0.0), self.entries[n].quality),
            reverse=True,
        )
        return [
            Ranked(name=n, task_id=self.entries[n].task_id, score=float(probs.get(n, 0.0)))
            for n in order
        ]

    def _task_scores(self, probs: dict[str, float]) -> dict[str, float]:
        out: dict[str, float] = {}
        for n, e in self.entries.items():
            out[e.task_id] = out.get(e.task_id, 0.0) + probs.get(n, 0.0)
        return out

    def _unsure(self, probs: dict[str, float], reasons: list[str]) -> Selection:
        return Selection(
            choice=None,
            unsure=True,
            ranking=self._ranking(probs),
            task_scores=self._task_scores(probs),
            reasons=reasons,
            backend=self.name,
        )


def _json_object(text: str) -> dict[str, Any] | None:
    """The first JSON object in a model answer (bare, or inside a ``` fence)."""
    fenced = re.search(r"```(?:json)?\s*(\{.*?\})\s*```", text, re.S)
    candidates = [fenced.group(1)] if fenced else []
    start, end = text.find("{"), text.rfind("}")
    if start != -1 and end > start:
        candidates.append(text[start : end + 1])
    for c in candidates:
        try:
            obj = json.loads(c)
        except json.JSONDecodeError:
            continue
        if isinstance(obj, dict):
            return obj
    return None


def _png_data_url(image: np.ndarray) -> str:
    import base64

    from PIL import Image

    im = Image.fromarray(as_rgb(image))
    im.thumbnail((MAX_IMAGE_SIDE, MAX_IMAGE_SIDE))
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()
