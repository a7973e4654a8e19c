"""The openai designer: a model behind any OpenAI-compatible chat endpoint writes the rewards.

It uses the official ``openai`` client (imported when the designer is built, not at package
import) against OpenAI, Azure, vLLM, Ollama or a llama.cpp server (``base_url``). Each call
sends the system prompt and a task prompt built from text files in ``prompts/``: the task spec
(description, success, state fields with units and frames, action, constants), the best
reward so far with its diagnosis-packet text, and the rejection messages of failed candidates.
With ``vision`` on, the scene image and the packet's plots go in as image parts.

Robustness, in the client's stead (it is built with ``max_retries=0``):

* retries on 429, 5xx, timeouts, dropped connections and unparsable bodies, with exponential
  backoff and jitter; a ``Retry-After`` (or ``retry-after-ms``) header is honoured;
* ``n`` candidates per call, falling back to further calls when the endpoint returns fewer
  choices (llama.cpp and some proxies ignore ``n``) or refuses ``n`` outright;
* token and cost accounting per call, and budgets checked *before* each call
  (:class:`BudgetExceeded`);
* every attempt, failed or not, is appended to the transcript with the secrets removed;
* bad setup (no key, a malformed or unreachable base URL, an unknown model, a zero budget)
  raises :class:`DesignerError` with one line saying what to set.
"""

from __future__ import annotations

import base64
import email.utils
import io
import os
import random
import re
import string
import time
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from agentic_rl.designers.base import (
    BudgetExceeded,
    Designer,
    DesignerError,
    best_candidate,
    check_n,
    load_packet,
    packet_text,
    rejected,
    scored,
)
from agentic_rl.designers.pricing import PriceTable
from agentic_rl.records import IterationRecord, Proposal, Rejection, Usage

if TYPE_CHECKING:
    from sims.spec import TaskSpec

DEFAULT_BASE_URL = "https://api.openai.com/v1"
DEFAULT_MODEL = "gpt-4o-mini"
#: Rough prompt-token cost of one image part, for budget estimates (OpenAI's 512x512 tile
#: plus base cost is 255 tokens; a full-detail plot can be several tiles).
IMAGE_TOKENS_ESTIMATE = 800
#: Characters per token, the usual approximation for English and code.
CHARS_PER_TOKEN = 4


@cache
def prompt_template(name: str) -> string.Template:
    """A prompt file from ``agentic_rl/designers/prompts/`` as a ``$placeholder`` template."""
    text = resources.files("agentic_rl.designers").joinpath("prompts", name).read_text("utf-8")
    return string.Template(text)


def _import_openai() -> Any:
    try:
        import openai
    except ImportError:
        raise DesignerError(
            "the openai designer needs the openai package: pip install 'agentic-rl[openai]'"
        ) from None
    return openai


