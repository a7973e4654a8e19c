"""ChatClient: the one conversation path to an OpenAI-compatible chat-completions endpoint.

The reward designer and the scene selector both talk to models through it; they own only
their prompts and the parsing of answers. It uses the official ``openai`` client (imported
when a client is built, never at package import) against OpenAI, Azure, vLLM, Ollama or a
llama.cpp server, and does in the client's stead (which is built with ``max_retries=0``):

* **retries** on 429, 5xx, timeouts, dropped connections and unparsable bodies, with
  exponential backoff and jitter under a *time budget* (``retry_budget_s``) rather than a
  fixed count; a ``Retry-After``/``retry-after-ms`` header sets the least wait, never the
  most (a server that keeps answering "retry in 1 s" still gets backed off);
* **n fallback**: ``n`` answers per request, and further requests when the endpoint returns
  fewer (llama.cpp ignores ``n``) or refuses ``n`` outright;
* **text-only endpoints**: a request with image parts that the endpoint refuses for them is
  sent again without images (each replaced by a one-line note), and later ones skip images;
* **usage**: tokens and cost per call (:mod:`.pricing`); a response without ``usage`` is
  estimated (chars / 4) and flagged ``estimated`` in the transcript;
* **budgets** on tokens and USD, checked *before* each call (:class:`BudgetExceeded`);
* **transcript**: every attempt, failed or not, is appended with the secrets masked
  (:mod:`.transcript`).

Every failure that ends a conversation is a :class:`ChatError` whose message is one line
saying what happened and what to set. What an endpoint's errors mean (retryable or not, how
long to wait, a refused ``n`` or image) is in :mod:`.faults`.

This module is a little over 500 lines on purpose: the retry loop, the fallbacks and the
usage and budget accounting of one request share their state and are read together.
"""

from __future__ import annotations

import os
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from agentic_rl.llm.faults import (
    error_text,
    fatal_message,
    has_images,
    mentions_images,
    mentions_n,
    retry_after,
    strip_images,
    transient,
)
from agentic_rl.llm.pricing import PriceTable
from agentic_rl.llm.transcript import Transcript
from agentic_rl.records import Usage

DEFAULT_BASE_URL = "https://api.openai.com/v1"
DEFAULT_MODEL = "gpt-4o-mini"
#: Rough prompt-token cost of one image part, for budget estimates (OpenAI's 512x512 tile
#: plus base cost is 255 tokens; a full-detail plot can be several tiles).
IMAGE_TOKENS_ESTIMATE = 800
#: Characters per token, the usual approximation for English and code.
CHARS_PER_TOKEN = 4
#: Completion tokens per answer assumed before the first answer is seen. A reward program
#: with its explanation is 300-1000 tokens; assuming ``max_tokens`` (4096) would make a
#: modest ``--budget-tokens`` refuse the very first call.
FIRST_COMPLETION_ESTIMATE = 1024


class ChatError(RuntimeError):
    """The conversation cannot go on (bad setup, an unreachable endpoint, retries used up).

    The message is one line that says what was wrong and what to set.
    """


class BudgetExceeded(RuntimeError):
    """Raised *before* a model call that would exceed the token or USD budget.

    Deliberately not a :class:`ChatError`: the refinement loop catches it to stop cleanly
    and keep the best candidate so far, whereas a ``ChatError`` is a failure to report.

    Attributes:
        usage: what had been spent when the call was refused.
        kind: ``"tokens"`` or ``"usd"``.
    """

    def __init__(self, message: str, *, usage: Usage, kind: str) -> None:
        super().__init__(message)
        self.usage = usage
        self.kind = kind


@dataclass
class Answer:
    """One choice of a chat completion.

    Attributes:
        text: the message content (or the refusal text when the content is empty).
        refused: the model refused (a ``refusal`` field or ``finish_reason`` content_filter).
        finish_reason: as the endpoint reported it.
        usage: this answer's share of its call's tokens, cost and latency (``calls`` is 1 on
            the first answer of a call, 0 on the others, so sums count calls).
        seq: the transcript line of the call (``None`` without a transcript).
        choice: index of the choice within its call.
    """

    text: str
    refused: bool = False
    finish_reason: str | None = None
    usage: Usage = field(default_factory=Usage)
    seq: int | None = None
    choice: int = 0


def _import_openai() -> Any:
    try:
        import openai
    except ImportError:
        raise ChatError(
            "talking to a model needs the openai package: pip install 'agentic-rl[openai]'"
        ) from None
    return openai


