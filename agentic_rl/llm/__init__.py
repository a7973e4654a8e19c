"""Talking to language models: one :class:`ChatClient` for OpenAI-compatible endpoints.

* :mod:`.chat`: retries under a time budget, ``n`` and image fallbacks, token and USD
  budgets, usage (estimated when the endpoint does not report it);
* :mod:`.pricing`: USD per million tokens per model, with user overrides;
* :mod:`.transcript`: the append-only ``llm_transcript.jsonl`` with secrets masked.

The reward designer (:mod:`agentic_rl.designers.openai_designer`) and the scene selector
(:mod:`agentic_rl.scenes.openai_backend`) own their prompts and the parsing of answers;
this package owns the conversation. Nothing here imports ``openai`` at package import.
"""

from __future__ import annotations

from agentic_rl.llm.chat import Answer, BudgetExceeded, ChatClient, ChatError
from agentic_rl.llm.pricing import DEFAULT_PRICES, Price, PriceTable
from agentic_rl.llm.transcript import Transcript, read_transcript

__all__ = [
    "DEFAULT_PRICES",
    "Answer",
    "BudgetExceeded",
    "ChatClient",
    "ChatError",
    "Price",
    "PriceTable",
    "Transcript",
    "read_transcript",
]
