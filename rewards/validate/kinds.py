"""What kind of value an expression in a reward program can be: number-like, integer, sequence.

A small, flow-insensitive inference over one function, enough to tell ``-0.5 * dist`` (two
numbers: nothing to check) from ``row * n`` (maybe a list repeated ``n`` times). Kinds:

* ``INT``: a Python integer (constants, ``len``, ``int``, ``range`` loop variables, ``.size``)
  -- can grow without bound under ``**`` and ``<<``;
* ``NUM``: a number or an array (floats, the state's arrays, ``np``/``math``/``terms``
  results) -- never a ``str``/``list``/``tuple``, so ``*`` and ``+`` cannot repeat or concatenate;
* ``SEQ``: a list, tuple or string (literals, comprehensions, ``list(...)``, ``.tolist()``);
* ``UNKNOWN``: anything else (helper results, loop variables over data, subscripts of lists).

The static rules (:mod:`rewards.validate.growth`) reject what is certainly unbounded; the
runtime caps (:mod:`rewards.caps`) guard every operation whose operands are not both ``NUM`` or
``INT`` -- so a typical reward, all numbers, keeps its native operators at full speed.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping

INT = "int"
NUM = "num"
SEQ = "seq"
UNKNOWN = "unknown"

#: Calls whose result is a number or an array whatever the arguments.
_NUMERIC_BUILTINS = {"float", "abs", "bool", "divmod", "isinstance", "all", "any"}
_INT_BUILTINS = {"len", "int"}
_SEQ_BUILTINS = {"list", "tuple", "sorted", "str"}
#: Attributes of values that are numbers, or sequences.
_NUM_ATTRS = {"T", "real", "imag"}
_INT_ATTRS = {"size", "ndim"}
_SEQ_ATTRS = {"shape"}
_NUM_METHODS = {
    "all",
    "any",
    "argmax",
    "argmin",
    "astype",
    "clip",
    "conj",
    "copy",
    "cumsum",
    "dot",
    "flatten",
    "item",
    "max",
    "mean",
    "min",
    "prod",
    "ravel",
    "reshape",
    "round",
    "squeeze",
    "std",
    "sum",
    "transpose",
    "var",
}
_SEQ_METHODS = {"tolist", "keys", "values", "items"}
_NAMESPACES = {"np", "math", "terms"}


def _join(a: str, b: str) -> str:
    if a == b:
        return a
    if {a, b} == {INT, NUM}:
        return NUM
    return UNKNOWN


class Kinds:
    """Kinds of the local names of one function, and of expressions in it.

    Args:
        fn: the function definition.
        inputs: parameter names known to hold numbers, arrays or read-only mappings (the
            entry point's ``state``, ``action``, ``prev_state``, ``task``).
        constants: module-level constants (name -> value expression).
        namespaces: names bound to ``np``/``math``/``terms`` or their members by imports.
    """

    def __init__(
        self,
        fn: ast.FunctionDef | ast.Lambda,
        inputs: set[str],
        constants: Mapping[str, ast.expr],
        namespaces: set[str] = frozenset(),  # type: ignore[assignment]
    ) -> None:
        self.inputs = set(inputs)
        self.constants = constants
        self.namespaces = _NAMESPACES | set(namespaces)
        self.names: dict[str, str] = {}
        self._values: dict[str, list[ast.expr | None]] = {}
        self._collect(fn)
        self._solve()

    # -- gathering what each local is bound to
    def _collect(self, fn: ast.AST) -> None:
        args = fn.args  # type: ignore[attr-defined]
        for a in (*args.posonlyargs, *args.args, *args.kwonlyargs):
            self._values.setdefault(a.arg, []).append(
                None if a.arg not in self.inputs else _NUM_MARK
            )
        for node in ast.walk(fn):
            if isinstance(node, ast.Assign):
                for target in node.targets:
                    self._bind(target, node.value)
            elif isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name):
                self._bind(node.target, ast.BinOp(node.target, node.op, node.value))
            elif isinstance(node, ast.NamedExpr):
                self._bind(node.target, node.value)
            elif isinstance(node, (ast.For, ast.comprehension)):
                self._bind(node.target, _RangeItem(node.iter) if _is_range(node.iter) else None)
            elif isinstance(node, ast.Lambda) and node is not fn:
                for a in node.args.args:
                    self._values.setdefault(a.arg, []).append(None)

    def _bind(self, target: ast.expr, value: ast.expr | None) -> None:
        if isinstance(target, ast.Name):
            self._values.setdefault(target.id, []).append(value)
        elif isinstance(target, (ast.Tuple, ast.List)):
            # `a, b = x, y` binds each name to its own value; in other unpacking the parts'
            # kinds are not tracked
            pairs = assigned_pairs(target, value) if value is not None else []
            parts = dict(pairs)
            for elt in target.elts:
                if isinstance(elt, ast.Name) and elt.id in parts:
                    self._bind(elt, parts[elt.id])
                else:
                    self._bind(elt, None)

    def _solve(self) -> None:
        # Start optimistic (every local NUM) and weaken until nothing changes: the result
        # is a fixpoint, so a local is NUM only if every value it is ever bound to is.
        self.names = dict.fromkeys(self._values, NUM)
        for _ in range(len(self._values) + 2):
            changed = False
            for name, values in self._values.items():
                kind = None
                for v in values:
                    k = NUM if v is _NUM_MARK else UNKNOWN if v is None else self.of(v)
                    kind = k if kind is None else _join(kind, k)
                kind = kind or UNKNOWN
                if kind != self.names[name]:
                    self.names[name] = kind
                    changed = True
            if not changed:
                return

    # -- expressions
    def of(self, node: ast.expr) -> str:
        """The kind of ``node``."""
        if isinstance(node, _RangeItem):
            return INT
        if isinstance(node, ast.Constant):
            v = node.value
            if isinstance(v, (bool, float, complex)):
                return NUM
            if isinstance(v, int):
                return INT
            if isinstance(v, (str, bytes)):
                return SEQ
            return UNKNOWN
        if isinstance(node, (ast.List, ast.Tuple, ast.ListComp, ast.JoinedStr)):
            return SEQ
        if isinstance(node, (ast.Compare, ast.Dict, ast.Set, ast.SetComp, ast.DictComp)):
            return NUM if isinstance(node, ast.Compare) else UNKNOWN
        if isinstance(node, ast.Name):
            if node.id in self.names:
                return self.names[node.id]
            if node.id in self.inputs:
                return NUM
            value = self.constants.get(node.id)
            return UNKNOWN if value is None else self.of(value)
        if isinstance(node, ast.UnaryOp):
            return NUM if isinstance(node.op, ast.Not) else self.of(node.operand)
        if isinstance(node, ast.BinOp):
            left, right = self.of(node.left), self.of(node.right)
            if left in (INT, NUM) and right in (INT, NUM):
                if isinstance(node.op, ast.Div):
                    return NUM
                return INT if left == right == INT else NUM
            if isinstance(node.op, (ast.Mult, ast.Add)) and SEQ in (left, right):
                return SEQ if UNKNOWN not in (left, right) else UNKNOWN
            return UNKNOWN
        if isinstance(node, (ast.BoolOp, ast.IfExp)):
            parts = node.values if isinstance(node, ast.BoolOp) else [node.body, node.orelse]
            kind = self.of(parts[0])
            for p in parts[1:]:
                kind = _join(kind, self.of(p))
            return kind
        if isinstance(node, ast.Subscript):
            base = node.value
            if isinstance(base, ast.Name) and base.id in self.inputs:
                return NUM  # a state field, an action component, a task constant
            base_kind = self.of(base)
            if base_kind == NUM:
                return NUM  # indexing an array
            if base_kind == SEQ and isinstance(node.slice, ast.Slice):
                return SEQ
            return UNKNOWN
        if isinstance(node, ast.Attribute):
            if _root(node) in self.namespaces:
                return NUM  # np.pi, math.e
            if node.attr in _INT_ATTRS:
                return INT
            if node.attr in _SEQ_ATTRS:
                return SEQ
            if node.attr in _NUM_ATTRS and self.of(node.value) == NUM:
                return NUM
            return UNKNOWN
        if isinstance(node, ast.Call):
            return self._call(node)
        return UNKNOWN

    def _call(self, node: ast.Call) -> str:
        func = node.func
        if isinstance(func, ast.Attribute):
            if _root(func) in self.namespaces:
                return NUM  # np.*, math.*, terms.*: numbers and arrays
            receiver = self.of(func.value)
            if func.attr in _NUM_METHODS and receiver == NUM:
                return NUM
            if func.attr in _SEQ_METHODS:
                return SEQ
            return UNKNOWN
        if isinstance(func, ast.Name):
            name = func.id
            if name in self.names:
                return UNKNOWN  # an alias bound locally
            if name in self.namespaces:
                return NUM  # `norm = np.linalg.norm` style members imported by name
            if name in _NUMERIC_BUILTINS:
                return NUM
            if name in _INT_BUILTINS:
                return INT
            if name == "round":
                return INT if len(node.args) == 1 else NUM
            if name in _SEQ_BUILTINS:
                return SEQ
            if name in ("min", "max", "sum") and node.args:
                kinds = {self.of(a) for a in node.args}
                if len(node.args) > 1 or name == "sum":
                    if kinds <= {INT}:
                        return INT
                    if kinds <= {INT, NUM}:
                        return NUM
        return UNKNOWN


class _RangeItem(ast.expr):
    """Marker value: the loop variable of ``for i in range(...)`` (an int)."""

    def __init__(self, call: ast.expr) -> None:
        super().__init__()
        self.call = call


_NUM_MARK = ast.Constant(value=0.0)


def _is_range(node: ast.expr) -> bool:
    return (
        isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "range"
    )


def _root(node: ast.expr) -> str | None:
    while isinstance(node, ast.Attribute):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def assigned_pairs(target: ast.expr, value: ast.expr) -> list[tuple[str, ast.expr]]:
    """The names an assignment binds with the value each gets: ``A = v`` and the element-wise
    ``A, B = 0.2, 0.3``; other unpacking binds nothing that is tracked."""
    if isinstance(target, ast.Name):
        return [(target.id, value)]
    if (
        isinstance(target, (ast.Tuple, ast.List))
        and isinstance(value, (ast.Tuple, ast.List))
        and len(target.elts) == len(value.elts)
        and not any(isinstance(e, ast.Starred) for e in (*target.elts, *value.elts))
    ):
        return [
            pair
            for t, v in zip(target.elts, value.elts, strict=True)
            for pair in assigned_pairs(t, v)
        ]
    return []


def program_kinds(tree: ast.Module, entry: str, aliases: set[str]) -> dict[str, Kinds]:
    """:class:`Kinds` of every function of a validated program, by name.

    The entry point's parameters are inputs (numbers, arrays, read-only mappings). A helper's
    parameter counts as one too when every call of the helper passes the entry point's inputs
    or numbers in its place, so ``_target(state, task)`` helpers keep native operators.
    """
    functions = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}
    constants: dict[str, ast.expr] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign):
            for target in node.targets:
                for name, value in assigned_pairs(target, node.value):
                    constants[name] = value
    fn = functions.get(entry)
    params = {a.arg for a in fn.args.args} if fn is not None else set()
    kinds: dict[str, Kinds] = {}
    if fn is not None:
        kinds[entry] = Kinds(fn, params, constants, aliases)
    plain = {n: Kinds(f, set(), constants, aliases) for n, f in functions.items() if n != entry}
    callers = {**plain, **kinds}
    for name, helper in functions.items():
        if name == entry:
            continue
        positions = [a.arg for a in helper.args.args]
        numeric = set(positions)
        for caller_name, caller in functions.items():
            for node in ast.walk(caller):
                if isinstance(node, ast.Name) and node.id == name:
                    call = _call_of(caller, node)
                    if call is None or call.keywords or len(call.args) != len(positions):
                        numeric = set()  # passed around or called oddly: assume nothing
                        continue
                    k = callers[caller_name]
                    for pos, arg in zip(positions, call.args, strict=True):
                        if k.of(arg) not in (INT, NUM):
                            numeric.discard(pos)
        kinds[name] = Kinds(helper, numeric, constants, aliases)
    return kinds


def _call_of(fn: ast.AST, name: ast.Name) -> ast.Call | None:
    for node in ast.walk(fn):
        if isinstance(node, ast.Call) and node.func is name:
            return node
    return None
