"""A reward candidate as data (ingredient -> weight, gated terms) and its program text.

The genome travels in ``Proposal.meta["genome"]``, so the designer keeps no state of its own:
a resumed loop or a fresh designer derives the same proposals from the same history and seed.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import Any

from agentic_rl.designers.offline.ingredients import LOCALS, Ingredient, catalogue
from agentic_rl.designers.offline.view import TaskView


@dataclass
class Genome:
    """A reward candidate as data: ingredient -> weight, and which terms are goal-gated."""

    weights: dict[str, float]
    gated: set[str] = field(default_factory=set)

    def copy(self) -> Genome:
        return Genome(dict(self.weights), set(self.gated))

    def to_meta(self) -> dict[str, Any]:
        return {"weights": dict(self.weights), "gated": sorted(self.gated)}

    @classmethod
    def from_meta(cls, meta: Any, known: dict[str, Ingredient]) -> Genome | None:
        """Read a genome from ``Proposal.meta``; None if absent or foreign to this task."""
        if not isinstance(meta, dict) or not isinstance(meta.get("weights"), dict):
            return None
        weights = {str(k): float(w) for k, w in meta["weights"].items()}
        if not weights or not set(weights) <= set(known):
            return None
        return cls(weights, {g for g in meta.get("gated", []) if g in weights})


def render(view: TaskView, genome: Genome, header: str) -> str:
    """Reward-program source for a genome (the same format a model writes)."""
    cat = catalogue(view)
    names = [n for n in cat if n in genome.weights]  # catalogue order: stable source text
    needs: list[str] = []

    def need(name: str) -> None:
        for dep in LOCALS[name][1]:
            need(dep)
        if name not in needs:
            needs.append(name)

    for n in names:
        for helper in cat[n].needs:
            need(helper)
        if n in genome.gated:
            need("near")
    body = [f"dist = {view.dist_expr('state')}", *(LOCALS[h][0](view) for h in needs)]
    lines = [
        "def compute_reward(state, action, prev_state, task):",
        *(f"    {line}" if line else "" for line in _docstring(header)),
        *(f"    {line}" for line in body),
        "    return {",
    ]
    for n in names:
        ing = cat[n]
        w = _fmt(ing.sign * genome.weights[n])
        expr = _factor(ing.expr)
        if n in genome.gated:
            expr = f"near * {expr}"
        lines.append(f'        "{n}": {w} * {expr},')
    lines.append("    }")
    return "\n".join(lines) + "\n"


def _docstring(header: str) -> list[str]:
    """A docstring's lines: the header's first line, a blank line, then the rest."""
    lines = header.replace('"""', "'''").replace("\\", "/").splitlines() or [""]
    if len(lines) == 1:
        return [f'"""{lines[0]}"""']
    return [f'"""{lines[0]}', "", *lines[1:], '"""']


def _factor(expr: str) -> str:
    """``expr`` parenthesized unless it can stand as a factor of a product as it is."""
    node = ast.parse(expr, mode="eval").body
    simple = (ast.Name, ast.Call, ast.Subscript, ast.Attribute, ast.Constant)
    if isinstance(node, simple) or (isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult)):
        return expr
    return f"({expr})"


def _fmt(x: float) -> str:
    """A weight as source text: 4 significant digits, always with a decimal point."""
    text = f"{x:.4g}" if abs(x) >= 1e-4 else f"{x:.2e}"
    return text if any(c in text for c in ".e") else text + ".0"


def _round(x: float) -> float:
    return float(f"{x:.4g}")


def key(genome: Genome) -> str | None:
    """The genome's key in the refinement memory."""
    from agentic_rl.designers.memory import genome_key

    return genome_key(genome.to_meta())


def structure(genome: Genome) -> str | None:
    """The genome's term set (weights ignored) as the refinement memory keys it."""
    from agentic_rl.designers.memory import structure_key

    return structure_key(genome.to_meta())
