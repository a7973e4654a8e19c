"""Runtime caps inside the reward namespace: sizes, integer powers, format widths.

Static checks bound what they can see (constant ranges, literal exponents and repetition
counts); sizes that depend on the state are only known when the program runs. So the
compiler rewrites the few operations that can build something huge, where the operands are
not provably numbers (:mod:`rewards.validate.kinds`), into calls of the guarded versions below,
and the provided ``np`` holds capped versions of its constructors. Each raises
:class:`rewards.RewardLimitExceeded` (limit ``size``) *before* building anything, with a
message saying what was too big and what to do instead:

* ``a * b``, ``a + b`` on sequences (repetition, concatenation): at most :data:`MAX_ELEMENTS`
  items or characters;
* ``a ** b``, ``a << b`` and ``pow`` on integers: at most :data:`MAX_INT_BITS` bits;
* ``fmt % args``: field widths and precisions at most :data:`MAX_FORMAT_WIDTH`;
* ``np.zeros/ones/full/arange/linspace/tile/outer/concatenate/hstack/vstack/stack``: at most
  :data:`MAX_ELEMENTS` elements.

``-0.5 * dist`` and ``d ** 2`` keep Python's native operators: a typical reward, all numbers,
pays nothing for the caps. Array arithmetic (broadcasting) is left to the address-space limit
of the guarded worker (:mod:`rewards.guard`).
"""

from __future__ import annotations

import ast
import builtins
import math
import re
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from rewards.errors import RewardLimitExceeded

#: Largest array (elements) or sequence (items, characters) a program may build: 8 MB of
#: float64, far more than any reward needs.
MAX_ELEMENTS = 1_000_000
#: Largest integer (bits) ``**``, ``<<`` and ``pow`` may produce (about 1,200 digits).
MAX_INT_BITS = 4096
#: Widest field a format may pad to.
MAX_FORMAT_WIDTH = 1000

_SEQUENCES = (str, bytes, list, tuple)


def _too_big(what: str, size: int, fix: str) -> RewardLimitExceeded:
    return RewardLimitExceeded(
        "size", f"{what} would hold {size:,} items; the limit is {MAX_ELEMENTS:,}. {fix}"
    )


# --------------------------------------------------------------------------- operators
def mul(a: Any, b: Any) -> Any:
    """``a * b``, refusing to repeat a sequence past :data:`MAX_ELEMENTS`."""
    seq, count = (a, b) if isinstance(a, _SEQUENCES) else (b, a)
    if isinstance(seq, _SEQUENCES) and isinstance(count, int) and count > 0:
        size = len(seq) * count
        if size > MAX_ELEMENTS:
            raise _too_big(
                f"repeating a {type(seq).__name__} of {len(seq)} items {count:,} times",
                size,
                "Repeat only small, bounded counts; use np arrays of a fixed size.",
            )
    return a * b


def add(a: Any, b: Any) -> Any:
    """``a + b``, refusing to concatenate sequences past :data:`MAX_ELEMENTS`."""
    if isinstance(a, _SEQUENCES) and isinstance(b, _SEQUENCES):
        size = len(a) + len(b)
        if size > MAX_ELEMENTS:
            raise _too_big(
                f"concatenating {type(a).__name__}s",
                size,
                "Do not grow a list or string by doubling it; build a bounded result.",
            )
    return a + b


def _int_bits(a: Any, b: Any) -> float:
    """Bits of ``a ** b`` for integers (an estimate that errs large)."""
    return b * math.log2(abs(a)) if abs(a) > 1 else 0.0


def _is_int(x: Any) -> bool:
    return isinstance(x, int)  # bool too; numpy integers wrap around instead of growing


def power(a: Any, b: Any, mod: Any = None) -> Any:
    """``a ** b`` (and ``pow(a, b[, mod])``), refusing integers past :data:`MAX_INT_BITS`."""
    if mod is None and _is_int(a) and _is_int(b) and b > 0 and _int_bits(a, b) > MAX_INT_BITS:
        raise RewardLimitExceeded(
            "size",
            f"{a} ** {b:,} would be an integer of about {_int_bits(a, b):,.0f} bits; the limit "
            f"is {MAX_INT_BITS:,}. Use a float (e.g. `float(a) ** b`) or clamp the exponent.",
        )
    return builtins.pow(a, b) if mod is None else builtins.pow(a, b, mod)


