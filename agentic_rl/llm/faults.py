"""What an OpenAI-compatible endpoint's failures and limits mean, for :mod:`.chat`.

* which HTTP statuses are worth retrying, and how long a server asks to wait
  (``Retry-After`` in seconds or as an HTTP date, ``retry-after-ms``);
* whether a 400 is about ``n`` or about image input (text-only models), so the request can
  be sent again without it;
* the server's error message on one line, and the one-line message a user gets for an error
  that retrying cannot fix (a bad key, a wrong URL, an unknown model, a too-long prompt).
"""

from __future__ import annotations

import email.utils
import re
import time
from collections.abc import Callable
from typing import Any

#: What a text-only endpoint gets in place of each image part.
IMAGE_OMITTED = "(image omitted: this endpoint does not accept images)"


def fatal_message(
    status: int,
    detail: str,
    base_url: str,
    model: str,
    option_hint: str,
    model_hint: Callable[[], str] | None = None,
) -> str:
    """One line for a non-retryable HTTP error, saying what to set."""
    if status == 401:
        return (
            f"{base_url} rejected the API key (401: {detail}); set OPENAI_API_KEY to a "
            "valid key for this endpoint"
        )
    if status == 403:
        return (
            f"{base_url} refused access (403: {detail}); check the key's permissions "
            f"for model {model!r}"
        )
    if status == 404:
        if "model" in detail.lower():
            hint = model_hint() if model_hint else ""
            return (
                f"model {model!r} is not served at {base_url} ({detail}); set "
                f"--model to one it serves{hint}"
            )
        return (
            f"{base_url}/chat/completions does not exist (404); set --base-url to the "
            "endpoint root, which usually ends in /v1"
        )
    if status == 400 and "context" in detail.lower():
        return (
            f"{base_url} refused the request as too long (400: {detail}); lower "
            f"{option_hint}prompt_tokens or max_images"
        )
    return f"{base_url} refused the request (HTTP {status}: {detail})"


def has_images(messages: list[dict[str, Any]]) -> bool:
    """Whether any message holds an image part."""
    return any(
        isinstance(m["content"], list) and any(p.get("type") != "text" for p in m["content"])
        for m in messages
    )


def strip_images(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The messages with every image part replaced by :data:`IMAGE_OMITTED` (the captions
    stay, so the model still reads what each image would have shown)."""
    out = []
    for m in messages:
        content = m["content"]
        if isinstance(content, list):
            content = [
                p if p.get("type") == "text" else {"type": "text", "text": IMAGE_OMITTED}
                for p in content
            ]
        out.append({**m, "content": content})
    return out


def transient(status: int | None) -> bool:
    return status in (408, 409, 429) or (status is not None and status >= 500)


def mentions_n(detail: str) -> bool:
    """Whether a 400 is about the ``n`` parameter ("'n' is not supported", "n must be 1")."""
    return re.search(r"\bn\b", detail) is not None


def mentions_images(detail: str) -> bool:
    """Whether an error is about image input (vLLM: "not a multimodal model"; llama.cpp:
    "image input is not supported"; OpenAI: "image_url is only supported by ...")."""
    return re.search(r"(?i)image|vision|multi-?modal", detail) is not None


def error_text(exc: Any) -> str:
    """The server's error message, else the exception's, on one line."""
    body = getattr(exc, "body", None)
    msg = None
    if isinstance(body, dict):
        inner = body.get("error", body)
        msg = inner.get("message") if isinstance(inner, dict) else str(inner)
    text = str(msg or getattr(exc, "message", None) or exc)
    return " ".join(text.split())[:300]


def retry_after(headers: Any) -> float | None:
    """Seconds from ``retry-after-ms`` or ``Retry-After`` (seconds or an HTTP date)."""
    try:
        ms = headers.get("retry-after-ms")
        if ms is not None:
            return max(0.0, float(ms) / 1000.0)
        value = headers.get("retry-after")
    except (AttributeError, ValueError):
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
