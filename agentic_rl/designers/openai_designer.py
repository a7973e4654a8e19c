"""The openai designer: a model behind any OpenAI-compatible chat endpoint writes the rewards.

This module owns the designer's *prompts and parsing*; the conversation itself (retries
under a time budget, ``n`` and image fallbacks, token and cost budgets, the masked
transcript) is :class:`agentic_rl.llm.ChatClient`'s. A request is the system prompt and a
task prompt assembled from ``prompts/task.txt``:

* the task's facts, each stated once (:mod:`.prompt_facts`): goal, success, start and goal
  distributions, labelled success figures, action scales with values, constants, PPO's
  reward normalization and discount, the reward interface with the relevant ``terms``;
* feedback from the person running the loop (``feedback.md`` in the run folder, read
  before every request);
* the memory (:mod:`.prompt_memory`): the all-time best with its full packet, the last
  iteration's other candidates with code, outcome and key packet lines (stopped and
  rejected ones included), a table of everything tried, within ``prompt_tokens``.

With ``vision`` on, images go in as image parts, most informative first: the best packet's
trajectory plot (failed vs successful episodes), an overview render, then the packet's other
plots, each after a caption saying what it shows.

A repair request carries the original request (same system and task prompt, images
included), the rejected answer, and a message that says what happened to the answer (only
the last code block was used, the answer was JSON, ...) and lists every problem the
validator found (:mod:`.answers`).
"""

from __future__ import annotations

import base64
import hashlib
import io
import re
import string
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agentic_rl.designers.answers import repair_notes
from agentic_rl.designers.base import (
    Designer,
    DesignerError,
    best_candidate,
    check_n,
    load_packet,
    scored,
)
from agentic_rl.designers.memory import MEMORY_FILE, DesignMemory
from agentic_rl.designers.prompt_facts import interface_text, task_facts
from agentic_rl.designers.prompt_memory import DEFAULT_MEMORY_TOKENS, Memory, render_memory
from agentic_rl.llm.chat import Answer, ChatClient, ChatError
from agentic_rl.records import IterationRecord, Proposal, Rejection

if TYPE_CHECKING:
    from sims.spec import TaskSpec

#: What each packet plot shows, for its caption (the order is the order they are sent in).
PLOT_CAPTIONS: dict[str, str] = {
    "trajectories": "3-D paths of evaluation episodes of the best policy: failed episodes red "
    "(x marks where they ended), successful ones green (* marks the end), targets as black "
    "diamonds",
    "scene": "the overview camera at the end of the best policy's most common failure",
    "terminations": "how evaluation episodes of the best policy ended (termination reasons), "
    "nominal vs randomized physics",
    "training": "nominal and training success and the task metric over the best candidate's "
    "training steps",
    "term_shares": "each reward term's share of the total reward over the best candidate's "
    "training",
}
#: Longest side of the overview render sent to the model.
OVERVIEW_SIZE = (640, 480)
#: Characters of feedback.md put into a prompt (the newest part is kept).
FEEDBACK_CHARS = 4000


@cache
def prompt_template(name: str) -> string.Template:
    """A prompt file from ``agentic_rl/designers/prompts/`` as a ``$placeholder`` template."""
    text = resources.files("agentic_rl.designers").joinpath("prompts", name).read_text("utf-8")
    return string.Template(text)