def lshift(a: Any, b: Any) -> Any:
    """``a << b``, refusing integers past :data:`MAX_INT_BITS`."""
    if _is_int(a) and _is_int(b) and a and a.bit_length() + b > MAX_INT_BITS:
        raise RewardLimitExceeded(
            "size",
            f"{a} << {b:,} would be an integer of {a.bit_length() + b:,} bits; the limit is "
            f"{MAX_INT_BITS:,}. Shift only by small amounts.",
        )
    return a << b


_PERCENT_SPEC = re.compile(rb"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?")


def mod(a: Any, b: Any) -> Any:
    """``a % b``; for ``str``/``bytes`` formatting, field widths of at most
    :data:`MAX_FORMAT_WIDTH`."""
    if isinstance(a, (str, bytes)):
        text = a.encode("utf-8", "replace") if isinstance(a, str) else a
        values = b if isinstance(b, tuple) else (b,)
        star = False
        for width, precision in _PERCENT_SPEC.findall(text):
            for part in (width, precision):
                if part == b"*":
                    star = True
                elif part and int(part) > MAX_FORMAT_WIDTH:
                    raise _wide(int(part))
        if star:
            for v in values:
                if _is_int(v) and abs(v) > MAX_FORMAT_WIDTH:
                    raise _wide(abs(v))
    return a % b


def _wide(width: int) -> RewardLimitExceeded:
    return RewardLimitExceeded(
        "size",
        f"a format width of {width:,} characters is over the limit of {MAX_FORMAT_WIDTH:,}. "
        "Terms are numbers: reward programs do not need string formatting.",
    )


#: The guarded operators, under names programs cannot write (dunder names are rejected).
OPERATORS: Mapping[str, Callable[..., Any]] = {
    "__cap_mul__": mul,
    "__cap_add__": add,
    "__cap_pow__": power,
    "__cap_lshift__": lshift,
    "__cap_mod__": mod,
}
_BINOPS: dict[type, str] = {
    ast.Mult: "__cap_mul__",
    ast.Add: "__cap_add__",
    ast.Pow: "__cap_pow__",
    ast.LShift: "__cap_lshift__",
    ast.Mod: "__cap_mod__",
}


# --------------------------------------------------------------------------- numpy
def _elements(shape: Any) -> int:
    try:
        if isinstance(shape, (int, np.integer)):
            return int(shape)
        n = 1
        for s in shape:
            n *= int(s)
        return n
    except (TypeError, ValueError, OverflowError):
        return 0  # not a shape: numpy raises its own error


def _size(x: Any) -> int:
    try:
        return int(np.size(x))
    except Exception:  # ragged input: numpy raises its own error when it is used
        return 0


def _arange_count(*args: Any, **kwargs: Any) -> int:
    try:
        values = [float(a) for a in args[:3]]
        start, stop, step = 0.0, None, kwargs.get("step", 1.0)
        if len(values) == 1:
            stop = values[0]
        elif len(values) >= 2:
            start, stop = values[0], values[1]
            if len(values) == 3:
                step = values[2]
        start = float(kwargs.get("start", start))
        stop = float(kwargs.get("stop", stop))
        return max(0, math.ceil((stop - start) / float(step)))
    except (TypeError, ValueError, ZeroDivisionError, OverflowError):
        return 0


def _sequence_total(arrays: Any) -> int:
    try:
        return sum(_size(a) for a in arrays)
    except TypeError:
        return 0


_COUNTS: dict[str, Callable[..., int]] = {
    "zeros": lambda shape, *a, **k: _elements(shape),
    "ones": lambda shape, *a, **k: _elements(shape),
    "full": lambda shape, *a, **k: _elements(shape),
    "arange": _arange_count,
    "linspace": lambda start, stop, num=50, *a, **k: _elements(num),
    "tile": lambda x, reps, *a, **k: _size(x) * max(1, _elements(reps)),
    "outer": lambda x, y, *a, **k: _size(x) * _size(y),
    "concatenate": lambda arrays, *a, **k: _sequence_total(arrays),
    "hstack": lambda arrays, *a, **k: _sequence_total(arrays),
    "vstack": lambda arrays, *a, **k: _sequence_total(arrays),
    "stack": lambda arrays, *a, **k: _sequence_total(arrays),
}
#: numpy constructors whose result size the program controls.
CAPPED_NUMPY: frozenset[str] = frozenset(_COUNTS)


