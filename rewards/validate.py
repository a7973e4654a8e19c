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

import ast
import difflib
import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import NoReturn

from rewards.errors import RewardRejected, Stage
from rewards.namespace import (
    FORBIDDEN_CALLS,
    IMPORTABLE,
    MATH,
    NUMPY,
    PROVIDED_MODULES,
    SAFE_BUILTIN_NAMES,
    TERMS,
    VALUE_ATTRS,
    ReadOnlyNamespace,
    members_of,
)
from rewards.program import RewardContext

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
#: Most problems listed in one rejection (the rest are counted).
MAX_REPORTED = 12
#: Name of the entry point every program defines.
ENTRY = "compute_reward"
#: The file name compiled programs carry in tracebacks (line numbers match the source).
FILENAME = "<reward_program>"

_PROVIDED: dict[str, ReadOnlyNamespace] = {"np": NUMPY, "math": MATH, "terms": TERMS}
_DROPPED_MODULES = {"typing", "typing_extensions", "__future__", "collections.abc"}
_NOT_AVAILABLE_HINT = {
    "torch": "torch is not available in reward programs (they must run without it); use np.",
    "scipy": "scipy is not available; np, math and terms cover what a reward needs.",
}
_SIGNATURE = "def compute_reward(state, action, prev_state, task):"

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


# --------------------------------------------------------------------------- preparation
class _Prepare(ast.NodeTransformer):
    """Maps harmless imports, strips annotations and a main guard; rejects other imports."""

    def __init__(self, ctx: RewardContext, errors: list[RewardRejected]) -> None:
        self.ctx = ctx
        self.errors = errors
        self.aliases: dict[str, tuple[str, str | None]] = {}
        self.notes: list[str] = []

    def visit(self, node: ast.AST) -> ast.AST | None:
        # A refused import is recorded and dropped, so checking goes on and later uses of
        # the name are reported too (a model fixes everything in one round).
        try:
            return super().visit(node)
        except RewardRejected as exc:
            if not isinstance(node, (ast.Import, ast.ImportFrom)):
                raise
            self.errors.append(exc)
            return None

    def run(self, tree: ast.Module) -> ast.Module:
        body: list[ast.stmt] = []
        for stmt in tree.body:
            if _is_main_guard(stmt):
                self.notes.append(
                    f"line {stmt.lineno}: removed the `if __name__ == '__main__':` block "
                    "(it never runs inside training)"
                )
                continue
            body.append(stmt)
        tree.body = body
        tree = self.visit(tree)
        for node in ast.walk(tree):
            # Removing imports can empty a body; Python needs at least one statement.
            if isinstance(node, (ast.FunctionDef, ast.For, ast.If, ast.While)) and not node.body:
                node.body = [ast.copy_location(ast.Pass(), node)]
        ast.fix_missing_locations(tree)
        return tree

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            name = alias.name
            if name in _DROPPED_MODULES:
                continue
            if name not in IMPORTABLE:
                self._refuse(node, name)
            if alias.asname is None and "." in name:
                root = name.split(".")[0]
                if root not in IMPORTABLE:
                    _fail(
                        node,
                        f"{_code(node)}: import it as a name instead, e.g. "
                        "`from rewards import terms` (or just use `terms`, which is provided).",
                    )
                self._bind(node, root, (root, None))
            else:
                self._bind(node, alias.asname or name, (name, None))
        return None

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        module = node.module or ""
        if node.level:
            _fail(node, f"{_code(node)}: relative imports are not allowed.")
        if module in _DROPPED_MODULES:
            return None
        for alias in node.names:
            if alias.name == "*":
                _fail(
                    node,
                    f"{_code(node)}: `import *` is not allowed; use `np.`/`math.` "
                    "prefixes (np and math are provided).",
                )
            full = f"{module}.{alias.name}" if module else alias.name
            bound = alias.asname or alias.name
            if full in IMPORTABLE:  # from numpy import linalg / from rewards import terms
                self._bind(node, bound, (full, None))
            elif module in IMPORTABLE:
                members = members_of(IMPORTABLE[module])
                if alias.name not in members:
                    _fail(
                        node,
                        f"{module}.{alias.name} is not available to reward programs."
                        f"{_did_you_mean(alias.name, members)} Available in {module}: "
                        f"{_listing(members)}.",
                    )
                self._bind(node, bound, (module, alias.name))
            else:
                self._refuse(node, module or alias.name)
        return None

    def _refuse(self, node: ast.AST, module: str) -> NoReturn:
        hint = _NOT_AVAILABLE_HINT.get(module.split(".")[0], "")
        _fail(
            node,
            f"{_code(node)} is not allowed: reward programs cannot import modules. "
            f"{hint + ' ' if hint else ''}`np` (numpy subset), `math` and `terms` (the reward "
            "term library) are already available without imports; remove the import.",
        )

    def _bind(self, node: ast.AST, name: str, target: tuple[str, str | None]) -> None:
        if name.startswith("__"):
            _fail(node, f"{_code(node)}: names starting with '__' are not allowed.")
        if name in _PROVIDED:
            provided = _PROVIDED[name]
            if target[1] is None and IMPORTABLE[target[0]] is provided:
                self.notes.append(f"line {node.lineno}: removed {_code(node)} ({name} is provided)")
                return
            _fail(
                node,
                f"{_code(node)} would rebind `{name}`, which is provided; import "
                "under another name.",
            )
        previous = self.aliases.get(name)
        if previous is not None and previous != target:
            _fail(
                node,
                f"{_code(node)} binds `{name}` to something different than an "
                "earlier import; use one name per module.",
            )
        self.aliases[name] = target
        self.notes.append(
            f"line {node.lineno}: mapped {_code(node)} onto the provided read-only namespace"
        )

    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.FunctionDef:
        node.returns = None
        _strip_arg_annotations(node.args)
        self.generic_visit(node)
        return node

    def visit_Lambda(self, node: ast.Lambda) -> ast.Lambda:
        _strip_arg_annotations(node.args)
        self.generic_visit(node)
        return node

    def visit_AnnAssign(self, node: ast.AnnAssign) -> ast.Assign | None:
        # Annotations are documentation only; `x: float = 1.0` is `x = 1.0`.
        if node.value is None:
            return None
        new = ast.Assign(targets=[node.target], value=node.value)
        new = ast.copy_location(new, node)
        self.generic_visit(new)
        return new