class OpenAIDesigner(Designer):
    """Reward designer backed by an OpenAI-compatible chat-completions endpoint.

    Args:
        model: model name the endpoint serves (default ``$OPENAI_MODEL`` or gpt-4o-mini).
        base_url: endpoint root, e.g. ``http://localhost:8000/v1`` (default
            ``$OPENAI_BASE_URL`` or OpenAI's).
        api_key: default ``$OPENAI_API_KEY``; any non-empty value for servers without auth.
        vision: attach the scene image and the packet plots as image parts.
        timeout: seconds per request.
        max_retries: retries after the first attempt on 429/5xx/timeouts/bad bodies.
        budget_tokens: stop (:class:`BudgetExceeded`) before a call that could take the
            total past this many tokens; ``None`` for no limit.
        budget_usd: the same in US dollars (needs a price for the model).
        prices: price overrides: a mapping or a JSON file (see :mod:`.pricing`).
        transcript: ``llm_transcript.jsonl`` to append every attempt and proposal list to.
        seed: seeds the retry jitter.
        temperature: sampling temperature.
        max_tokens: completion token limit per choice.
        packet_chars: the best candidate's packet text is cut to this many characters.
        max_images: at most this many image parts per request.
        backoff_base: first retry delay in seconds (doubled per retry).
        backoff_max: longest computed backoff in seconds (a longer Retry-After still wins).
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
        max_retries: int = 4,
        budget_tokens: int | None = None,
        budget_usd: float | None = None,
        prices: dict[str, Any] | str | Path | None = None,
        transcript: str | Path | None = None,
        seed: int = 0,
        temperature: float = 0.8,
        max_tokens: int = 4096,
        packet_chars: int = 12_000,
        max_images: int = 4,
        backoff_base: float = 1.0,
        backoff_max: float = 30.0,
    ) -> None:
        super().__init__(transcript=transcript, seed=seed)
        self.api_key = api_key or os.environ.get("OPENAI_API_KEY") or ""
        if not self.api_key.strip():
            raise DesignerError(
                "no API key: set OPENAI_API_KEY (a local server without auth accepts any "
                "value, e.g. OPENAI_API_KEY=local)"
            )
        self.base_url = (base_url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL).rstrip(
            "/"
        )
        parsed = urlparse(self.base_url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise DesignerError(
                f"base URL {self.base_url!r} is not an http(s) URL; set --base-url like "
                "http://localhost:8000/v1 or https://api.openai.com/v1"
            )
        self.model = model or os.environ.get("OPENAI_MODEL") or DEFAULT_MODEL
        for label, value in (("budget_tokens", budget_tokens), ("budget_usd", budget_usd)):
            if value is not None and not value > 0:
                raise DesignerError(
                    f"{label} is {value}, so no model call could be made; set --{label.replace('_', '-')} "
                    "to a positive number, or leave it unset for no limit"
                )
        if timeout is None or not timeout > 0:
            raise DesignerError(
                f"timeout must be > 0 seconds, got {timeout}; set designer_options.timeout"
            )
        if max_retries < 0:
            raise DesignerError(
                f"max_retries must be >= 0, got {max_retries}; set designer_options.max_retries"
            )
        try:
            self.prices = PriceTable(prices)
            if budget_usd is not None:
                self.prices.require(self.model)
        except ValueError as exc:
            raise DesignerError(str(exc)) from None
        self.vision = bool(vision)
        self.timeout = float(timeout)
        self.max_retries = int(max_retries)
        self.budget_tokens = budget_tokens
        self.budget_usd = budget_usd
        self.temperature = float(temperature)
        self.max_tokens = int(max_tokens)
        self.packet_chars = int(packet_chars)
        self.max_images = int(max_images)
        self.backoff_base = float(backoff_base)
        self.backoff_max = float(backoff_max)
        self._rng = random.Random(f"openai-jitter:{seed}")
        self._supports_n = True
        self._completion_per_choice: int | None = None
        self._scene_cache: dict[str, str] = {}
        if self.transcript is not None:
            self.transcript.add_secret(self.api_key)
        self._openai = _import_openai()
        self.client = self._openai.OpenAI(
            base_url=self.base_url, api_key=self.api_key, timeout=self.timeout, max_retries=0
        )

    # ------------------------------------------------------------------ public API
    def propose(self, spec: TaskSpec, history: list[IterationRecord], n: int) -> list[Proposal]:
        """Ask the model for ``n`` reward programs for iteration ``len(history)``."""
        n = check_n(n)
        best = best_candidate(history)
        user = self._user_content(spec, history)
        messages = [
            {"role": "system", "content": prompt_template("system.txt").template},
            {"role": "user", "content": user},
        ]
        ctx = {"call": "propose", "task_id": spec.id, "iteration": len(history)}
        proposals: list[Proposal] = []
        for _ in range(n + 2):  # fewer choices than asked: ask again, a few times at most
            want = n - len(proposals)
            if want <= 0:
                break
            proposals += self._complete(messages, want, ctx, parent=best.cid if best else None)
        if len(proposals) < n:
            raise DesignerError(
                f"the endpoint at {self.base_url} returned {len(proposals)} of {n} answers after "
                f"{n + 2} calls; check that model {self.model!r} answers chat completions"
            )
        proposals = proposals[:n]
        self._record_proposals("propose", spec, len(history), n, proposals)
        return proposals

    def repair(self, spec: TaskSpec, proposal: Proposal, rejection: Rejection) -> Proposal:
        """One repair round: the model sees its rejected answer and the pipeline's message."""
        line = f", line {rejection.line}" if rejection.line is not None else ""
        repair_text = prompt_template("repair.txt").substitute(
            stage=rejection.stage, line=line, message=rejection.message
        )
        messages = [
            {"role": "system", "content": prompt_template("system.txt").template},
            {"role": "user", "content": self._task_text(spec, [], repair=True)},
            {"role": "assistant", "content": proposal.response},
            {"role": "user", "content": repair_text},
        ]
        ctx = {"call": "repair", "task_id": spec.id, "iteration": proposal.meta.get("iteration")}
        fixed = self._complete(messages, 1, ctx, parent=proposal.parent)
        if not fixed:
            raise DesignerError(
                f"the endpoint at {self.base_url} returned no answer to the repair request"
            )
        out = fixed[0].model_copy(
            update={"meta": {**fixed[0].meta, "repair_of": rejection.model_dump()}}
        )
        self._record_proposals(
            "repair",
            spec,
            int(proposal.meta.get("iteration") or 0),
            1,
            [out],
            rejection=rejection.model_dump(),
        )
        return out

    # ------------------------------------------------------------------ prompts
    def _task_text(
        self, spec: TaskSpec, history: list[IterationRecord], repair: bool = False
    ) -> str:
        from rewards.describe import program_api

        reasons = "\n".join(
            f"- {r.name} ({r.kind}{', success' if r.success else ''}): {r.description}"
            for r in spec.termination_reasons
        )
        metrics = "\n".join(
            f"- {m.name} ({m.unit}, {'higher' if m.higher_is_better else 'lower'} is better): "
            f"{m.description}"
            for m in spec.task_metrics
        )
        if repair:
            hist = "(omitted: this is a repair round for the program below)"
            instruction = "Fix the rejected program as asked in the last message."
        else:
            hist = self._history_text(history)
            instruction = (
                "Write a first reward program for this task."
                if not scored(history)
                else "Write an improved reward program: address the failures and findings in "
                "the diagnosis above and keep what works."
            )
        return prompt_template("task.txt").substitute(
            task_id=spec.id,
            robot=spec.robot,
            description=spec.description,
            success=spec.success,
            control_hz=f"{spec.control_hz:g}",
            max_episode_steps=spec.max_episode_steps,
            episode_seconds=f"{spec.episode_seconds:g}",
            termination_reasons=reasons,
            task_metrics=metrics,
            program_api=program_api(spec),
            iteration=len(history),
            history=hist,
            instruction=instruction,
        )

    def _history_text(self, history: list[IterationRecord]) -> str:
        parts: list[str] = []
        best = best_candidate(history)
        if best is None:
            parts.append("No reward has been trained yet.")
        else:
            scores = ", ".join(f"{k} {v:.3g}" for k, v in sorted(best.task_metrics.items()))
            rand = (
                f", randomized-physics success {best.randomized_success_rate:.0%}"
                if best.randomized_success_rate is not None
                else ""
            )
            parts += [
                f"Best reward so far: candidate {best.cid}, success "
                f"{(best.success_rate or 0.0):.0%}{rand}; metrics: {scores or 'none'}.",
                "```python",
                (best.code or best.proposal.response).rstrip(),
                "```",
                "",
                "Its diagnosis packet:",
                packet_text(best, self.packet_chars) or "(no packet text)",
            ]
            others = [
                c for c in history[-1].candidates if c.score is not None and c.cid != best.cid
            ]
            if others:
                parts += ["", "Other candidates of the last iteration:"]
                parts += [
                    f"- {c.cid}: success {(c.success_rate or 0.0):.0%}, score {c.score:.3g}"
                    for c in others
                ]
        bad = rejected(history)
        if bad:
            parts += ["", "Candidates of the last iteration that did not train:"]
            for c in bad:
                if c.rejection is not None:
                    where = f", line {c.rejection.line}" if c.rejection.line is not None else ""
                    parts.append(
                        f"- {c.cid} rejected ({c.rejection.stage}{where}): {c.rejection.message}"
                    )
                else:
                    parts.append(f"- {c.cid} {c.status}: {c.error or 'no detail'}")
        return "\n".join(parts)

    def _user_content(self, spec: TaskSpec, history: list[IterationRecord]) -> Any:
        text = self._task_text(spec, history)
        if not self.vision:
            return text
        parts: list[dict[str, Any]] = [{"type": "text", "text": text}]
        for caption, url in self._images(spec, history)[: self.max_images]:
            parts.append({"type": "text", "text": f"Image: {caption}"})
            parts.append({"type": "image_url", "image_url": {"url": url}})
        return parts

    def _images(self, spec: TaskSpec, history: list[IterationRecord]) -> list[tuple[str, str]]:
        """(caption, data URL) of the best packet's scene image and plots, else a fresh
        scene image of the task."""
        out: list[tuple[str, str]] = []
        best = best_candidate(history)
        packet = load_packet(best) if best is not None else None
        if packet is not None and best is not None:
            root = Path(best.packet_path or ".")
            root = root if root.is_dir() else root.parent
            named = ([("scene", packet.scene_image)] if packet.scene_image else []) + sorted(
                packet.plots.items()
            )
            for caption, path in named:
                p = Path(path)
                p = p if p.is_absolute() or p.exists() else root / p
                if p.is_file():
                    out.append((caption, _data_url(p.read_bytes(), p.suffix)))
        if not out:
            out.append(("scene", self._scene_image(spec)))
        return out

    def _scene_image(self, spec: TaskSpec) -> str:
        if spec.id not in self._scene_cache:
            import matplotlib.image

            import sims

            env = sims.make(spec.id)
            try:
                env.reset(seed=self.seed)
                rgb = env.unwrapped.scene_image()
            finally:
                env.close()
            buf = io.BytesIO()
            matplotlib.image.imsave(buf, rgb, format="png")
            self._scene_cache[spec.id] = _data_url(buf.getvalue(), ".png")
        return self._scene_cache[spec.id]

    # ------------------------------------------------------------------ calls
    def _estimate(self, messages: list[dict[str, Any]], n: int) -> tuple[int, int]:
        """(prompt, completion) tokens a call could use: chars/4 plus a fixed cost per
        image, and per choice the largest completion seen so far (``max_tokens`` before the
        first answer)."""
        chars, images = 0, 0
        for m in messages:
            content = m["content"]
            if isinstance(content, str):
                chars += len(content)
                continue
            for part in content:
                if part.get("type") == "text":
                    chars += len(part["text"])
                else:
                    images += 1
        prompt = chars // CHARS_PER_TOKEN + images * IMAGE_TOKENS_ESTIMATE
        per_choice = self._completion_per_choice or self.max_tokens
        return prompt, per_choice * n

    def _check_budget(self, messages: list[dict[str, Any]], n: int) -> None:
        prompt, completion = self._estimate(messages, n)
        if self.budget_tokens is not None:
            after = self.usage.total_tokens + prompt + completion
            if after > self.budget_tokens:
                raise BudgetExceeded(
                    f"token budget: {self.usage.total_tokens} used, the next call could take "
                    f"~{prompt + completion} more, past the budget of {self.budget_tokens}",
                    usage=self.usage,
                    kind="tokens",
                )
        if self.budget_usd is not None:
            cost = self.prices.cost(self.model, prompt, completion)
            if self.usage.cost_usd + cost > self.budget_usd:
                raise BudgetExceeded(
                    f"USD budget: ${self.usage.cost_usd:.4f} spent, the next call could cost "
                    f"~${cost:.4f} more, past the budget of ${self.budget_usd:g}",
                    usage=self.usage,
                    kind="usd",
                )

    def _complete(
        self, messages: list[dict[str, Any]], n: int, ctx: dict[str, Any], parent: str | None
    ) -> list[Proposal]:
        """One chat-completion call (with retries) -> one proposal per returned choice."""
        ask = n if self._supports_n else 1
        self._check_budget(messages, ask)
        oa = self._openai
        attempts = self.max_retries + 1
        last_error = ""
        attempt = -1
        while attempt + 1 < attempts:
            attempt += 1
            body: dict[str, Any] = {
                "model": self.model,
                "messages": messages,
                "temperature": self.temperature,
                "max_tokens": self.max_tokens,
            }
            if ask > 1:
                body["n"] = ask
            t0 = time.perf_counter()
            try:
                resp = self.client.chat.completions.create(**body)
                choices = list(resp.choices or [])
                if not all(hasattr(c, "message") for c in choices):
                    raise ValueError("the response's choices are not chat messages")
            except oa.APIStatusError as exc:
                latency = time.perf_counter() - t0
                status = exc.status_code
                retry_in = self._retry_delay(attempt, exc) if _transient(status) else None
                self._log_attempt(
                    ctx, body, attempt, latency, status=status, error=_err(exc), retry_in=retry_in
                )
                if status == 400 and ask > 1 and _mentions_n(exc):
                    # The endpoint does not take n: ask for one answer per call from now on.
                    # Not a fault of the endpoint, so it does not use up an attempt.
                    self._supports_n = False
                    ask = 1
                    attempt -= 1
                    continue
                if retry_in is None:
                    raise self._fatal(exc) from None
                last_error = f"HTTP {status}: {_err(exc)}"
                if attempt + 1 < attempts:
                    time.sleep(retry_in)
                continue
            except (oa.APITimeoutError, oa.APIConnectionError) as exc:
                latency = time.perf_counter() - t0
                retry_in = self._retry_delay(attempt, None)
                kind = "timeout" if isinstance(exc, oa.APITimeoutError) else "connection"
                self._log_attempt(
                    ctx, body, attempt, latency, error=f"{kind}: {_err(exc)}", retry_in=retry_in
                )
                last_error = (
                    f"no answer within {self.timeout:g} s (a slow model needs a longer timeout: "
                    "--set designer_options.timeout=300)"
                    if kind == "timeout"
                    else f"cannot connect ({_err(exc)}); check --base-url and that the server runs"
                )
                if attempt + 1 < attempts:
                    time.sleep(retry_in)
                continue
            except (oa.APIResponseValidationError, ValueError, TypeError, AttributeError) as exc:
                # A 200 whose body is not a chat completion (truncated or garbled JSON from a
                # proxy, an HTML error page): transient as far as we can tell, so retry.
                latency = time.perf_counter() - t0
                retry_in = self._retry_delay(attempt, None)
                self._log_attempt(
                    ctx,
                    body,
                    attempt,
                    latency,
                    status=200,
                    error=f"malformed response: {exc}",
                    retry_in=retry_in,
                )
                last_error = f"malformed response ({exc})"
                if attempt + 1 < attempts:
                    time.sleep(retry_in)
                continue
            latency = time.perf_counter() - t0
            return self._accept(resp, choices, body, ctx, attempt, latency, ask, parent)
        raise DesignerError(
            self._mask(
                f"{self.model} at {self.base_url}: {last_error}; gave up after {attempts} attempts"
            )
        )

    def _accept(
        self,
        resp: Any,
        choices: list[Any],
        body: dict[str, Any],
        ctx: dict[str, Any],
        attempt: int,
        latency: float,
        ask: int,
        parent: str | None,
    ) -> list[Proposal]:
        if ask > 1 and len(choices) < ask:
            self._supports_n = False  # it ignores n: further calls ask for one answer each
        texts = [(c.message.content or "") for c in choices]
        usage_obj = getattr(resp, "usage", None)
        estimated = usage_obj is None
        if estimated:
            prompt_tokens = self._estimate(body["messages"], 0)[0]
            completion_tokens = sum(len(t) for t in texts) // CHARS_PER_TOKEN
        else:
            prompt_tokens = int(usage_obj.prompt_tokens or 0)
            completion_tokens = int(usage_obj.completion_tokens or 0)
        cost = self.prices.cost(self.model, prompt_tokens, completion_tokens)
        call_usage = Usage(
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            cost_usd=cost,
            latency_s=latency,
            calls=1,
        )
        self.usage = self.usage + call_usage
        if choices:
            per = max(1, completion_tokens // len(choices))
            self._completion_per_choice = max(self._completion_per_choice or 0, per)
        record = self._log_attempt(
            ctx,
            body,
            attempt,
            latency,
            status=200,
            response=resp.model_dump(mode="json", exclude_none=True),
            usage={**call_usage.model_dump(), "estimated": estimated},
        )
        seq = record.get("seq") if record else None
        proposals = []
        k = max(1, len(choices))
        for i, (choice, text) in enumerate(zip(choices, texts, strict=True)):
            refusal = getattr(choice.message, "refusal", None)
            finish = getattr(choice, "finish_reason", None)
            response = text or (refusal or "")
            share = Usage(
                prompt_tokens=prompt_tokens // k + (prompt_tokens % k if i == 0 else 0),
                completion_tokens=completion_tokens // k + (completion_tokens % k if i == 0 else 0),
                cost_usd=cost / k,
                latency_s=latency / k,
                calls=1 if i == 0 else 0,
            )
            refused = bool(refusal) or finish == "content_filter"
            proposals.append(
                Proposal(
                    response=response,
                    rationale=_rationale(response, refused),
                    designer=self.name,
                    usage=share,
                    parent=parent,
                    meta={
                        "model": self.model,
                        "finish_reason": finish,
                        "refusal": refused,
                        "transcript_seq": seq,
                        "choice": i,
                        "iteration": ctx.get("iteration"),
                    },
                )
            )
        return proposals

    def _retry_delay(self, attempt: int, exc: Any) -> float:
        """Seconds to wait: the server's Retry-After if it sent one, else exponential
        backoff with jitter (half fixed, half random, so clients that failed together do not
        retry together)."""
        headers = getattr(getattr(exc, "response", None), "headers", None) or {}
        after = _retry_after(headers)
        if after is not None:
            return after
        delay = min(self.backoff_max, self.backoff_base * 2.0**attempt)
        return delay / 2 + self._rng.uniform(0.0, delay / 2)

    def _mask(self, text: str) -> str:
        """``text`` with the API key masked (servers echo keys in error messages)."""
        return text.replace(self.api_key, "***") if len(self.api_key) >= 6 else text

    def _fatal(self, exc: Any) -> DesignerError:
        """A non-retryable HTTP error as a one-line DesignerError saying what to set."""
        status, detail = exc.status_code, self._mask(_err(exc))
        if status == 401:
            return DesignerError(
                f"{self.base_url} rejected the API key (401: {detail}); set OPENAI_API_KEY to a "
                "valid key for this endpoint"
            )
        if status == 403:
            return DesignerError(
                f"{self.base_url} refused access (403: {detail}); check the key's permissions "
                f"for model {self.model!r}"
            )
        if status == 404:
            if "model" in detail.lower():
                hint = self._model_hint()
                return DesignerError(
                    f"model {self.model!r} is not served at {self.base_url} ({detail}); set "
                    f"--model to one it serves{hint}"
                )
            return DesignerError(
                f"{self.base_url}/chat/completions does not exist (404); set --base-url to the "
                "endpoint root, which usually ends in /v1"
            )
        return DesignerError(f"{self.base_url} refused the request (HTTP {status}: {detail})")

    def _model_hint(self) -> str:
        """': a, b, c' listing the models the endpoint serves, if it says (best effort)."""
        import difflib

        try:
            names = [m.id for m in self.client.models.list(timeout=min(self.timeout, 10.0))]
        except Exception:  # listing is a courtesy: any failure just drops the hint
            return ""
        if not names:
            return ""
        close = difflib.get_close_matches(self.model, names, n=1)
        did = f" (did you mean {close[0]!r}?)" if close else ""
        return f"{did}: {', '.join(sorted(names)[:10])}"

    def _log_attempt(
        self,
        ctx: dict[str, Any],
        body: dict[str, Any],
        attempt: int,
        latency: float,
        *,
        status: int | None = None,
        response: Any = None,
        error: str | None = None,
        retry_in: float | None = None,
        usage: dict[str, Any] | None = None,
    ) -> dict[str, Any] | None:
        if self.transcript is None:
            return None
        return self.transcript.append(
            {
                "type": "request",
                "designer": self.name,
                **ctx,
                "model": self.model,
                "base_url": self.base_url,
                "attempt": attempt,
                "request": body,
                "status": status,
                "response": response,
                "error": error,
                "latency_s": round(latency, 4),
                "retry_in_s": None if retry_in is None else round(retry_in, 3),
                "usage": usage,
            }
        )


# ---------------------------------------------------------------------- small helpers
def _transient(status: int | None) -> bool:
    return status in (408, 409, 429) or (status is not None and status >= 500)


def _mentions_n(exc: Any) -> bool:
    """Whether a 400 is about the ``n`` parameter ("'n' is not supported", "n must be 1")."""
    return re.search(r"\bn\b", _err(exc)) is not None


def _err(exc: Any) -> str:
    """The server's error message, else the exception's, on one line."""
    body = getattr(exc, "body", None)
    msg = None
    if isinstance(body, dict):
        inner = body.get("error", body)
        msg = inner.get("message") if isinstance(inner, dict) else str(inner)
    text = str(msg or getattr(exc, "message", None) or exc)
    return " ".join(text.split())[:300]


def _retry_after(headers: Any) -> float | None:
    """Seconds from ``retry-after-ms`` or ``Retry-After`` (seconds or an HTTP date)."""
    try:
        ms = headers.get("retry-after-ms")
        if ms is not None:
            return max(0.0, float(ms) / 1000.0)
        value = headers.get("retry-after")
    except AttributeError:
        return None
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


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
