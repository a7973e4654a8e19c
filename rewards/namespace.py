"""What a reward program can see: restricted builtins and read-only ``np``, ``math``, ``terms``.

The validator (``rewards.validate``) checks names and attributes against the same tables the
compiler (``rewards.compile``) builds the program's globals from, so a static "allowed" and a
runtime "available" can never disagree.

Safety rests on three layers, each enough on its own for the common attacks:

1. the AST allowlist rejects dunder names and attributes, imports, ``exec``-like builtins and
   any attribute not listed here (so ``arr.tofile``, ``gen.gi_frame``, ``str.format`` fail
   before anything runs);
2. the program's ``__builtins__`` holds only :data:`SAFE_BUILTINS`;
3. ``np``/``math``/``terms`` are read-only namespaces holding only allowlisted members, so
   even a missed code path cannot reach ``np.save``, ``np.load`` or ``np.ctypeslib``.

Sizes are capped at run time as well: ``np``'s constructors are the capped versions of
:mod:`rewards.caps`, and so are ``pow`` and the operators the compiler routes through it.
"""

from __future__ import annotations

import builtins
import math
import types
from collections.abc import Mapping
from typing import Any

import numpy as np

from rewards import caps as _caps
from rewards import terms as _terms


class ReadOnlyNamespace(type):
    """Metaclass of the provided namespaces: classes whose attributes cannot be changed.

    ``np``, ``math`` and ``terms`` are classes with this metaclass, holding the allowed
    members as class attributes. Why not module objects: CPython only specializes attribute
    loads on *exact* modules, so a read-only module subclass costs ~10 ns per ``np.``/
    ``terms.`` access, while class attribute loads stay as fast as module ones; a reward is
    called millions of times.
    """

    def __setattr__(cls, name: str, value: Any) -> None:
        raise AttributeError(
            f"{cls.__name__} is read-only inside reward programs; assign to a local variable"
        )

    def __delattr__(cls, name: str) -> None:
        raise AttributeError(f"{cls.__name__} is read-only inside reward programs")

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        raise TypeError(f"{cls.__name__} is a namespace, not a function")


def _words(text: str) -> frozenset[str]:
    """Whitespace-separated names as a set (keeps the allowlists below readable)."""
    return frozenset(text.split())


def _namespace(name: str, members: Mapping[str, Any], doc: str) -> ReadOnlyNamespace:
    for key, value in members.items():
        # Class attributes pass through the descriptor protocol; every member must come back
        # as itself (plain functions, builtins, ufuncs and numbers all do).
        if hasattr(type(value), "__get__") and value.__get__(None, object) is not value:
            raise TypeError(f"{name}.{key} would change when read from a namespace class")
    return ReadOnlyNamespace(name, (), {"__doc__": doc, "__slots__": (), **members})


#: numpy functions and constants a reward may call as ``np.<name>``. Everything here is pure
#: computation: no file, buffer, pointer, callback or global-state access (so no ``save``,
#: ``load``, ``frombuffer``, ``ctypeslib``, ``vectorize``, ``seterr``, ``random``).
NUMPY_NAMES: frozenset[str] = _words(
    """
    abs absolute add all allclose amax amin any arccos arccosh arcsin arcsinh arctan arctan2
    arctanh arange argmax argmin around array asarray atleast_1d cbrt ceil clip concatenate
    copysign cos cosh cross cumsum deg2rad degrees diff divide dot e einsum exp exp2 expm1
    float32 float64 floor fmax fmin fmod full full_like heaviside hstack hypot inf inner
    int32 int64 interp isclose isfinite isinf isnan linspace log log10 log1p log2 logical_and
    logical_not logical_or logical_xor matmul max maximum mean median min minimum mod multiply
    nan nan_to_num negative newaxis ones ones_like outer pi power prod rad2deg radians ravel
    reciprocal remainder reshape rint round sign sin sinh sqrt square squeeze stack std
    subtract sum tan tanh tile transpose trunc var vstack where zeros zeros_like
    """
)

#: ``np.linalg`` members; only the norm (the rest is rarely useful in a reward).
NUMPY_LINALG_NAMES: frozenset[str] = frozenset({"norm"})

#: math members a reward may use. ``factorial``, ``comb`` and ``perm`` are left out: they are
#: never needed in a reward and turn a small argument into minutes of CPU.
MATH_NAMES: frozenset[str] = frozenset(
    n
    for n in dir(math)
    if not n.startswith("_") and n not in {"factorial", "comb", "perm", "isqrt", "lcm", "gcd"}
)

#: The term library, ``terms.<name>``.
TERMS_NAMES: frozenset[str] = frozenset(_terms.__all__)

#: Builtins available without a prefix. Constructors and reducers only: no introspection
#: (``getattr``, ``type``, ``vars``, ``dir``), no I/O (``open``, ``print``, ``input``), no code
#: execution (``exec``, ``eval``, ``compile``, ``__import__``), no iterators that never end.
SAFE_BUILTIN_NAMES: frozenset[str] = _words(
    """
    abs all any bool dict divmod enumerate filter float int isinstance len list map max min
    pow range reversed round set sorted sum tuple zip
    """
)

