"""Token prices per model, for cost accounting and USD budgets.

Prices are USD per one million tokens, ``prompt`` (input) and ``completion`` (output), as
published by the providers when this table was written; they change, so override them:

* ``--set 'designer_options.prices={"my-model": {"prompt": 0.5, "completion": 1.5}}'`` on the
  command line (or ``make_designer("openai", prices={...})`` in Python), or
* ``prices="prices.json"``: a JSON file holding the same mapping.

Overrides are merged over the built-in table. A model is looked up by exact name first, then
by the longest table entry it starts with (``gpt-4o-2024-08-06`` -> ``gpt-4o``). Local
servers (vLLM, Ollama, llama.cpp) have no price: their cost counts as 0, and a USD budget
with an unpriced model is refused up front (see :meth:`PriceTable.require`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError


class Price(BaseModel):
    """USD per one million tokens."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    prompt: float = Field(ge=0, description="USD per 1M prompt (input) tokens.")
    completion: float = Field(ge=0, description="USD per 1M completion (output) tokens.")

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        """USD for one call."""
        return (prompt_tokens * self.prompt + completion_tokens * self.completion) / 1e6


#: Built-in prices (USD / 1M tokens). Users override or extend them; see the module doc.
DEFAULT_PRICES: dict[str, Price] = {
    name: Price(prompt=p, completion=c)
    for name, (p, c) in {
        "gpt-4o": (2.50, 10.00),
        "gpt-4o-mini": (0.15, 0.60),
        "gpt-4.1": (2.00, 8.00),
        "gpt-4.1-mini": (0.40, 1.60),
        "gpt-4.1-nano": (0.10, 0.40),
        "gpt-4-turbo": (10.00, 30.00),
        "gpt-3.5-turbo": (0.50, 1.50),
        "gpt-5": (1.25, 10.00),
        "gpt-5-mini": (0.25, 2.00),
        "gpt-5-nano": (0.05, 0.40),
        "o1": (15.00, 60.00),
        "o1-mini": (1.10, 4.40),
        "o3": (2.00, 8.00),
        "o3-mini": (1.10, 4.40),
        "o4-mini": (1.10, 4.40),
    }.items()
}


class PriceTable:
    """Model name -> :class:`Price`, with user overrides.

    Args:
        overrides: a mapping ``{model: {"prompt": usd_per_mtok, "completion": usd_per_mtok}}``
            or the path of a JSON file holding one; merged over :data:`DEFAULT_PRICES`.

    Raises:
        ValueError: for an unreadable file or a malformed entry (names the model and what
            to write instead).
    """

    def __init__(self, overrides: Mapping[str, Any] | str | Path | None = None) -> None:
        self.prices: dict[str, Price] = dict(DEFAULT_PRICES)
        if overrides is None:
            return
        if isinstance(overrides, (str, Path)):
            path = Path(overrides)
            try:
                overrides = json.loads(path.read_text("utf-8"))
            except (OSError, json.JSONDecodeError) as exc:
                raise ValueError(f"price file {path} cannot be read as JSON: {exc}") from None
            if not isinstance(overrides, Mapping):
                raise ValueError(f"price file {path} must hold a JSON object of models")
        for model, entry in overrides.items():
            try:
                self.prices[str(model)] = (
                    entry if isinstance(entry, Price) else Price.model_validate(entry)
                )
            except ValidationError:
                raise ValueError(
                    f"price for model {model!r} must look like "
                    '{"prompt": <USD per 1M tokens>, "completion": <USD per 1M tokens>}, '
                    f"got {entry!r}"
                ) from None

    def lookup(self, model: str) -> Price | None:
        """The price of ``model`` (exact name, else the longest matching prefix), or None."""
        if model in self.prices:
            return self.prices[model]
        matches = [name for name in self.prices if model.startswith(name)]
        return self.prices[max(matches, key=len)] if matches else None

    def cost(self, model: str, prompt_tokens: int, completion_tokens: int) -> float:
        """USD for one call; 0.0 for a model without a price."""
        price = self.lookup(model)
        return price.cost(prompt_tokens, completion_tokens) if price else 0.0

    def require(self, model: str) -> Price:
        """The price of ``model``, or a ValueError saying how to give one (for USD budgets)."""
        price = self.lookup(model)
        if price is None:
            raise ValueError(
                f"no price known for model {model!r}, so a USD budget cannot be enforced; set "
                + "--set 'designer_options.prices="
                + json.dumps({model: {"prompt": 0.5, "completion": 1.5}})
                + "' (USD per 1M tokens, or the path of a JSON file of them), or use "
                "--budget-tokens instead"
            )
        return price
