"""What a model's answer looked like, in words a repair message can use.

The reward pipeline says what is wrong with the *code* it extracted; it cannot say what
happened to the rest of the answer. These notes do, so the model is not left guessing:

* the answer was JSON (or had no Python at all): reply with one python block;
* the answer had several code blocks and only one was used; helpers defined in the other
  blocks were not seen;
* the answer was cut off at the token limit;
* the model declined.
"""

from __future__ import annotations

import json
import re

from rewards import extract_code
from rewards.errors import RewardRejected

_FENCE = re.compile(
    r"^[ \t]*(```|~~~)[ \t]*([^\s`]*)[^\n]*\n(.*?)(?:^[ \t]*\1[ \t]*$|\Z)", re.S | re.M
)
_DEF = re.compile(r"^def[ \t]+([A-Za-z_]\w*)[ \t]*\(", re.M)


def answer_code(text: str) -> str:
    """The code the pipeline would use from an answer ('' if it finds none)."""
    try:
        return extract_code(text)
    except RewardRejected:
        return ""


def _blocks(text: str) -> list[tuple[str, str]]:
    return [(m.group(2).lower(), m.group(3)) for m in _FENCE.finditer(text)]


def _is_json(text: str) -> bool:
    body = text.strip()
    blocks = _blocks(text)
    if blocks and all(tag == "json" for tag, _ in blocks):
        return True
    if body[:1] not in "{[":
        return False
    try:
        json.loads(body)
    except ValueError:
        return False
    return True


def repair_notes(
    text: str, *, finish_reason: str | None = None, refused: bool = False
) -> list[str]:
    """Sentences saying what happened to an answer on its way to the validator."""
    notes: list[str] = []
    if refused:
        notes.append(
            "Your answer declined the task. This is a reward function for a simulated robot in "
            "a physics simulator; it only computes numbers from the state."
        )
    if finish_reason == "length":
        notes.append(
            "Your answer was cut off at the token limit before it ended; reply with a shorter "
            "program and fewer words."
        )
    if _is_json(text):
        notes.append(
            "Your answer was JSON, not Python. Reply with one ```python block that defines "
            "`compute_reward`; do not wrap the code in JSON."
        )
        return notes
    blocks = [(tag, code) for tag, code in _blocks(text) if code.strip()]
    used = answer_code(text)
    if len(blocks) > 1 and used:
        index = next(
            (i for i, (_, code) in enumerate(blocks) if code.strip() == used.strip()), None
        )
        which = f" (block {index + 1} of {len(blocks)})" if index is not None else ""
        notes.append(
            f"Your answer had {len(blocks)} code blocks; only the last one that defines "
            f"`compute_reward` was used{which}. Everything the program needs must be in that "
            "one block."
        )
        defined_used = set(_DEF.findall(used))
        elsewhere = sorted(
            {name for _, code in blocks for name in _DEF.findall(code)} - defined_used
        )
        missing = [n for n in elsewhere if re.search(rf"\b{re.escape(n)}\s*\(", used)]
        if missing:
            names = ", ".join(f"`{n}`" for n in missing)
            notes.append(
                f"{names} {'is' if len(missing) == 1 else 'are'} defined in another block and "
                "was not seen: put the helper in the same block as `compute_reward`."
            )
    if re.search(r"^[ \t]*@", used, re.M):
        notes.append("The function has a decorator; reward programs are plain functions.")
    return notes