def _strip_arg_annotations(args: ast.arguments) -> None:
    for a in (*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg):
        if a is not None:
            a.annotation = None


def _is_main_guard(stmt: ast.stmt) -> bool:
    if not isinstance(stmt, ast.If) or not isinstance(stmt.test, ast.Compare):
        return False
    test = stmt.test
    if len(test.ops) != 1 or not isinstance(test.ops[0], ast.Eq):
        return False
    sides = [test.left, test.comparators[0]]
    names = [s.id for s in sides if isinstance(s, ast.Name)]
    consts = [s.value for s in sides if isinstance(s, ast.Constant)]
    return names == ["__name__"] and consts == ["__main__"]


# --------------------------------------------------------------------------- checking
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
            for name in names:
                self._bind_module_name(stmt, name)
                self.constants[name] = stmt.value
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


class _FunctionChecker(ast.NodeVisitor):
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
                self._check_power(node, ast.Pow(), node.args[1])
            self.visit(func)
        elif isinstance(func, ast.Attribute):
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
        self._check_power(node, node.op, node.value)
        self.generic_visit(node)

    def visit_BinOp(self, node: ast.BinOp) -> None:
        self._check_power(node, node.op, node.right)
        if isinstance(node.op, ast.Mult):
            for seq, count in ((node.left, node.right), (node.right, node.left)):
                seq_like = isinstance(seq, (ast.List, ast.Tuple, ast.ListComp)) or (
                    isinstance(seq, ast.Constant) and isinstance(seq.value, (str, bytes))
                )
                bound = self._bound(count)
                if seq_like and (bound is None or bound > MAX_REPEAT):
                    _fail(
                        node,
                        f"{_code(node)}: repeating a sequence needs a count known to be "
                        f"at most {MAX_REPEAT}.",
                    )
        self.generic_visit(node)

    def _check_power(self, node: ast.AST, op: ast.operator, right: ast.expr) -> None:
        if isinstance(op, (ast.Pow, ast.LShift)):
            bound = self._bound(right)
            if bound is not None and bound > MAX_POW_EXPONENT:
                _fail(
                    node,
                    f"{_code(node)}: exponents and shifts above {MAX_POW_EXPONENT} are "
                    "not allowed (they build enormous numbers).",
                )

    # -- returns
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
