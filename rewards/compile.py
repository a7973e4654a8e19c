"""Compile a validated reward program against restricted builtins and read-only namespaces.

Only code that passed :func:`rewards.validate.validate` reaches this module. Running its module
body is safe in the calling process: validation admits only function definitions and constant
assignments at module level, so "executing" the module defines functions and binds literals.
Module-level containers are frozen afterwards (lists become tuples, dicts read-only mappings,
arrays read-only), so a program cannot keep state from one call to the next. Before compiling,
the operations that could build something huge from state-dependent sizes are routed through
the runtime caps of :mod:`rewards.caps`.
"""

from __future__ import annotations

import copy
import traceback
import warnings
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import numpy as np

from rewards.caps import guard_operations
from rewards.errors import RewardRejected
from rewards.namespace import IMPORTABLE, program_globals
from rewards.validate import ENTRY, FILENAME, ValidatedProgram, validate
from rewards.validate.kinds import program_kinds

if TYPE_CHECKING:
    from rewards.program import RewardContext

#: The raw compiled entry point: (state, action, prev_state, task) -> terms.
RawReward = Callable[[Mapping[str, Any], np.ndarray, Mapping[str, Any], Mapping[str, float]], Any]


def program_line(exc: BaseException) -> int | None:
    """The innermost line of the reward program in an exception's traceback, if any."""
    line = None
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename == FILENAME:
            line = frame.lineno
    return line


def freeze(value: Any) -> Any:
    """A read-only version of a module-level constant (recursively for containers)."""
    if isinstance(value, list | tuple):
        return tuple(freeze(v) for v in value)
    if isinstance(value, dict):
        return MappingProxyType({k: freeze(v) for k, v in value.items()})
    if isinstance(value, set):
        return frozenset(value)
    if isinstance(value, np.ndarray):
        value = value.copy()
        value.flags.writeable = False
    return value


def compile_validated(program: ValidatedProgram) -> RawReward:
    """Build the program's ``compute_reward`` function.

    Args:
        program: the output of :func:`rewards.validate.validate`.

    Raises:
        RewardRejected: (stage ``compile``) if Python refuses the code or a module-level
            constant fails to evaluate (e.g. ``np.array([1, [2]])``).
    """
    tree = copy.deepcopy(program.tree)  # the validated tree stays as it was checked
    kinds = program_kinds(tree, ENTRY, set(program.aliases))
    tree = guard_operations(tree, lambda fn: kinds[fn.name])
    try:
        with warnings.catch_warnings():
            # e.g. "'int' object is not subscriptable": the smoke run reports it precisely
            warnings.simplefilter("ignore", SyntaxWarning)
            code = compile(tree, FILENAME, "exec", dont_inherit=True)
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        raise RewardRejected(
            "compile", getattr(exc, "lineno", None), f"Python could not compile the program: {exc}"
        ) from None
    extra: dict[str, Any] = {}
    for name, (key, member) in program.aliases.items():
        ns = IMPORTABLE[key]
        extra[name] = ns if member is None else getattr(ns, member)
    namespace = program_globals(extra)
    try:
        exec(code, namespace)
    except Exception as exc:
        raise RewardRejected(
            "compile",
            program_line(exc),
            f"evaluating the module-level constants failed: {type(exc).__name__}: {exc}",
        ) from None
    for name in program.constants:
        namespace[name] = freeze(namespace[name])
    fn = namespace.get(ENTRY)
    if not callable(fn):  # validation guarantees it; keep the error honest if not
        raise RewardRejected("compile", None, f"the program does not define `{ENTRY}`")
    return fn


def compile_source(source: str, ctx: RewardContext) -> tuple[ValidatedProgram, RawReward]:
    """Validate and compile program text in one step (no smoke run)."""
    program = validate(source, ctx)
    return program, compile_validated(program)
