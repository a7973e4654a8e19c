"""What a reward program may use, as data and as prompt-ready text.

``agentic-rl rewards show-state`` prints this, and designers put :func:`program_api` into the
model's prompt so the model sees exactly the names the validator will accept.
"""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any

from rewards import terms as _terms
from rewards.namespace import MATH_NAMES, NUMPY_NAMES, SAFE_BUILTIN_NAMES, TERMS_NAMES

if TYPE_CHECKING:
    from sims.spec import TaskSpec


def _shape(shape: tuple[int, ...]) -> str:
    return "scalar" if not shape else "x".join(str(n) for n in shape)


def state_fields(spec: TaskSpec) -> list[dict[str, Any]]:
    """The state fields a reward may read: name, shape, unit, frame and meaning."""
    return [
        {
            "name": f.name,
            "shape": list(f.shape),
            "unit": f.unit,
            "frame": f.frame,
            "description": f.description,
        }
        for f in spec.state_fields
    ]


def term_functions() -> list[dict[str, str]]:
    """Every ``terms.<name>`` with its signature and the first line of its docstring."""
    out = []
    for name in sorted(TERMS_NAMES):
        fn = getattr(_terms, name)
        doc = (inspect.getdoc(fn) or "").splitlines()
        out.append(
            {
                "name": name,
                "signature": f"terms.{name}{inspect.signature(fn)}".replace("'", ""),
                "summary": doc[0] if doc else "",
            }
        )
    return out


def describe(spec: TaskSpec) -> dict[str, Any]:
    """Everything ``show-state --json`` prints: fields, constants, action, provided names."""
    return {
        "task": spec.id,
        "signature": "compute_reward(state, action, prev_state, task) -> dict[str, float]",
        "state_fields": state_fields(spec),
        "constants": dict(spec.constants),
        "action": {
            "mode": spec.action.mode,
            "shape": list(spec.action.shape),
            "components": list(spec.action.components),
            "range": [-1.0, 1.0],
        },
        "terms": term_functions(),
        "numpy": [*sorted(NUMPY_NAMES), "linalg.norm"],
        "math": sorted(MATH_NAMES),
        "builtins": sorted(SAFE_BUILTIN_NAMES),
    }


def program_api(spec: TaskSpec) -> str:
    """The reward-program interface of a task as compact markdown, for a model's prompt."""
    lines = [
        f"Write `def compute_reward(state, action, prev_state, task):` for {spec.id}. Return a "
        "dict of named float terms; the reward is their sum. Keep per-step terms of order 1.",
        "",
        "`state` and `prev_state` (the state before `action`) are read-only mappings:",
    ]
    for f in spec.state_fields:
        lines.append(f"- `{f.name}` ({_shape(f.shape)}, {f.unit}, {f.frame}): {f.description}")
    comps = "; ".join(spec.action.components)
    lines += [
        "",
        f"`action`: numpy array {_shape(spec.action.shape)} in [-1, 1] ({spec.action.mode}): "
        f"{comps}.",
        "",
        "`task` (read-only constants): "
        + (", ".join(f"`{k}`={v:g}" for k, v in spec.constants.items()) or "(none)"),
        "",
        "Available without imports: `np` (a numpy subset incl. `np.linalg.norm`), `math`, and "
        "`terms` (reward terms; penalties return a cost >= 0, subtract them with a weight):",
    ]
    lines += [f"- `{t['signature']}`: {t['summary']}" for t in term_functions()]
    lines += [
        "",
        "Rules: no imports other than numpy/math, no I/O, no `while`/`try`/`class`/`global`, no "
        "names or attributes starting with `_`, loops only over data or constant ranges, no "
        "recursion. Every term must be a finite number for every state.",
    ]
    return "\n".join(lines)
