"""Parse and statically check a reward program against an AST allowlist and the task's fields.

:func:`validate` turns program text into a :class:`ValidatedProgram` (a cleaned AST ready to
compile) or raises :class:`RewardRejected` at the ``parse`` or ``validate`` stage. It never
runs the program. What it accepts:

* at module level: function definitions (no decorators), constant assignments (numbers,
  strings, tuples/lists/dicts of them, ``np.array([...])`` of literals), a docstring;
  imports of numpy/math/``rewards.terms`` are mapped onto the provided read-only namespaces
  and typing/``__future__`` imports are dropped; an ``if __name__ == "__main__":`` block is
  dropped;
* inside functions: arithmetic, comparisons, boolean logic, ``if``, ``for`` (over data or a
  ``range`` whose bound is known to be at most :data:`MAX_RANGE`), comprehensions, local
  assignments, returns, calls of the provided ``np``/``math``/``terms`` members, safe
  builtins and module-level helpers, and ``lambda`` only as a call argument (``key=``).

Every problem it can find is reported in one pass: checking goes on after a refused
statement, import or expression (skipping only what is inside it), and the one
:class:`RewardRejected` raised lists every problem with its line (numbered, duplicates
merged), so a model can fix them all in one repair round. Only parse errors stop at once.

What it refuses, each with a message naming the line, the rule and the fix: imports of
anything else, names or attributes starting with ``_`` (dunders), attributes not on the
allowlist, ``exec``/``eval``/``open``/``compile``/``getattr``/``globals``/``__import__`` and
friends, ``while``, ``try``, ``with``, ``class``, ``global``, ``del``, ``yield``, recursion,
assignment to attributes or to ``state``/``prev_state``/``task``/``action``, unknown state
fields and task constants, huge exponents or repetitions, oversized or deeply nested code.
"""

from __future__ import annotations

from rewards.errors import RewardRejected
from rewards.program import RewardContext
from rewards.validate.common import (
    ENTRY,
    FILENAME,
    MAX_AST_DEPTH,
    MAX_AST_NODES,
    MAX_ELEMENTS,
    MAX_FORMAT_WIDTH,
    MAX_LOOP_WORK,
    MAX_POW_EXPONENT,
    MAX_RANGE,
    MAX_REPEAT,
    MAX_SOURCE_CHARS,
    MAX_SOURCE_LINES,
    ValidatedProgram,
    _combined,
)
from rewards.validate.imports import _Prepare
from rewards.validate.module import _Checker
from rewards.validate.parse import parse


def validate(source: str, ctx: RewardContext) -> ValidatedProgram:
    """Statically check a reward program for a task.

    Args:
        source: the program text (already extracted from a model response).
        ctx: the task's reward context (state fields, constants).

    Returns:
        The cleaned program, ready for :func:`rewards.compile.compile_validated`.

    Raises:
        RewardRejected: at stage ``parse`` or ``validate``, with the line and a fix.
    """
    tree = parse(source)
    errors: list[RewardRejected] = []
    prepared = _Prepare(ctx, errors)
    tree = prepared.run(tree)
    program = _Checker(source, tree, prepared, ctx, errors).run()
    if errors:
        raise _combined(errors)
    return program


__all__ = [
    "ENTRY",
    "FILENAME",
    "MAX_AST_DEPTH",
    "MAX_AST_NODES",
    "MAX_ELEMENTS",
    "MAX_FORMAT_WIDTH",
    "MAX_LOOP_WORK",
    "MAX_POW_EXPONENT",
    "MAX_RANGE",
    "MAX_REPEAT",
    "MAX_SOURCE_CHARS",
    "MAX_SOURCE_LINES",
    "ValidatedProgram",
    "parse",
    "validate",
]
