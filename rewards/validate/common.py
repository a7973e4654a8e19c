"""Shared pieces of the validator: its limits, the validated-program record, messages."""

from __future__ import annotations

import ast
import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import NoReturn

from rewards import caps, guard
from rewards.errors import RewardRejected, Stage
from rewards.namespace import MATH, NUMPY, TERMS, ReadOnlyNamespace

#: Longest accepted program, in characters and lines. Rewards are short; this bounds the
#: work every later stage does and keeps the parser away from pathological input.
MAX_SOURCE_CHARS = 20_000
MAX_SOURCE_LINES = 600
#: Deepest AST nesting and most AST nodes accepted.
MAX_AST_DEPTH = 60
MAX_AST_NODES = 8_000
#: Largest ``range`` a loop may run over, and largest constant exponent/repetition count.
MAX_RANGE = 10_000
MAX_POW_EXPONENT = 64
MAX_REPEAT = 10_000
#: Most iterations nested constant-range loops may run per call.
MAX_LOOP_WORK = 1_000_000
#: Name of the entry point every program defines.
ENTRY = "compute_reward"
#: The file name compiled programs carry in tracebacks (line numbers match the source).
FILENAME = guard.PROGRAM_FILENAME
#: Most problems listed in one rejection (the rest are counted).
MAX_REPORTED = 12
#: Largest array or sequence a program may build, and widest format field: enforced
#: statically where sizes are known, at run time by :mod:`rewards.caps` where they are not.
MAX_ELEMENTS = caps.MAX_ELEMENTS
MAX_FORMAT_WIDTH = caps.MAX_FORMAT_WIDTH

_PROVIDED: dict[str, ReadOnlyNamespace] = {"np": NUMPY, "math": MATH, "terms": TERMS}
_SIGNATURE = "def compute_reward(state, action, prev_state, task):"


@dataclass(frozen=True)
class ValidatedProgram:
    """A program that passed the static checks, ready to compile.

    Attributes:
        source: the program text (line numbers in messages refer to it).
        tree: the cleaned module AST (imports, annotations, a main guard removed).
        aliases: extra global names bound by mapped imports: name -> (module key in
            :data:`rewards.namespace.IMPORTABLE`, member name or ``None`` for the module).
        constants: names of module-level constants (frozen after compilation).
        helpers: names of module-level helper functions.
        params: the parameter names of ``compute_reward``.
        static_terms: term names if every ``return`` is a dict literal with constant keys.
        notes: changes made on the way, for the author (e.g. a mapped numpy import).
    """

    source: str
    tree: ast.Module
    aliases: Mapping[str, tuple[str, str | None]]
    constants: tuple[str, ...]
    helpers: tuple[str, ...]
    params: tuple[str, ...]
    static_terms: tuple[str, ...] | None
    notes: tuple[str, ...]


def _fail(where: ast.AST | int | None, message: str, stage: Stage = "validate") -> NoReturn:
    line = where if isinstance(where, int) or where is None else getattr(where, "lineno", None)
    raise RewardRejected(stage, line, message)


def _code(node: ast.AST, limit: int = 70) -> str:
    """A short quotation of a node's source for messages."""
    try:
        text = ast.unparse(node)
    except Exception:  # unparse of a partial tree; the quotation is only cosmetic
        text = type(node).__name__
    text = " ".join(text.split())
    return f"`{text if len(text) <= limit else text[: limit - 3] + '...'}`"


def _did_you_mean(name: str, options: Iterable[str]) -> str:
    options = list(options)
    hint = difflib.get_close_matches(name, options, n=1, cutoff=0.6)
    if not hint:
        # Abbreviations models often expand: 'velocity' for 'vel', 'position' for 'pos'.
        hint = [o for o in options if len(o) >= 3 and (name.startswith(o) or o.startswith(name))]
    return f" Did you mean {hint[0]!r}?" if hint else ""


def _listing(names: Iterable[str], limit: int = 60) -> str:
    names = sorted(names)
    more = f" (and {len(names) - limit} more)" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more


def _combined(errors: list[RewardRejected]) -> RewardRejected:
    """One rejection listing every problem (same message on several lines merged)."""
    merged: dict[str, list[int | None]] = {}
    for e in errors:
        merged.setdefault(e.message, []).append(e.line)
    if len(merged) == 1:
        ((message, lines),) = merged.items()
        known = sorted({n for n in lines if n is not None})
        more = f" (also on line {', '.join(map(str, known[1:]))})" if len(known) > 1 else ""
        return RewardRejected(errors[0].stage, known[0] if known else None, message + more)
    items = []
    for message, lines in merged.items():
        known = sorted({n for n in lines if n is not None})
        where = f"line {', '.join(map(str, known))}: " if known else ""
        items.append(f"{where}{message}")
    shown = items[:MAX_REPORTED]
    more = f"\n(and {len(items) - len(shown)} more problems)" if len(items) > len(shown) else ""
    body = "\n".join(f"{i}. {text}" for i, text in enumerate(shown, 1))
    first = min((e.line for e in errors if e.line is not None), default=None)
    return RewardRejected(
        errors[0].stage, first, f"{len(items)} problems; fix all of them:\n{body}{more}"
    )
