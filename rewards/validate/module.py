"""Module-level rules: what a program may define at top level, the entry point's signature,
constants, and the helper call graph (no recursion). Each function body then goes to
:class:`rewards.validate.function._FunctionChecker`."""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping

from rewards.errors import RewardRejected
from rewards.namespace import FORBIDDEN_CALLS, PROVIDED_MODULES, SAFE_BUILTIN_NAMES
from rewards.program import RewardContext
from rewards.validate.common import (
    _PROVIDED,
    _SIGNATURE,
    ENTRY,
    MAX_POW_EXPONENT,
    ValidatedProgram,
    _code,
    _combined,
    _fail,
    _listing,
)
from rewards.validate.function import _NODE_REASONS, _FunctionChecker
from rewards.validate.imports import _Prepare
from rewards.validate.kinds import assigned_pairs


class _Checker:
    """Module-level rules, then one :class:`_FunctionChecker` per function, then recursion."""

    def __init__(
        self,
        source: str,
        tree: ast.Module,
        prepared: _Prepare,
        ctx: RewardContext,
        errors: list[RewardRejected],
    ) -> None:
        self.errors = errors
        self.source = source
        self.tree = tree
        self.ctx = ctx
        self.aliases = prepared.aliases
        self.notes = prepared.notes
        self.functions: dict[str, ast.FunctionDef] = {}
        self.constants: dict[str, ast.expr] = {}

    def run(self) -> ValidatedProgram:
        for stmt in self.tree.body:
            try:
                self._module_stmt(stmt)
            except RewardRejected as exc:
                self.errors.append(exc)
        entry = self.functions.get(ENTRY)
        if entry is None:
            found = [n for n in self.functions if n != ENTRY]
            also = (
                (
                    f" The program defines {_listing(f'`{n}`' for n in found)}; rename the "
                    "entry point."
                )
                if found
                else ""
            )
            self.errors.append(
                RewardRejected(
                    "validate",
                    None,
                    f"no function named `{ENTRY}` was found.{also} Define `{_SIGNATURE}` "
                    "returning a dict of named float terms.",
                )
            )
            raise _combined(self.errors)
        try:
            params = self._entry_params(entry)
        except RewardRejected as exc:
            self.errors.append(exc)
            params = ("state", "action", "prev_state", "task")
        globals_ = self._global_names()
        refs: dict[str, set[str]] = {}
        static_terms: tuple[str, ...] | None = None
        for name, fn in self.functions.items():
            checker = _FunctionChecker(self, fn, globals_, params if name == ENTRY else None)
            try:
                checker.run()
            except RewardRejected as exc:
                self.errors.append(exc)
            refs[name] = checker.helper_refs
            if name == ENTRY:
                static_terms = checker.static_terms()
        try:
            self._check_recursion(refs)
        except RewardRejected as exc:
            self.errors.append(exc)
        return ValidatedProgram(
            source=self.source,
            tree=self.tree,
            aliases=dict(self.aliases),
            constants=tuple(self.constants),
            helpers=tuple(n for n in self.functions if n != ENTRY),
            params=params,
            static_terms=static_terms,
            notes=tuple(self.notes),
        )

    # -- module level
    def _module_stmt(self, stmt: ast.stmt) -> None:
        if isinstance(stmt, ast.FunctionDef):
            if stmt.decorator_list:
                # Recorded, not raised: the function's body is still checked.
                self.errors.append(
                    RewardRejected(
                        "validate",
                        stmt.decorator_list[0].lineno,
                        f"`{stmt.name}` has a decorator ({_code(stmt.decorator_list[0])}); "
                        "decorators are not allowed, remove them.",
                    )
                )
                stmt.decorator_list = []
            self._bind_module_name(stmt, stmt.name)
            self._check_defaults(stmt)
            self.functions[stmt.name] = stmt
        elif isinstance(stmt, ast.Assign):
            names = [n for t in stmt.targets for n in _target_names(t, stmt)]
            if not _is_constant_expr(stmt.value, self.constants):
                _fail(
                    stmt,
                    f"{_code(stmt)}: module-level assignments may only bind constants (numbers, "
                    "strings, tuples/lists/dicts of them, np.array of literals). Compute "
                    f"anything else inside `{ENTRY}`.",
                )
            # `A, B = 0.2, 0.3` binds each name to its own value; other unpacking binds the
            # whole value (its kind then says what the parts can be at most)
            parts = {n: v for t in stmt.targets for n, v in assigned_pairs(t, stmt.value)}
            for name in names:
                self._bind_module_name(stmt, name)
                self.constants[name] = parts.get(name, stmt.value)
        elif isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
            pass  # a docstring or a stray literal: harmless, kept
        elif isinstance(stmt, ast.Pass):
            pass
        else:
            reason = _NODE_REASONS.get(type(stmt))
            _fail(
                stmt,
                f"{_code(stmt)}: at module level only function definitions, constant "
                f"assignments and imports of numpy/math are allowed"
                f"{' (' + reason + ')' if reason else ''}. Put code inside `{ENTRY}` or a "
                "helper function.",
            )

    def _bind_module_name(self, node: ast.AST, name: str) -> None:
        if name.startswith("__"):
            _fail(node, f"the name `{name}` is not allowed: names starting with '__' are reserved.")
        if name in _PROVIDED or name in self.aliases or name == "range":
            _fail(
                node,
                f"`{name}` is provided (or imported) and must not be redefined; choose "
                "another name.",
            )
        if name in FORBIDDEN_CALLS:
            _fail(node, f"do not define `{name}`; choose another name.")

    def _check_defaults(self, fn: ast.FunctionDef) -> None:
        for default in (*fn.args.defaults, *fn.args.kw_defaults):
            if default is not None and not _is_immutable_literal(default):
                _fail(
                    default,
                    f"default value {_code(default)} of `{fn.name}` must be a number, string, "
                    "None or a tuple of those (mutable defaults keep state between calls).",
                )

    def _entry_params(self, fn: ast.FunctionDef) -> tuple[str, ...]:
        a = fn.args
        positional = [x.arg for x in (*a.posonlyargs, *a.args)]
        if len(positional) != 4 or a.vararg or a.kwarg or a.kwonlyargs:
            got = ast.unparse(a)
            _fail(
                fn,
                f"`{ENTRY}({got})` has the wrong signature. Use exactly `{_SIGNATURE}`: "
                "state and prev_state are read-only mappings of numpy arrays, action is the "
                "normalized action array, task the read-only mapping of task constants.",
            )
        return tuple(positional)

    def _global_names(self) -> dict[str, str]:
        """Every global name a function may read -> its kind."""
        names: dict[str, str] = {n: "builtin" for n in SAFE_BUILTIN_NAMES}
        names.update({n: "module" for n in PROVIDED_MODULES})
        for alias, (_key, member) in self.aliases.items():
            names[alias] = "module" if member is None else "member"
        names.update({n: "constant" for n in self.constants})
        names.update({n: "helper" for n in self.functions})
        return names

    def _check_recursion(self, refs: dict[str, set[str]]) -> None:
        # Recursion has no bound we can check statically, and exponential recursion hangs a
        # training worker, so helpers must form a call DAG.
        state: dict[str, int] = {}

        def visit(name: str, path: list[str]) -> None:
            state[name] = 1
            for callee in sorted(refs.get(name, ())):
                if state.get(callee) == 1:
                    cycle = [*path[path.index(callee) :], callee] if callee in path else [callee]
                    _fail(
                        self.functions[callee],
                        f"function `{callee}` calls itself ({' -> '.join(cycle)}); recursion is "
                        "not allowed. Use a bounded for loop instead.",
                    )
                if state.get(callee) is None:
                    visit(callee, [*path, callee])
            state[name] = 2

        for name in self.functions:
            if name not in state:
                visit(name, [name])