def _capped(name: str) -> Callable[..., Any]:
    fn = getattr(np, name)
    count = _COUNTS[name]

    def capped(*args: Any, **kwargs: Any) -> Any:
        try:
            n = count(*args, **kwargs)
        except TypeError:  # wrong arguments: numpy's own message is the better one
            n = 0
        if n > MAX_ELEMENTS:
            raise _too_big(
                f"np.{name}(...)",
                n,
                "Rewards need a handful of numbers per state: use small, fixed sizes.",
            )
        return fn(*args, **kwargs)

    capped.__name__ = capped.__qualname__ = name
    capped.__doc__ = f"numpy.{name}, limited to {MAX_ELEMENTS:,} elements."
    return capped


def capped_numpy() -> dict[str, Callable[..., Any]]:
    """The capped numpy constructors, by name (what the provided ``np`` holds)."""
    return {name: _capped(name) for name in CAPPED_NUMPY}


# --------------------------------------------------------------------------- rewriting
def guard_operations(tree: ast.Module, kinds_of: Callable[[ast.AST], Any]) -> ast.Module:
    """Rewrite ``*``, ``+``, ``**``, ``<<`` and ``%`` that may build something huge.

    Args:
        tree: the validated module (changed in place and returned).
        kinds_of: function definition -> its :class:`rewards.validate.kinds.Kinds`.
    """
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            _Rewriter(kinds_of(node)).visit(node)
    ast.fix_missing_locations(tree)
    return tree


_NUMERIC = ("int", "num")


class _Rewriter(ast.NodeTransformer):
    def __init__(self, kinds: Any) -> None:
        self.kinds = kinds

    def _needs_guard(self, op: ast.operator, left: ast.expr, right: ast.expr) -> bool:
        if isinstance(op, (ast.Pow, ast.LShift)):
            small = (
                isinstance(right, ast.Constant)
                and isinstance(right.value, (int, float))
                and abs(right.value) <= 64
            )
            return not small
        if isinstance(op, ast.Mod):
            return self.kinds.of(left) not in _NUMERIC
        if isinstance(op, (ast.Mult, ast.Add)):
            # A float never repeats or concatenates a sequence (`2.0 * xs` raises), so a
            # weight like `5.0 * (a - b)` needs no guard whatever `a - b` is.
            if self._is_float(left) or self._is_float(right):
                return False
            return not (self.kinds.of(left) in _NUMERIC and self.kinds.of(right) in _NUMERIC)
        return False

    def _is_float(self, node: ast.expr) -> bool:
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            node = node.operand
        if isinstance(node, ast.Name):
            value = self.kinds.constants.get(node.id)
            return value is not None and node.id not in self.kinds.names and self._is_float(value)
        return isinstance(node, ast.Constant) and type(node.value) is float

    def visit_BinOp(self, node: ast.BinOp) -> ast.expr:
        self.generic_visit(node)
        if type(node.op) in _BINOPS and self._needs_guard(node.op, node.left, node.right):
            call = ast.Call(
                func=ast.Name(_BINOPS[type(node.op)], ast.Load()),
                args=[node.left, node.right],
                keywords=[],
            )
            return ast.copy_location(call, node)
        return node

    def visit_AugAssign(self, node: ast.AugAssign) -> ast.stmt:
        self.generic_visit(node)
        target = node.target
        if (
            isinstance(target, ast.Name)
            and type(node.op) in _BINOPS
            and self._needs_guard(node.op, target, node.value)
        ):
            call = ast.Call(
                func=ast.Name(_BINOPS[type(node.op)], ast.Load()),
                args=[ast.Name(target.id, ast.Load()), node.value],
                keywords=[],
            )
            assign = ast.Assign(targets=[ast.Name(target.id, ast.Store())], value=call)
            return ast.copy_location(assign, node)
        return node
