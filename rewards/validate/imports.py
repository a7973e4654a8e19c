"""First pass over a parsed program: imports mapped or refused, annotations and a main guard
dropped (so the checker sees only what will run)."""

from __future__ import annotations

import ast
from typing import NoReturn

from rewards.errors import RewardRejected
from rewards.namespace import IMPORTABLE, members_of
from rewards.program import RewardContext
from rewards.validate.common import _PROVIDED, _code, _did_you_mean, _fail, _listing

_DROPPED_MODULES = {"typing", "typing_extensions", "__future__", "collections.abc"}
_NOT_AVAILABLE_HINT = {
    "torch": "torch is not available in reward programs (they must run without it); use np.",
    "scipy": "scipy is not available; np, math and terms cover what a reward needs.",
}


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
