"""Bounds on the work and the size of what a function builds, checked statically.

A mixin of :class:`rewards.validate.function._FunctionChecker`: ranges need a bound known to be
at most :data:`MAX_RANGE`, nested constant loops at most :data:`MAX_LOOP_WORK` iterations,
exponents and repetition counts known bounds; what cannot be known statically is capped at run
time by :mod:`rewards.caps`.
"""

from __future__ import annotations

import ast
import math
import re
from collections.abc import Iterable
from typing import Any

from rewards.validate.common import (
    MAX_ELEMENTS,
    MAX_FORMAT_WIDTH,
    MAX_LOOP_WORK,
    MAX_POW_EXPONENT,
    MAX_RANGE,
    MAX_REPEAT,
    _code,
    _fail,
)
from rewards.validate.kinds import INT, NUM, SEQ, Kinds


class GrowthRules(ast.NodeVisitor):
    """Loop, range, power and repetition rules.

    The state they read lives on the checker: its local ``bindings``, the ``owner`` module
    checker (constants), the task ``ctx``, the ``task_name`` parameter, the variables being
    ``iterating`` over and the iterations per call of the enclosing loops (``loop_work``).
    """

    bindings: dict[str, list[ast.expr | None]]
    owner: Any
    ctx: Any
    task_name: str | None
    iterating: list[set[str]]
    loop_work: list[int]
    kinds: Kinds

    def _check_range(self, node: ast.Call) -> None:
        bounds = [self._bound(a) for a in node.args]
        if not node.args or node.keywords or any(b is None for b in bounds):
            _fail(
                node,
                f"{_code(node)}: a range must have a bound known to be at most "
                f"{MAX_RANGE}: use integer constants, len(x), x.shape[i], x.size or "
                "min(n, CONSTANT).",
            )
        span = self._span(node)
        if span is None or span > MAX_RANGE:
            _fail(node, f"{_code(node)}: ranges are limited to {MAX_RANGE} steps.")

    def _span(self, call: ast.Call, data: int = MAX_RANGE) -> int | None:
        """An upper bound on the number of steps of ``range(...)``."""
        bounds = [self._bound(a, data) for a in call.args]
        if not bounds or any(b is None for b in bounds):
            return None
        return bounds[0] if len(bounds) == 1 else bounds[0] + bounds[1]  # type: ignore[operator]

    def _loop_factor(self, it: ast.expr) -> int:
        """Iterations a loop over ``it`` adds to the nesting product (1 unless a range)."""
        if (
            isinstance(it, ast.Call)
            and isinstance(it.func, ast.Name)
            and it.func.id == "range"
            and it.func.id not in self.bindings
        ):
            return self._span(it, data=1) or 1
        return 1

    def _enter_loops(self, node: ast.AST, iters: list[ast.expr]) -> None:
        work = self.loop_work[-1] if self.loop_work else 1
        for it in iters:
            work *= self._loop_factor(it)
        if work > MAX_LOOP_WORK:
            _fail(
                node,
                f"{_code(node)}: nested loops over constant ranges would run {work} "
                f"iterations per call; the limit is {MAX_LOOP_WORK}.",
            )
        self.loop_work.append(work)

    def _bound(self, node: ast.expr, data: int = MAX_RANGE) -> int | None:
        """An upper bound on |value| of an integer expression, or None if unknown.

        Sizes of existing data (``len(x)``, ``x.shape[0]``) count as ``data``.
        """
        if isinstance(node, ast.Constant) and isinstance(node.value, int):
            return abs(node.value)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            return self._bound(node.operand, data)
        if isinstance(node, ast.Name) and node.id not in self.bindings:
            value = self.owner.constants.get(node.id)
            return self._bound(value, data) if value is not None else None
        if isinstance(node, ast.Subscript):
            if isinstance(node.value, ast.Attribute) and node.value.attr == "shape":
                return data  # sizes of existing data: as bounded as the data itself
            if (
                isinstance(node.value, ast.Name)
                and node.value.id == self.task_name
                and isinstance(node.slice, ast.Constant)
            ):
                value = self.ctx.constants.get(node.slice.value)  # type: ignore[call-overload]
                return abs(int(value)) if isinstance(value, (int, float)) else None
            return None
        if isinstance(node, ast.Attribute) and node.attr in ("size", "ndim"):
            return data
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and not node.keywords:
            fname = node.func.id
            if fname == "len" and fname not in self.bindings:
                return data
            if fname in ("int", "round", "abs") and len(node.args) == 1:
                return self._bound(node.args[0], data)
            if fname == "min" and node.args:
                known = [b for b in (self._bound(a, data) for a in node.args) if b is not None]
                return min(known) if known else None
            return None
        if isinstance(node, ast.BinOp):
            left, right = self._bound(node.left, data), self._bound(node.right, data)
            if left is None or right is None:
                return None
            if isinstance(node.op, (ast.Add, ast.Sub)):
                return left + right
            if isinstance(node.op, ast.Mult):
                return left * right
            if isinstance(node.op, ast.FloorDiv):
                return left
            if isinstance(node.op, ast.Mod):
                return right
            if isinstance(node.op, (ast.Pow, ast.LShift)):
                # Towers like (9 ** 60) ** (9 ** 60) must be seen as huge, not unknown.
                base = 2 if isinstance(node.op, ast.LShift) else left
                if base <= 1:
                    return 1 if isinstance(node.op, ast.Pow) else left
                if right * math.log2(base) > 256:
                    return 2**256
                return left**right if isinstance(node.op, ast.Pow) else left << right
        return None

    def visit_For(self, node: ast.For) -> None:
        self.visit(node.iter)
        self.visit(node.target)
        roots = self._iter_roots([node.iter])
        self.iterating.append(roots)
        self._enter_loops(node, [node.iter])
        for stmt in node.body:
            self.visit(stmt)
        self.loop_work.pop()
        self.iterating.pop()
        for stmt in node.orelse:
            self.visit(stmt)

    def _iter_roots(self, iters: Iterable[ast.expr]) -> set[str]:
        roots: set[str] = set()
        for it in iters:
            for sub in ast.walk(it):
                if isinstance(sub, ast.Name) and sub.id in self.bindings:
                    roots.add(sub.id)
        return roots

    def _visit_comprehension(self, node: ast.expr, elts: list[ast.expr]) -> None:
        generators: list[ast.comprehension] = node.generators  # type: ignore[attr-defined]
        for gen in generators:
            if gen.is_async:
                _fail(node, "async comprehensions are not allowed.")
            self.visit(gen.iter)
            self.visit(gen.target)
            for cond in gen.ifs:
                self.visit(cond)
        self.iterating.append(self._iter_roots(g.iter for g in generators))
        self._enter_loops(node, [g.iter for g in generators])
        for elt in elts:
            self.visit(elt)
        self.loop_work.pop()
        self.iterating.pop()

    def visit_ListComp(self, node: ast.ListComp) -> None:
        self._visit_comprehension(node, [node.elt])

    def visit_SetComp(self, node: ast.SetComp) -> None:
        self._visit_comprehension(node, [node.elt])

    def visit_GeneratorExp(self, node: ast.GeneratorExp) -> None:
        self._visit_comprehension(node, [node.elt])

    def visit_DictComp(self, node: ast.DictComp) -> None:
        self._visit_comprehension(node, [node.key, node.value])

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        if isinstance(node.target, ast.Name) and any(node.target.id in s for s in self.iterating):
            _fail(
                node,
                f"{_code(node)} changes `{node.target.id}` while looping over it; "
                "accumulate into another variable.",
            )
        if isinstance(node.target, ast.Name) and node.target.id not in self.bindings:
            _fail(node, f"{_code(node)}: `{node.target.id}` is not a local variable.")
        self._check_power(node, node.op, node.target, node.value)
        self._check_repeat(node, node.op, node.target, node.value)
        if isinstance(node.target, ast.Name):
            self._check_doubling(node, node.target.id, node.op, node.value, augmented=True)
        self.generic_visit(node)

    def visit_Assign(self, node: ast.Assign) -> None:
        value = node.value
        if len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            name = node.targets[0].id
            if isinstance(value, ast.BinOp) and _is_name(value.left, name):
                self._check_doubling(node, name, value.op, value.right, augmented=False)
            elif isinstance(value, ast.BinOp) and _is_name(value.right, name):
                self._check_doubling(node, name, value.op, value.left, augmented=False)
        self.generic_visit(node)

    def _check_doubling(
        self, node: ast.AST, name: str, op: ast.operator, other: ast.expr, *, augmented: bool
    ) -> None:
        """``s = s + s`` or ``s *= k`` inside a loop: a sequence that grows geometrically."""
        if not self.loop_work or self.kinds.of(ast.Name(name, ast.Load())) in (INT, NUM):
            return
        doubling = isinstance(op, ast.Add) and _is_name(other, name)
        repeating = isinstance(op, ast.Mult) and self.kinds.of(ast.Name(name, ast.Load())) == SEQ
        if doubling or repeating:
            _fail(
                node,
                f"{_code(node)} grows `{name}` geometrically inside a loop (each pass "
                f"{'doubles' if doubling else 'multiplies'} it), which exhausts memory within "
                "a few dozen passes. Build a bounded result instead, e.g. append one item per "
                "pass or use an array of a fixed size.",
            )

    def visit_BinOp(self, node: ast.BinOp) -> None:
        self._check_power(node, node.op, node.left, node.right)
        self._check_repeat(node, node.op, node.left, node.right)
        if isinstance(node.op, ast.Mod) and isinstance(node.left, ast.Constant):
            self._check_percent_format(node, node.left.value)
        self.generic_visit(node)

    def _check_repeat(
        self, node: ast.AST, op: ast.operator, left: ast.expr, right: ast.expr
    ) -> None:
        if not isinstance(op, ast.Mult):
            return
        for seq, count in ((left, right), (right, left)):
            seq_like = isinstance(seq, (ast.List, ast.Tuple, ast.ListComp)) or (
                isinstance(seq, ast.Constant) and isinstance(seq.value, (str, bytes))
            )
            held = not seq_like and self.kinds.of(seq) == SEQ  # `row * n`, row a list
            bound = self._bound(count)
            if (seq_like or held) and (bound is None or bound > MAX_REPEAT):
                what = (
                    f"`{_unparse(seq)}` holds a sequence, and repeating it"
                    if held
                    else ("repeating a sequence")
                )
                _fail(
                    node,
                    f"{_code(node)}: {what} needs a count known to be at most {MAX_REPEAT} "
                    f"(a constant, or `min(n, {MAX_REPEAT})`). For numbers, convert first: "
                    f"`np.asarray({_unparse(seq)}) * k` scales instead of repeating.",
                )

    def _check_power(
        self, node: ast.AST, op: ast.operator, left: ast.expr, right: ast.expr
    ) -> None:
        if not isinstance(op, (ast.Pow, ast.LShift)):
            return
        bound = self._bound(right)
        if bound is not None and bound > MAX_POW_EXPONENT:
            _fail(
                node,
                f"{_code(node)}: exponents and shifts above {MAX_POW_EXPONENT} are "
                "not allowed (they build enormous numbers).",
            )
        if bound is not None:
            return
        exponent = self.kinds.of(right)
        if exponent == INT or (
            isinstance(left, ast.Name) and _is_name(right, left.id) and exponent != NUM
        ):
            _fail(
                node,
                f"{_code(node)}: `{_unparse(right)}` is an integer with no known bound, and "
                "integer powers and shifts can build numbers of millions of digits. Use a "
                f"float exponent (`float({_unparse(right)})`), a constant, or clamp it: "
                f"`min({_unparse(right)}, {MAX_POW_EXPONENT})`.",
            )

    def visit_FormattedValue(self, node: ast.FormattedValue) -> None:
        spec = node.format_spec
        if spec is not None:
            if any(isinstance(v, ast.FormattedValue) for v in spec.values):  # type: ignore[attr-defined]
                _fail(
                    node,
                    f"{_code(node)}: format specs must be literal (`f'{{x:.3f}}'`); a width "
                    "computed at run time (`{x:>{width}}`) can pad to gigabytes.",
                )
            text = "".join(
                str(v.value)
                for v in spec.values
                if isinstance(v, ast.Constant)  # type: ignore[attr-defined]
            )
            self._check_widths(node, [int(n) for n in re.findall(r"\d+", text)])
        self.generic_visit(node)

    def _check_percent_format(self, node: ast.AST, fmt: object) -> None:
        if isinstance(fmt, (str, bytes)):
            text = fmt.decode("latin-1") if isinstance(fmt, bytes) else fmt
            specs = re.findall(r"%(?:\([^)]*\))?[-#0 +]*(\d*)(?:\.(\d*))?", text)
            self._check_widths(node, [int(n) for pair in specs for n in pair if n])

    def _check_widths(self, node: ast.AST, widths: list[int]) -> None:
        if widths and max(widths) > MAX_FORMAT_WIDTH:
            _fail(
                node,
                f"{_code(node)}: a format width or precision of {max(widths):,} is over the "
                f"limit of {MAX_FORMAT_WIDTH:,}. Reward terms are numbers; no formatting "
                "is needed.",
            )

    def _check_array_size(self, node: ast.Call, name: str) -> None:
        """``np.zeros(10**9)`` and friends: sizes known statically must be small."""
        args = node.args
        kw = {k.arg: k.value for k in node.keywords if k.arg}
        size: int | None = None
        if name in ("zeros", "ones", "full") and args:
            size = self._elements(args[0])
        elif name == "linspace":
            num = args[2] if len(args) > 2 else kw.get("num")
            size = self._bound(num) if num is not None else None
        elif name == "arange" and args:
            bounds = [self._bound(a) for a in args[:2]]
            if all(b is not None for b in bounds):
                size = sum(b for b in bounds if b is not None)
        elif name == "tile" and len(args) > 1:
            size = self._elements(args[1])
        if size is not None and size > MAX_ELEMENTS:
            _fail(
                node,
                f"{_code(node)} builds an array of up to {size:,} elements; the limit is "
                f"{MAX_ELEMENTS:,}. Rewards need a handful of numbers per state: use small, "
                "fixed sizes.",
            )

    def _elements(self, shape: ast.expr) -> int | None:
        if isinstance(shape, (ast.Tuple, ast.List)):
            total = 1
            for elt in shape.elts:
                b = self._bound(elt)
                if b is None:
                    return None
                total *= b
            return total
        return self._bound(shape)


def _is_name(node: ast.expr, name: str) -> bool:
    return isinstance(node, ast.Name) and node.id == name


def _unparse(node: ast.expr, limit: int = 40) -> str:
    text = ast.unparse(node)
    return text if len(text) <= limit else text[: limit - 3] + "..."

    # -- returns