def _target_names(target: ast.expr, stmt: ast.stmt) -> Iterator[str]:
    if isinstance(target, ast.Name):
        yield target.id
    elif isinstance(target, (ast.Tuple, ast.List)):
        for elt in target.elts:
            yield from _target_names(elt, stmt)
    else:
        _fail(stmt, f"{_code(stmt)}: at module level only plain names can be assigned.")


_NUMERIC_OPS = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv, ast.Mod, ast.Pow)
_CONST_CALLS = {
    ("np", "array"),
    ("np", "asarray"),
    ("np", "radians"),
    ("np", "deg2rad"),
    ("np", "sqrt"),
    ("", "float"),
    ("", "int"),
    ("", "tuple"),
    ("", "abs"),
}
_CONST_ATTRS = {"pi", "e", "tau", "inf", "nan"}


def _is_number_expr(node: ast.expr, consts: Mapping[str, ast.expr]) -> bool:
    if isinstance(node, ast.Constant):
        return isinstance(node.value, (int, float)) and not isinstance(node.value, bool)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        return _is_number_expr(node.operand, consts)
    if isinstance(node, ast.Name):
        return node.id in consts and _is_number_expr(consts[node.id], consts)
    if (
        isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id in ("np", "math")
        and node.attr in _CONST_ATTRS
    ):
        return True
    if isinstance(node, ast.BinOp) and isinstance(node.op, _NUMERIC_OPS):
        if isinstance(node.op, ast.Pow):
            exp = node.right
            if not (
                isinstance(exp, ast.Constant)
                and isinstance(exp.value, (int, float))
                and abs(exp.value) <= MAX_POW_EXPONENT
            ):
                return False
        return _is_number_expr(node.left, consts) and _is_number_expr(node.right, consts)
    return False


def _is_constant_expr(node: ast.expr, consts: Mapping[str, ast.expr]) -> bool:
    """A module-level value that is cheap and safe to evaluate once at compile time."""
    if _is_number_expr(node, consts):
        return True
    if isinstance(node, ast.Constant):
        return True
    if isinstance(node, ast.Name):
        return node.id in consts
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return all(_is_constant_expr(e, consts) for e in node.elts)
    if isinstance(node, ast.Dict):
        return all(k is not None and _is_constant_expr(k, consts) for k in node.keys) and all(
            _is_constant_expr(v, consts) for v in node.values
        )
    if isinstance(node, ast.Call) and not node.keywords:
        f = node.func
        key = (
            ("", f.id)
            if isinstance(f, ast.Name)
            else (f.value.id, f.attr)
            if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name)
            else None
        )
        return key in _CONST_CALLS and all(_is_constant_expr(a, consts) for a in node.args)
    return False


def _is_immutable_literal(node: ast.expr) -> bool:
    if isinstance(node, ast.Constant):
        return True
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        return _is_immutable_literal(node.operand)
    if isinstance(node, ast.Tuple):
        return all(_is_immutable_literal(e) for e in node.elts)
    return (
        isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id in ("np", "math")
        and node.attr in _CONST_ATTRS
    )
