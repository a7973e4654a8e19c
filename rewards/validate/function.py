"""The allowlist inside function bodies: names, attributes, calls, state fields, returns.

Bounds on work and size (ranges, loops, powers, repetition, array sizes, format widths) are
checked by the :class:`rewards.validate.growth.GrowthRules` mixin.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from typing import TYPE_CHECKING

from rewards.caps import CAPPED_NUMPY
from rewards.errors import RewardRejected
from rewards.namespace import (
    FORBIDDEN_CALLS,
    IMPORTABLE,
    NUMPY,
    PROVIDED_MODULES,
    SAFE_BUILTIN_NAMES,
    VALUE_ATTRS,
    ReadOnlyNamespace,
    members_of,
)
from rewards.validate.common import _PROVIDED, ENTRY, _code, _did_you_mean, _fail, _listing
from rewards.validate.growth import GrowthRules
from rewards.validate.kinds import Kinds

if TYPE_CHECKING:
    from rewards.validate.module import _Checker

# Statement and expression node types accepted inside functions. Everything else is
# refused with the reason in _NODE_REASONS (or a generic one).
_ALLOWED_STMTS = (
    ast.Return,
    ast.Assign,
    ast.AugAssign,
    ast.For,
    ast.If,
    ast.Expr,
    ast.Pass,
    ast.Break,
    ast.Continue,
)
_ALLOWED_EXPRS = (
    ast.BoolOp,
    ast.NamedExpr,
    ast.BinOp,
    ast.UnaryOp,
    ast.Lambda,
    ast.IfExp,
    ast.Dict,
    ast.Set,
    ast.ListComp,
    ast.SetComp,
    ast.DictComp,
    ast.GeneratorExp,
    ast.Compare,
    ast.Call,
    ast.FormattedValue,
    ast.JoinedStr,
    ast.Constant,
    ast.Attribute,
    ast.Subscript,
    ast.Starred,
    ast.Name,
    ast.List,
    ast.Tuple,
    ast.Slice,
)
_ALLOWED_OTHER = (
    ast.expr_context,
    ast.operator,
    ast.unaryop,
    ast.cmpop,
    ast.boolop,
    ast.comprehension,
    ast.arguments,
    ast.arg,
    ast.keyword,
)
_ALLOWED = _ALLOWED_STMTS + _ALLOWED_EXPRS + _ALLOWED_OTHER
_NODE_REASONS: dict[type, str] = {
    ast.While: "`while` loops are not allowed (a reward must finish in bounded time); use "
    "`for i in range(N)` with a constant N or loop over an array",
    ast.Try: "`try`/`except` is not allowed; guard risky operations instead (e.g. "
    "`max(d, 1e-6)` before dividing, `np.clip` before `np.arccos`)",
    ast.With: "`with` blocks are not allowed",
    ast.Raise: "`raise` is not allowed; return finite terms for every state",
    ast.Assert: "`assert` is not allowed; return finite terms for every state",
    ast.Global: "`global` is not allowed; reward programs must not keep state between calls",
    ast.Nonlocal: "`nonlocal` is not allowed; reward programs must not keep state",
    ast.Delete: "`del` is not allowed",
    ast.ClassDef: "classes are not allowed; write plain functions",
    ast.FunctionDef: "nested functions are not allowed; define helpers at module level",
    ast.AsyncFunctionDef: "async functions are not allowed",
    ast.AsyncFor: "async loops are not allowed",
    ast.AsyncWith: "async blocks are not allowed",
    ast.Await: "`await` is not allowed",
    ast.Yield: "`yield` is not allowed; return a dict of terms",
    ast.YieldFrom: "`yield` is not allowed; return a dict of terms",
    ast.Import: "imports are only allowed for numpy, math and rewards.terms",
    ast.ImportFrom: "imports are only allowed for numpy, math and rewards.terms",
}
if hasattr(ast, "Match"):
    _NODE_REASONS[ast.Match] = "`match` statements are not allowed; use if/elif"


def _root_name(node: ast.expr) -> str | None:
    """The variable an expression like ``x[0].y`` or ``x.items()`` is rooted at."""
    while True:
        if isinstance(node, ast.Name):
            return node.id
        if isinstance(node, (ast.Subscript, ast.Attribute)):
            node = node.value
        elif isinstance(node, ast.Call):
            node = node.func
        else:
            return None


_GROWING_METHODS = {"append", "extend", "update"}


class _FunctionChecker(GrowthRules):
    """Checks one function body against the allowlist and the task's fields."""

    def __init__(
        self,
        owner: _Checker,
        fn: ast.FunctionDef,
        globals_: Mapping[str, str],
        entry_params: tuple[str, ...] | None,
    ) -> None:
        self.owner = owner
        self.ctx = owner.ctx
        self.fn = fn
        self.globals = globals_
        self.is_entry = entry_params is not None
        params = entry_params or ()
        self.state_names = {params[0], params[2]} if params else set()
        self.task_name = params[3] if params else None
        # Inputs of compute_reward must not be written (helpers get them too, by position
        # unknown, so there every parameter counts as read-only input).
        a = fn.args
        self.inputs = {x.arg for x in (*a.posonlyargs, *a.args, *a.kwonlyargs)}
        self.bindings: dict[str, list[ast.expr | None]] = {}
        self.helper_refs: set[str] = set()
        self.returns: list[ast.Return] = []
        self.allowed_lambdas: set[int] = set()
        self.iterating: list[set[str]] = []
        self.loop_work: list[int] = []

    # -- entry
    def run(self) -> None:
        self._collect_bindings()
        inputs = set(self.inputs) if self.is_entry else set()
        self.kinds = Kinds(self.fn, inputs, self.owner.constants, set(self.owner.aliases))
        for stmt in self.fn.body:
            self.visit(stmt)
        if self.is_entry and not self.returns:
            _fail(self.fn, f"`{ENTRY}` never returns; end it with `return {{'term': value, ...}}`.")

    def _collect_bindings(self) -> None:
        a = self.fn.args
        for arg in (*a.posonlyargs, *a.args, *a.kwonlyargs, a.vararg, a.kwarg):
            if arg is not None:
                self._bind(arg.arg, None, arg)
        # `x = value` records its value (so `norm = np.linalg.norm` can be called later);
        # every other binding (loop targets, tuple unpacking, lambda arguments) records None.
        simple: dict[int, ast.expr] = {}
        for node in ast.walk(self.fn):
            if (
                isinstance(node, ast.Assign)
                and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name)
            ):
                simple[id(node.targets[0])] = node.value
        own_args = {id(arg) for arg in ast.walk(self.fn.args)}
        for node in ast.walk(self.fn):
            if node is self.fn or id(node) in own_args:
                continue
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                self._bind(node.id, simple.get(id(node)), node)
            elif isinstance(node, ast.arg):
                self._bind(node.arg, None, node)

    def _bind(self, name: str, value: ast.expr | None, node: ast.AST) -> None:
        if name.startswith("__"):
            _fail(node, f"the name `{name}` is not allowed: names starting with '__' are reserved.")
        kind = self.globals.get(name)
        if name in PROVIDED_MODULES or name == "range" or kind in ("module", "member", "helper"):
            _fail(node, f"`{name}` is provided and must not be reassigned; choose another name.")
        self.bindings.setdefault(name, []).append(value)

    # -- dispatch
    def visit(self, node: ast.AST) -> None:
        # A refused node is recorded and its subtree skipped; its siblings are still checked,
        # so one rejection lists every problem.
        try:
            if not isinstance(node, _ALLOWED):
                reason = _NODE_REASONS.get(type(node), f"`{type(node).__name__}` is not allowed")
                _fail(node, f"{_code(node)}: {reason}.")
            super().visit(node)
        except RewardRejected as exc:
            self.owner.errors.append(exc)

    # -- names and attributes
    def visit_Name(self, node: ast.Name) -> None:
        name = node.id
        if name.startswith("__"):
            _fail(
                node,
                f"the name `{name}` is not allowed: names starting with '__' reach "
                "interpreter internals.",
            )
        if not isinstance(node.ctx, ast.Load):
            return
        if name in self.bindings:
            return
        kind = self.globals.get(name)
        if kind is None:
            if name in FORBIDDEN_CALLS:
                _fail(
                    node,
                    f"`{name}` is not available in reward programs: it {FORBIDDEN_CALLS[name]}.",
                )
            available = set(self.globals) | set(self.bindings)
            _fail(
                node,
                f"name `{name}` is not defined.{_did_you_mean(name, available)} "
                f"Inside a reward you can use the function's parameters and locals, `np`, "
                f"`math`, `terms`, module-level helpers/constants and the builtins "
                f"{_listing(SAFE_BUILTIN_NAMES)}.",
            )
        if kind == "helper":
            self.helper_refs.add(name)

    def _namespace(self, node: ast.expr) -> ReadOnlyNamespace | None:
        """The provided namespace an expression denotes, if it is one (np, np.linalg, ...)."""
        if isinstance(node, ast.Name) and node.id not in self.bindings:
            if node.id in _PROVIDED:
                return _PROVIDED[node.id]
            target = self.owner.aliases.get(node.id)
            if target is not None and target[1] is None:
                return IMPORTABLE[target[0]]
            return None
        if isinstance(node, ast.Attribute):
            parent = self._namespace(node.value)
            if parent is not None:
                child = parent.__dict__.get(node.attr)
                return child if isinstance(child, ReadOnlyNamespace) else None
        return None

    def visit_Attribute(self, node: ast.Attribute) -> None:
        attr = node.attr
        if attr.startswith("_"):
            _fail(
                node,
                f"{_code(node)}: attributes starting with '_' are not allowed (they "
                "reach interpreter internals).",
            )
        if not isinstance(node.ctx, ast.Load):
            _fail(
                node,
                f"{_code(node)}: assigning to attributes is not allowed; `np`, `math`, "
                "`terms` and the inputs are read-only. Use a local variable.",
            )
        # Check the base first, so `__import__("os").system` is refused for `__import__`
        # and `np.lib.format` for `np.lib`: the innermost problem is the one to report.
        if self._namespace(node.value) is None:
            before = len(self.owner.errors)
            self.visit(node.value)
            if len(self.owner.errors) > before:
                return  # the base is wrong (e.g. an undefined name): its attribute is moot
        ns = self._namespace(node.value)
        if ns is not None:
            members = members_of(ns)
            if attr not in members:
                _fail(
                    node,
                    f"`{ns.__name__}.{attr}` is not available to reward programs."
                    f"{_did_you_mean(attr, members)} Available: {_listing(members)}.",
                )
            return  # the base is a provided namespace: nothing more to check
        if (
            isinstance(node.value, ast.Name)
            and node.value.id not in self.bindings
            and self.globals.get(node.value.id) == "builtin"
        ):
            # `dict.update(state, ...)` would bypass the read-only state's own methods.
            _fail(
                node,
                f"{_code(node)}: attributes of builtins are not allowed; call methods on "
                "values instead (e.g. `d.get(k)`).",
            )
        if (
            isinstance(node.value, ast.Name)
            and node.value.id in self.state_names
            and attr not in ("get", "items", "keys", "values")
        ):
            _fail(
                node,
                f"{_code(node)}: `{node.value.id}` is a mapping of state fields; write "
                f"`{node.value.id}[{attr!r}]` instead.",
            )
        if attr not in VALUE_ATTRS:
            _fail(
                node,
                f"{_code(node)}: the attribute `.{attr}` is not allowed in reward "
                f"programs.{_did_you_mean(attr, VALUE_ATTRS)} Allowed attributes on values: "
                f"{_listing(VALUE_ATTRS)}; for anything else use an `np.` function.",
            )

    def visit_Subscript(self, node: ast.Subscript) -> None:
        root = _root_name(node.value)
        if (
            not isinstance(node.ctx, ast.Load)
            and root is not None
            and (root in self.inputs or self.globals.get(root) == "constant")
        ):
            what = "an input of the function" if root in self.inputs else "a module constant"
            _fail(
                node,
                f"{_code(node)}: `{root}` is {what} and read-only; copy it first, e.g. "
                f"`x = np.array({root}[...])`, and change the copy.",
            )
        if isinstance(node.value, ast.Name) and isinstance(node.slice, ast.Constant):
            key = node.slice.value
            if node.value.id in self.state_names and node.value.id not in self._rebound():
                self._check_field(node, node.value.id, key)
            elif node.value.id == self.task_name and node.value.id not in self._rebound():
                self._check_constant(node, key)
        self.generic_visit(node)

    def _rebound(self) -> set[str]:
        """Input names that the function reassigns (then field checks no longer apply)."""
        return {n for n, vals in self.bindings.items() if len(vals) > 1}

    def _check_field(self, node: ast.AST, mapping: str, key: object) -> None:
        valid = self.ctx.field_names
        if key not in valid:
            _fail(
                node,
                f"{_code(node)}: the task {self.ctx.task_id} has no state field "
                f"{key!r}.{_did_you_mean(str(key), valid)} Valid fields: "
                f"{', '.join(valid)}.",
            )

    def _check_constant(self, node: ast.AST, key: object) -> None:
        valid = sorted(self.ctx.constants)
        if key not in self.ctx.constants:
            listing = (
                f"Valid constants: {', '.join(valid)}."
                if valid
                else "This task has no constants (`task` is empty)."
            )
            _fail(
                node,
                f"{_code(node)}: the task {self.ctx.task_id} has no constant {key!r}."
                f"{_did_you_mean(str(key), valid)} {listing}",
            )

    # -- calls
    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        for arg in (*node.args, *(k.value for k in node.keywords)):
            if isinstance(arg, ast.Lambda):
                self.allowed_lambdas.add(id(arg))
        if isinstance(func, ast.Name):
            name = func.id
            if name in FORBIDDEN_CALLS and name not in self.bindings:
                _fail(
                    node,
                    f"`{name}()` is not available in reward programs: it {FORBIDDEN_CALLS[name]}.",
                )
            if name in self.bindings:
                self._check_local_call(node, name)
            elif name == "range":
                self._check_range(node)
            elif name in ("pow", "round") and len(node.args) >= 2:
                # pow(a, b) is a ** b; round(n, -k) computes 10 ** k on integers
                self._check_power(node, ast.Pow(), node.args[0], node.args[1])
            self.visit(func)
        elif isinstance(func, ast.Attribute):
            if self._namespace(func.value) is NUMPY and func.attr in CAPPED_NUMPY:
                self._check_array_size(node, func.attr)
            # `state.get("x")` must name a real field; `state.get("x", default)` is an
            # explicit optional read (programs written for several tasks use it).
            if (
                func.attr == "get"
                and isinstance(func.value, ast.Name)
                and len(node.args) == 1
                and isinstance(node.args[0], ast.Constant)
                and func.value.id in self.state_names
                and func.value.id not in self._rebound()
            ):
                self._check_field(node, func.value.id, node.args[0].value)
            root = _root_name(func.value)
            if func.attr in _GROWING_METHODS and any(root in s for s in self.iterating):
                _fail(
                    node,
                    f"{_code(node)} grows `{root}` while looping over it, which never "
                    "ends; collect into a new list instead.",
                )
            self.visit(func)
        else:
            self.visit(func)  # report what is wrong inside the callee first, if anything
            _fail(
                node,
                f"{_code(node)}: call functions by name (np.*, math.*, terms.*, "
                "builtins, or helpers defined at module level).",
            )
        for arg in node.args:
            self.visit(arg)
        for kw in node.keywords:
            self.visit(kw.value)

    def _check_local_call(self, node: ast.Call, name: str) -> None:
        # A local may be called only if it is an alias of a provided function
        # (`norm = np.linalg.norm`); calling parameters or computed values would allow
        # unbounded recursion through lambdas and helpers.
        if all(v is not None and self._is_function_ref(v) for v in self.bindings[name]):
            return
        _fail(
            node,
            f"{_code(node)}: `{name}` is a local variable or parameter and cannot be "
            "called; call np.*, math.*, terms.*, builtins or module-level helpers by name.",
        )

    def _is_function_ref(self, value: ast.expr) -> bool:
        if isinstance(value, ast.Name):
            return self.globals.get(value.id) in ("builtin", "member", "helper")
        return isinstance(value, ast.Attribute) and self._namespace(value.value) is not None

    def visit_Lambda(self, node: ast.Lambda) -> None:
        if id(node) not in self.allowed_lambdas:
            _fail(
                node,
                f"{_code(node)}: a lambda may only be passed directly as an argument "
                "(e.g. `sorted(xs, key=lambda g: g[0])`); define a helper function at module "
                "level instead.",
            )
        for default in (*node.args.defaults, *node.args.kw_defaults):
            if default is not None:
                self.visit(default)
        self.visit(node.body)

    # -- loops and growth
    def visit_Return(self, node: ast.Return) -> None:
        if self.is_entry:
            self.returns.append(node)  # first: a bad return is still a return
            value = node.value
            if value is None:
                _fail(
                    node,
                    f"`{ENTRY}` must return a dict of named float terms, e.g. "
                    "`return {'distance': -d}`.",
                )
            if isinstance(value, ast.Tuple):
                _fail(
                    node,
                    f"{_code(node)}: return only the dict of terms (the total reward is "
                    "their sum, computed for you), e.g. `return {'distance': -d, 'tilt': -t}`.",
                )
            if isinstance(value, (ast.Constant, ast.UnaryOp, ast.Compare, ast.List, ast.ListComp)):
                _fail(
                    node,
                    f"{_code(node)}: `{ENTRY}` must return a dict mapping term names to "
                    "floats, e.g. `return {'distance': -d, 'alive': 0.1}`; the total is their "
                    "sum.",
                )
        self.generic_visit(node)

    def static_terms(self) -> tuple[str, ...] | None:
        """Term names if every return is a dict literal (or dict(...)) with constant keys."""
        seen: list[str] = []
        for ret in self.returns:
            keys = _literal_keys(ret.value)
            if keys is None:
                return None
            seen.extend(k for k in keys if k not in seen)
        return tuple(seen) if seen else None


def _literal_keys(node: ast.expr | None) -> list[str] | None:
    if isinstance(node, ast.Dict):
        if all(isinstance(k, ast.Constant) and isinstance(k.value, str) for k in node.keys):
            return [k.value for k in node.keys]  # type: ignore[union-attr]
        return None
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "dict"
        and not node.args
        and all(k.arg for k in node.keywords)
    ):
        return [k.arg for k in node.keywords]  # type: ignore[misc]
    return None