class OpenAIDesigner(Designer):
    """Reward designer backed by an OpenAI-compatible chat-completions endpoint.

    Args:
        model, base_url, api_key, timeout, retry_budget_s, max_retries, backoff_base,
            backoff_max, budget_tokens, budget_usd, prices, temperature, max_tokens: as for
            :class:`agentic_rl.llm.ChatClient`.
        vision: attach images (ignored, with a note in the prompt, by text-only endpoints).
        transcript: ``llm_transcript.jsonl`` to append every attempt and proposal list to.
        seed: seeds the retry jitter and the overview render.
        prompt_tokens: token budget of the memory part of a prompt; older detail is dropped
            first, and the prompt says what was dropped.
        max_images: at most this many image parts per request.
        feedback: ``feedback.md`` to read before every request (a person's notes).
    """

    name = "openai"

    def __init__(
        self,
        *,
        model: str | None = None,
        base_url: str | None = None,
        api_key: str | None = None,
        vision: bool = False,
        timeout: float = 60.0,
        retry_budget_s: float = 300.0,
        max_retries: int | None = None,
        backoff_base: float = 1.0,
        backoff_max: float = 60.0,
        budget_tokens: int | None = None,
        budget_usd: float | None = None,
        prices: dict[str, Any] | str | Path | None = None,
        transcript: str | Path | None = None,
        seed: int = 0,
        temperature: float = 0.8,
        max_tokens: int = 4096,
        prompt_tokens: int = DEFAULT_MEMORY_TOKENS,
        max_images: int = 3,
        feedback: str | Path | None = None,
    ) -> None:
        super().__init__(transcript=transcript, seed=seed)
        if prompt_tokens < 500:
            raise DesignerError(
                f"prompt_tokens must be at least 500 (the memory needs room for the best "
                f"candidate), got {prompt_tokens}; set --set designer_options.prompt_tokens=6000"
            )
        if max_images < 0:
            raise DesignerError(
                f"max_images must be >= 0, got {max_images}; set --set designer_options.max_images=3"
            )
        try:
            self.chat = ChatClient(
                model=model,
                base_url=base_url,
                api_key=api_key,
                timeout=timeout,
                retry_budget_s=retry_budget_s,
                max_retries=max_retries,
                backoff_base=backoff_base,
                backoff_max=backoff_max,
                budget_tokens=budget_tokens,
                budget_usd=budget_usd,
                prices=prices,
                transcript=self.transcript,
                seed=seed,
                temperature=temperature,
                max_tokens=max_tokens,
            )
        except ChatError as exc:
            raise DesignerError(str(exc)) from None
        self.model = self.chat.model
        self.base_url = self.chat.base_url
        self.vision = bool(vision)
        self.max_images = int(max_images)
        self.prompt_tokens = int(prompt_tokens)
        self.feedback_path = Path(feedback) if feedback else None
        self._feedback_hash: str | None = None
        # The run's refinement memory, shared with the offline designer, beside the transcript.
        self.memory_path = self.transcript.path.parent / MEMORY_FILE if self.transcript else None
        #: The memory section of the latest prompt (tokens, what was dropped), for reports.
        self.last_memory: Memory | None = None
        self._overview_cache: dict[str, str] = {}

    # ------------------------------------------------------------------ public API
    def propose(self, spec: TaskSpec, history: list[IterationRecord], n: int) -> list[Proposal]:
        """Ask the model for ``n`` reward programs for iteration ``len(history)``."""
        n = check_n(n)
        best = best_candidate(history)
        messages = self.messages(spec, history)
        ctx = {"call": "propose", "task_id": spec.id, "iteration": len(history)}
        answers = self._ask(messages, n, ctx)
        proposals = [self._proposal(a, best.cid if best else None, len(history)) for a in answers]
        self._record_proposals("propose", spec, len(history), n, proposals)
        return proposals

    def repair(
        self,
        spec: TaskSpec,
        proposal: Proposal,
        rejection: Rejection,
        history: list[IterationRecord] | None = None,
        *,
        round: int = 1,
        rounds: int = 1,
        candidate: str | None = None,
    ) -> Proposal:
        """A repair round: the original request, the rejected answer, and a message saying
        what happened to the answer and every problem the validator found."""
        iteration = len(history) if history is not None else proposal.meta.get("iteration")
        notes = repair_notes(
            proposal.response,
            finish_reason=proposal.meta.get("finish_reason"),
            refused=bool(proposal.meta.get("refusal")),
        )
        text = prompt_template("repair.txt").substitute(
            round=round,
            rounds=rounds,
            candidate=candidate or "(this candidate)",
            iteration=iteration if iteration is not None else "?",
            notes="".join(f"{n}\n" for n in notes),
            stage=rejection.stage,
            line=f", line {rejection.line}" if rejection.line is not None else "",
            message=rejection.message,
        )
        messages = [
            *self.messages(spec, history or []),
            {"role": "assistant", "content": proposal.response or "(empty answer)"},
            {"role": "user", "content": text},
        ]
        ctx = {
            "call": "repair",
            "task_id": spec.id,
            "iteration": iteration,
            "candidate": candidate,
            "round": round,
        }
        (answer,) = self._ask(messages, 1, ctx)
        out = self._proposal(answer, proposal.parent, iteration)
        out.meta["repair_of"] = rejection.model_dump()
        out.meta["repair_round"] = round
        self._record_proposals(
            "repair",
            spec,
            int(iteration or 0),
            1,
            [out],
            rejection=rejection.model_dump(),
            candidate=candidate,
            round=round,
        )
        return out

    # ------------------------------------------------------------------ prompts
    def messages(self, spec: TaskSpec, history: list[IterationRecord]) -> list[dict[str, Any]]:
        """The request for iteration ``len(history)``: system prompt and task prompt."""
        return [
            {"role": "system", "content": prompt_template("system.txt").template},
            {"role": "user", "content": self._user_content(spec, history)},
        ]

    def task_text(self, spec: TaskSpec, history: list[IterationRecord]) -> str:
        """The task prompt's text (facts, interface, feedback, memory, instruction)."""
        record = DesignMemory.load(self.memory_path).update(history)
        if self.memory_path is not None:
            record.save(self.memory_path)
        memory = render_memory(history, self.prompt_tokens, record)
        self.last_memory = memory
        instruction = (
            "Write a first reward program for this task."
            if not scored(history) and not history
            else "Write an improved reward program. Compare what was tried: keep what made the "
            "best candidate work, avoid what made the others fail or get stopped, and address "
            "the failures and findings in the best candidate's packet"
            + (" and the feedback above" if self._feedback() else "")
            + "."
        )
        feedback = self._feedback()
        return prompt_template("task.txt").substitute(
            facts=task_facts(spec),
            interface=interface_text(spec),
            feedback=(
                f"\n# Feedback from the person running the loop (feedback.md)\n\n{feedback}\n"
                if feedback
                else ""
            ),
            iteration=len(history),
            memory=memory.text,
            instruction=instruction,
        )

    def _feedback(self) -> str:
        """feedback.md's text (its newest :data:`FEEDBACK_CHARS`), '' if there is none."""
        if self.feedback_path is None:
            return ""
        try:
            text = self.feedback_path.read_text("utf-8").strip()
        except OSError:
            return ""
        if len(text) > FEEDBACK_CHARS:
            text = "[... older feedback cut]\n" + text[-FEEDBACK_CHARS:]
        return text

    def _note_feedback(self, iteration: int) -> None:
        """Record feedback.md in the transcript whenever it changed since the last request."""
        text = self._feedback()
        digest = hashlib.sha256(text.encode()).hexdigest()[:16] if text else None
        if digest != self._feedback_hash and text and self.transcript is not None:
            self.transcript.append(
                {"type": "feedback", "iteration": iteration, "text": text, "sha256": digest}
            )
        self._feedback_hash = digest

    def _user_content(self, spec: TaskSpec, history: list[IterationRecord]) -> Any:
        text = self.task_text(spec, history)
        if not (self.vision and self.max_images > 0):
            return text
        parts: list[dict[str, Any]] = [{"type": "text", "text": text}]
        for caption, url in self._images(spec, history)[: self.max_images]:
            parts.append({"type": "text", "text": f"Image: {caption}."})
            parts.append({"type": "image_url", "image_url": {"url": url}})
        if not self.chat.supports_images:
            parts.append(
                {
                    "type": "text",
                    "text": "(This endpoint takes text only: the images above are "
                    "described by their captions.)",
                }
            )
        return parts

    def _images(self, spec: TaskSpec, history: list[IterationRecord]) -> list[tuple[str, str]]:
        """(caption, data URL), most informative first: the best packet's trajectory plot,
        the overview render, the packet's scene image and other plots."""
        named: dict[str, Path] = {}
        best = best_candidate(history)
        packet = load_packet(best) if best is not None else None
        if packet is not None and best is not None:
            root = Path(best.packet_path or ".")
            root = root if root.is_dir() else root.parent
            paths = dict(packet.plots)
            if packet.scene_image:
                paths["scene"] = packet.scene_image
            for key, path in paths.items():
                p = Path(path)
                p = p if p.is_absolute() or p.exists() else root / p
                if p.is_file():
                    named[key] = p
        out: list[tuple[str, str]] = []
        if "trajectories" in named:
            out.append((self._caption("trajectories", best), _file_url(named.pop("trajectories"))))
        out.append(
            (
                f"{spec.id} at the start of an episode: the whole scene from the overview "
                "camera (left), and the robot and its goal from a camera behind the robot "
                "(right)",
                self._overview(spec),
            )
        )
        for key in PLOT_CAPTIONS:
            if key in named:
                out.append((self._caption(key, best), _file_url(named.pop(key))))
        out += [
            (f"{key} plot of {best.cid if best else 'the best'}", _file_url(p))
            for key, p in named.items()
        ]
        return out

    @staticmethod
    def _caption(key: str, best: Any) -> str:
        text = PLOT_CAPTIONS.get(key, key)
        return f"{text} ({best.cid})" if best is not None else text

    def _overview(self, spec: TaskSpec) -> str:
        """An overview render (overview camera and a chase close-up side by side), cached."""
        if spec.id not in self._overview_cache:
            self._overview_cache[spec.id] = _data_url(overview_png(spec.id, self.seed), ".png")
        return self._overview_cache[spec.id]

    # ------------------------------------------------------------------ calls
    def _ask(self, messages: list[dict[str, Any]], n: int, ctx: dict[str, Any]) -> list[Answer]:
        if ctx.get("call") == "propose":
            self._note_feedback(int(ctx.get("iteration") or 0))
        try:
            answers = self.chat.complete(messages, n, context={"designer": self.name, **ctx})
        except ChatError as exc:
            raise DesignerError(str(exc)) from None
        finally:
            self.usage = self.chat.usage
        return answers

    def _proposal(self, a: Answer, parent: str | None, iteration: int | None) -> Proposal:
        return Proposal(
            response=a.text,
            rationale=_rationale(a.text, a.refused),
            designer=self.name,
            usage=a.usage,
            parent=parent,
            meta={
                "model": self.model,
                "finish_reason": a.finish_reason,
                "refusal": a.refused,
                "transcript_seq": a.seq,
                "choice": a.choice,
                "iteration": iteration,
            },
        )


