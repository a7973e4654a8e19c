"""Parsing within the size and nesting limits (stage ``parse``)."""

from __future__ import annotations

import ast

from rewards.validate.common import (
    FILENAME,
    MAX_AST_DEPTH,
    MAX_AST_NODES,
    MAX_SOURCE_CHARS,
    MAX_SOURCE_LINES,
    _fail,
)


def parse(source: str) -> ast.Module:
    """Parse program text within the size and nesting limits.

    Raises:
        RewardRejected: (stage ``parse``) for oversized, syntactically wrong or too deeply
            nested code.
    """
    if len(source) > MAX_SOURCE_CHARS:
        _fail(
            None,
            f"the program is {len(source)} characters long; the limit is {MAX_SOURCE_CHARS}. "
            "A reward needs a few dozen lines: drop examples and long comments.",
            "parse",
        )
    n_lines = source.count("\n") + 1
    if n_lines > MAX_SOURCE_LINES:
        _fail(
            None,
            f"the program has {n_lines} lines; the limit is {MAX_SOURCE_LINES}.",
            "parse",
        )
    try:
        tree = ast.parse(source, filename=FILENAME)
    except SyntaxError as exc:
        text = (exc.text or "").strip()
        quoted = f": `{text[:80]}`" if text else ""
        _fail(exc.lineno, f"Python syntax error, {exc.msg}{quoted}. Fix the syntax.", "parse")
    except ValueError as exc:  # e.g. null bytes in the source
        _fail(
            None, f"the program text cannot be parsed ({exc}); send plain Python source.", "parse"
        )
    except (RecursionError, MemoryError):
        _fail(None, "the program is nested too deeply to parse; flatten it.", "parse")
    nodes = 0
    stack: list[tuple[ast.AST, int]] = [(tree, 0)]
    while stack:
        node, depth = stack.pop()
        nodes += 1
        if depth > MAX_AST_DEPTH:
            _fail(
                node,
                f"code is nested more than {MAX_AST_DEPTH} levels deep; split long expressions "
                "into intermediate variables.",
                "parse",
            )
        if nodes > MAX_AST_NODES:
            _fail(
                None,
                f"the program has more than {MAX_AST_NODES} syntax nodes; shorten it.",
                "parse",
            )
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))
    return tree