#: Builtins that exist in Python but are refused, with the reason given to the model.
FORBIDDEN_CALLS: Mapping[str, str] = types.MappingProxyType(
    {
        "exec": "runs arbitrary code",
        "eval": "runs arbitrary code",
        "compile": "builds arbitrary code",
        "open": "reads and writes files",
        "__import__": "imports modules",
        "getattr": "reaches arbitrary attributes",
        "setattr": "changes arbitrary attributes",
        "delattr": "changes arbitrary attributes",
        "hasattr": "probes arbitrary attributes",
        "globals": "exposes the program's globals",
        "locals": "exposes interpreter frames",
        "vars": "exposes object internals",
        "dir": "exposes object internals",
        "type": "exposes classes and their internals",
        "object": "exposes the class hierarchy",
        "super": "exposes the class hierarchy",
        "breakpoint": "starts a debugger",
        "input": "waits for terminal input",
        "print": "writes to the terminal millions of times during training",
        "help": "starts an interactive pager",
        "memoryview": "exposes raw memory",
        "id": "exposes memory addresses",
        "iter": "can build endless iterators",
        "next": "is not needed; use a for loop",
        "format": "can read attributes through format strings",
        "classmethod": "defines classes",
        "staticmethod": "defines classes",
        "property": "defines classes",
        "exit": "stops the process",
        "quit": "stops the process",
    }
)

#: Attributes allowed on values (arrays, numbers, dicts, lists, the state mapping). Each is
#: side-effect free or only mutates a local container. Missing on purpose: ``tofile``,
#: ``dump``, ``ctypes``, ``data``, ``base``, ``flags``, ``setflags``, ``view``, ``format``,
#: ``gi_frame``, ``f_globals``, ``mro`` and everything starting with ``_``.
VALUE_ATTRS: frozenset[str] = _words(
    """
    T all any append argmax argmin astype clip conj copy count cumsum dot extend flatten get
    imag index item items keys max mean min ndim prod ravel real reshape round shape size std
    squeeze sum tolist transpose update values var
    """
)

#: Names the program gets for free, and so may not rebind.
PROVIDED_MODULES: tuple[str, ...] = ("np", "math", "terms")

NUMPY = _namespace(
    "np",
    {
        **{n: getattr(np, n) for n in NUMPY_NAMES},
        **_caps.capped_numpy(),  # constructors whose size a program controls, capped
        "linalg": _namespace(
            "np.linalg",
            {n: getattr(np.linalg, n) for n in NUMPY_LINALG_NAMES},
            "Read-only subset of numpy.linalg for reward programs.",
        ),
    },
    "Read-only subset of numpy for reward programs.",
)
MATH = _namespace(
    "math", {n: getattr(math, n) for n in MATH_NAMES}, "Read-only math for reward programs."
)
TERMS = _namespace(
    "terms",
    {n: getattr(_terms, n) for n in TERMS_NAMES},
    "Read-only reward term library (rewards.terms) for reward programs.",
)

#: The builtins every compiled program gets (each program receives its own copy).
SAFE_BUILTINS: Mapping[str, Any] = types.MappingProxyType(
    {n: getattr(builtins, n) for n in SAFE_BUILTIN_NAMES}
)


def _numpy_internal_import(
    name: str,
    globals: Mapping[str, Any] | None = None,
    locals: Mapping[str, Any] | None = None,
    fromlist: tuple[str, ...] = (),
    level: int = 0,
) -> Any:
    """``__import__`` for C code running in a program's frame, limited to numpy itself.

    numpy's C functions import their Python helpers lazily (``ndarray.sum`` imports
    ``numpy._core._methods`` on first use) through the ``__import__`` of the *calling*
    frame's builtins, so a program's builtins must have one. Programs cannot name it
    (dunder names are rejected), and it refuses everything outside numpy anyway.
    """
    if level == 0 and (name == "numpy" or name.startswith("numpy.")):
        return builtins.__import__(name, globals, locals, fromlist, level)
    raise ImportError(f"reward programs cannot import {name!r}")


#: Module-qualified names that ``import``/``from ... import`` may bind, mapped onto the
#: provided namespaces. Anything else that is imported is rejected.
IMPORTABLE: Mapping[str, ReadOnlyNamespace] = types.MappingProxyType(
    {
        "numpy": NUMPY,
        "numpy.linalg": NUMPY.linalg,
        "math": MATH,
        "rewards.terms": TERMS,
    }
)


def members_of(namespace: ReadOnlyNamespace) -> frozenset[str]:
    """The public member names of a provided namespace."""
    return frozenset(k for k in vars(namespace) if not k.startswith("_"))


def program_globals(extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """A fresh globals dict for one compiled program.

    Args:
        extra: additional bindings (aliases created by mapped imports, e.g. ``npy``).
    """
    # A plain dict (not a read-only proxy): CPython's fast global lookups need one, and
    # programs cannot reach it since the name ``__builtins__`` is rejected.
    g: dict[str, Any] = {
        "__builtins__": {
            **SAFE_BUILTINS,
            "pow": _caps.power,
            "__import__": _numpy_internal_import,
        },
        "__name__": "reward_program",
        **_caps.OPERATORS,
        "np": NUMPY,
        "math": MATH,
        "terms": TERMS,
    }
    if extra:
        g.update(extra)
    return g