# ---------------------------------------------------------------------- helpers
def overview_png(task_id: str, seed: int = 0) -> bytes:
    """PNG of the task at the start of a seeded episode: the overview camera (the whole
    scene) beside the task's follow camera, which stands behind the robot and aims between
    it and its goal (from the spec's declared position and goal), so a 10 cm drone and its
    target are clearly visible."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    import sims

    w, h = OVERVIEW_SIZE
    env = sims.make(task_id, render_mode="rgb_array", render_size=(w, h))
    try:
        env.reset(seed=seed)
        overview = env.unwrapped.scene_image(w, h)
        close = env.render()
    finally:
        env.close()
    panels = [("overview camera: the whole scene", overview)]
    if close is not None:
        panels.append(("behind the robot, looking toward its goal", close))
    fig = Figure(figsize=(4.6 * len(panels), 3.8), dpi=100)
    for k, (title, img) in enumerate(panels):
        ax = fig.add_subplot(1, len(panels), k + 1)
        ax.imshow(img)
        ax.set_title(title, fontsize=10)
        ax.axis("off")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def _file_url(path: Path) -> str:
    return _data_url(path.read_bytes(), path.suffix)


def _data_url(data: bytes, suffix: str) -> str:
    mime = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif"}.get(
        suffix.lower(), "image/png"
    )
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


_FENCE = re.compile(r"(```|~~~).*?(\1|\Z)", re.S)


def _rationale(text: str, refused: bool) -> str:
    """The prose around the code, shortened: the model's own account of its changes."""
    prose = " ".join(_FENCE.sub(" ", text).split())
    if refused:
        return f"model refused: {prose[:300]}"
    return prose[:500]