class ChatClient:
    """A chat-completions client with retries, fallbacks, budgets and a masked transcript.

    Args:
        model: model name the endpoint serves (default ``$OPENAI_MODEL`` or gpt-4o-mini).
        base_url: endpoint root, e.g. ``http://localhost:8000/v1`` (default
            ``$OPENAI_BASE_URL`` or OpenAI's).
        api_key: default ``$OPENAI_API_KEY``; any non-empty value for servers without auth.
        timeout: seconds per request.
        retry_budget_s: seconds a request may spend retrying (waits included) before giving
            up; a ``Retry-After`` that would reach past it gives up at once.
        max_retries: an optional cap on retries on top of the time budget (``None``: none).
        backoff_base: first retry delay in seconds (doubled per retry, half of it jitter).
        backoff_max: longest computed backoff in seconds (a longer Retry-After still wins).
        budget_tokens: refuse (:class:`BudgetExceeded`) a call that could take the total past
            this many tokens; ``None`` for no limit.
        budget_usd: the same in US dollars (needs a price for the model).
        prices: price overrides: a mapping or a JSON file (see :mod:`.pricing`).
        transcript: a :class:`Transcript` or the ``llm_transcript.jsonl`` path to append
            every attempt to; ``None`` records nothing.
        seed: seeds the retry jitter.
        temperature: sampling temperature.
        max_tokens: completion token limit per answer.
        option_hint: how a user sets an option, for error messages (the refine CLI's
            ``--set designer_options.`` by default).
    """

    def __init__(
        self,
        *,
        model: str | None = None,
        base_url: str | None = None,
        api_key: str | None = None,
        timeout: float = 60.0,
        retry_budget_s: float = 300.0,
        max_retries: int | None = None,
        backoff_base: float = 1.0,
        backoff_max: float = 60.0,
        budget_tokens: int | None = None,
        budget_usd: float | None = None,
        prices: dict[str, Any] | str | Path | None = None,
        transcript: Transcript | str | Path | None = None,
        seed: int = 0,
        temperature: float = 0.8,
        max_tokens: int = 4096,
        option_hint: str = "--set designer_options.",
    ) -> None:
        self.option_hint = option_hint
        self.api_key = api_key or os.environ.get("OPENAI_API_KEY") or ""
        if not self.api_key.strip():
            raise ChatError(
                "no API key: set OPENAI_API_KEY (a local server without auth accepts any "
                "value, e.g. OPENAI_API_KEY=local)"
            )
        url = base_url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL
        self.base_url = url.rstrip("/")
        parsed = urlparse(self.base_url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ChatError(
                f"base URL {self.base_url!r} is not an http(s) URL; set --base-url like "
                "http://localhost:8000/v1 or https://api.openai.com/v1"
            )
        self.model = model or os.environ.get("OPENAI_MODEL") or DEFAULT_MODEL
        for label, value in (("budget_tokens", budget_tokens), ("budget_usd", budget_usd)):
            if value is not None and not value > 0:
                raise ChatError(
                    f"{label} is {value}, so no model call could be made; set "
                    f"--{label.replace('_', '-')} to a positive number, or leave it unset for "
                    "no limit"
                )
        self._positive("timeout", timeout, "seconds per request, e.g. 120")
        self._positive("retry_budget_s", retry_budget_s, "seconds of retrying, e.g. 600")
        self._positive("backoff_base", backoff_base, "seconds, e.g. 1")
        self._positive("backoff_max", backoff_max, "seconds, e.g. 60")
        self._positive("max_tokens", max_tokens, "tokens per answer, e.g. 4096")
        if max_retries is not None and max_retries < 0:
            raise ChatError(
                f"max_retries must be >= 0 (or unset for no cap), got {max_retries}; set "
                f"{option_hint}max_retries"
            )
        if not 0.0 <= float(temperature) <= 2.0:
            raise ChatError(
                f"temperature must be within [0, 2], got {temperature}; set "
                f"{option_hint}temperature=0.8"
            )
        try:
            self.prices = PriceTable(prices)
            if budget_usd is not None:
                self.prices.require(self.model)
        except ValueError as exc:
            raise ChatError(str(exc)) from None
        self.timeout = float(timeout)
        self.retry_budget_s = float(retry_budget_s)
        self.max_retries = None if max_retries is None else int(max_retries)
        self.backoff_base = float(backoff_base)
        self.backoff_max = float(backoff_max)
        self.budget_tokens = budget_tokens
        self.budget_usd = budget_usd
        self.temperature = float(temperature)
        self.max_tokens = int(max_tokens)
        self.usage = Usage()
        #: False once the endpoint showed it ignores or refuses ``n``.
        self.supports_n = True
        #: False once the endpoint refused image parts.
        self.supports_images = True
        self._completion_per_answer: int | None = None
        self._rng = random.Random(f"openai-jitter:{seed}")
        if isinstance(transcript, (str, Path)):
            transcript = Transcript(transcript)
        self.transcript = transcript
        if self.transcript is not None:
            self.transcript.add_secret(self.api_key)
        self._openai = _import_openai()
        self.client = self._openai.OpenAI(
            base_url=self.base_url, api_key=self.api_key, timeout=self.timeout, max_retries=0
        )

    def _positive(self, name: str, value: float | None, example: str) -> None:
        if value is None or not value > 0:
            raise ChatError(
                f"{name} must be > 0, got {value}; set {self.option_hint}{name} ({example})"
            )

    # ------------------------------------------------------------------ public API
    def complete(
        self, messages: list[dict[str, Any]], n: int = 1, *, context: dict[str, Any] | None = None
    ) -> list[Answer]:
        """``n`` answers to one conversation (several calls if the endpoint ignores ``n``).

        Args:
            messages: chat messages; a ``content`` may be a list of text and image parts.
            n: answers wanted.
            context: extra keys for the transcript lines (e.g. ``call``, ``iteration``).

        Returns:
            Exactly ``n`` answers.

        Raises:
            BudgetExceeded: before a call that could cross a budget.
            ChatError: when retries are used up or the endpoint refuses the request.
        """
        ctx = dict(context or {})
        answers: list[Answer] = []
        for _ in range(n + 2):  # fewer answers than asked: ask again, a few times at most
            want = n - len(answers)
            if want <= 0:
                break
            messages = self._fit(messages)
            answers += self._call(messages, want, ctx)
        if len(answers) < n:
            raise ChatError(
                f"the endpoint at {self.base_url} returned {len(answers)} of {n} answers after "
                f"{n + 2} calls; check that model {self.model!r} answers chat completions"
            )
        return answers[:n]

    def estimate(self, messages: list[dict[str, Any]], n: int) -> tuple[int, int]:
        """(prompt, completion) tokens a call could use: chars/4 plus a fixed cost per image,
        and per answer the largest completion seen so far (:data:`FIRST_COMPLETION_ESTIMATE`
        before the first answer, at most ``max_tokens``)."""
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
        per = self._completion_per_answer or min(self.max_tokens, FIRST_COMPLETION_ESTIMATE)
        return prompt, per * n

    def mask(self, text: str) -> str:
        """``text`` with the API key masked (servers echo keys in error messages)."""
        return text.replace(self.api_key, "***") if len(self.api_key) >= 6 else text

    # ------------------------------------------------------------------ one call
    def _fit(self, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The messages as this endpoint takes them (images out once it refused them)."""
        return messages if self.supports_images else strip_images(messages)

    def _check_budget(self, messages: list[dict[str, Any]], n: int) -> None:
        prompt, completion = self.estimate(messages, n)
        if self.budget_tokens is not None:
            after = self.usage.total_tokens + prompt + completion
            if after > self.budget_tokens:
                raise BudgetExceeded(
                    f"token budget: {self.usage.total_tokens:,} used, the next call could take "
                    f"~{prompt + completion:,} more, past the budget of {self.budget_tokens:,}",
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

    def _call(self, messages: list[dict[str, Any]], n: int, ctx: dict[str, Any]) -> list[Answer]:
        """One chat completion with retries -> its answers."""
        ask = n if self.supports_n else 1
        self._check_budget(messages, ask)
        oa = self._openai
        start = time.monotonic()
        attempt, last_error = 0, ""
        while True:
            body: dict[str, Any] = {
                "model": self.model,
                "messages": messages,
                "temperature": self.temperature,
                "max_tokens": self.max_tokens,
            }
            if ask > 1:
                body["n"] = ask
            t0 = time.perf_counter()
            wait: float | None
            try:
                resp = self.client.chat.completions.create(**body)
                choices = list(resp.choices or [])
                if not all(hasattr(c, "message") for c in choices):
                    raise ValueError("the response's choices are not chat messages")
            except oa.APIStatusError as exc:
                latency = time.perf_counter() - t0
                status, detail = exc.status_code, error_text(exc)
                if ask > 1 and status == 400 and mentions_n(detail):
                    # The endpoint does not take n: one answer per call from now on. Not a
                    # fault of the endpoint, so it does not use up retry time.
                    self._log(ctx, body, attempt, latency, status=status, error=detail)
                    self.supports_n, ask = False, 1
                    continue
                if has_images(messages) and 400 <= status < 600 and mentions_images(detail):
                    self._log(ctx, body, attempt, latency, status=status, error=detail)
                    self.supports_images = False
                    messages = strip_images(messages)
                    continue
                wait = self._delay(attempt, exc) if transient(status) else None
                self._log(ctx, body, attempt, latency, status=status, error=detail, retry_in=wait)
                if wait is None:
                    raise self._fatal(status, detail) from None
                last_error = f"HTTP {status}: {self.mask(detail)}"
            except (oa.APITimeoutError, oa.APIConnectionError) as exc:
                latency = time.perf_counter() - t0
                wait = self._delay(attempt, None)
                timed_out = isinstance(exc, oa.APITimeoutError)
                kind = "timeout" if timed_out else "connection"
                self._log(
                    ctx, body, attempt, latency, error=f"{kind}: {error_text(exc)}", retry_in=wait
                )
                last_error = (
                    f"no answer within {self.timeout:g} s (a slow model needs a longer timeout: "
                    f"{self.option_hint}timeout=300)"
                    if timed_out
                    else f"cannot connect ({error_text(exc)}); check --base-url and that the server runs"
                )
            except (oa.APIResponseValidationError, ValueError, TypeError, AttributeError) as exc:
                # A 200 whose body is not a chat completion (truncated or garbled JSON from a
                # proxy, an HTML error page): transient as far as we can tell, so retry.
                latency = time.perf_counter() - t0
                wait = self._delay(attempt, None)
                self._log(
                    ctx,
                    body,
                    attempt,
                    latency,
                    status=200,
                    error=f"malformed response: {exc}",
                    retry_in=wait,
                )
                last_error = f"malformed response ({' '.join(str(exc).split())[:200]})"
            else:
                latency = time.perf_counter() - t0
                return self._accept(resp, choices, body, ctx, attempt, latency, ask)
            attempt += 1
            spent = time.monotonic() - start
            capped = self.max_retries is not None and attempt > self.max_retries
            if capped or spent + wait > self.retry_budget_s:
                why = (
                    f"max_retries={self.max_retries}"
                    if capped
                    else f"the next wait of {wait:.0f} s would pass the retry budget of "
                    f"{self.retry_budget_s:g} s"
                )
                raise ChatError(
                    self.mask(
                        f"{self.model} at {self.base_url}: {last_error}; gave up after {attempt} "
                        f"attempts in {spent:.0f} s ({why}); try again later or allow more "
                        f"with {self.option_hint}retry_budget_s=900"
                    )
                )
            time.sleep(wait)

    def _accept(
        self,
        resp: Any,
        choices: list[Any],
        body: dict[str, Any],
        ctx: dict[str, Any],
        attempt: int,
        latency: float,
        ask: int,
    ) -> list[Answer]:
        if ask > 1 and len(choices) < ask:
            self.supports_n = False  # it ignores n: further calls ask for one answer each
        texts = [(c.message.content or "") for c in choices]
        usage_obj = getattr(resp, "usage", None)
        estimated = usage_obj is None or not (
            usage_obj.prompt_tokens or usage_obj.completion_tokens
        )
        if estimated:
            prompt_tokens = self.estimate(body["messages"], 0)[0]
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
            self._completion_per_answer = max(self._completion_per_answer or 0, per)
        record = self._log(
            ctx,
            body,
            attempt,
            latency,
            status=200,
            response=resp.model_dump(mode="json", exclude_none=True),
            usage={**call_usage.model_dump(), "estimated": estimated},
        )
        seq = record.get("seq") if record else None
        k = max(1, len(choices))
        answers = []
        for i, (choice, text) in enumerate(zip(choices, texts, strict=True)):
            refusal = getattr(choice.message, "refusal", None)
            finish = getattr(choice, "finish_reason", None)
            share = Usage(
                prompt_tokens=prompt_tokens // k + (prompt_tokens % k if i == 0 else 0),
                completion_tokens=completion_tokens // k + (completion_tokens % k if i == 0 else 0),
                cost_usd=cost / k,
                latency_s=latency / k,
                calls=1 if i == 0 else 0,
            )
            answers.append(
                Answer(
                    text=text or (refusal or ""),
                    refused=bool(refusal) or finish == "content_filter",
                    finish_reason=finish,
                    usage=share,
                    seq=seq,
                    choice=i,
                )
            )
        return answers

    def _delay(self, attempt: int, exc: Any) -> float:
        """Seconds to wait: exponential backoff with jitter (half fixed, half random, so
        clients that failed together do not retry together), and at least the server's
        Retry-After when it sent one."""
        delay = min(self.backoff_max, self.backoff_base * 2.0**attempt)
        backoff = delay / 2 + self._rng.uniform(0.0, delay / 2)
        headers = getattr(getattr(exc, "response", None), "headers", None) or {}
        after = retry_after(headers)
        return backoff if after is None else max(after, backoff)

    def _fatal(self, status: int, detail: str) -> ChatError:
        """A non-retryable HTTP error as a one-line ChatError saying what to set."""
        hint = self._model_hint if status == 404 and "model" in detail.lower() else None
        return ChatError(
            fatal_message(
                status, self.mask(detail), self.base_url, self.model, self.option_hint, hint
            )
        )

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

    def _log(
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
