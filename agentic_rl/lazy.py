"""Package names imported on first use (PEP 562), for packages whose parts are heavy.

``agentic_rl.export`` (torch, onnx) and ``agentic_rl.report`` (matplotlib) list their public
names here, so that importing one light submodule, or the package for one name, does not load
everything the others need.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from importlib import import_module
from typing import Any


def lazy_names(
    package: str, names: Mapping[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` of ``package``: ``names`` maps each public name to
    the module that defines it; a name is imported when first read, then kept.

    Usage, in the package's ``__init__``: ``__getattr__, __dir__ = lazy_names(__name__, NAMES)``.
    """

    def getattr_(name: str) -> Any:
        if name not in names:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(import_module(names[name]), name)
        setattr(sys.modules[package], name, value)
        return value

    def dir_() -> list[str]:
        return sorted({*vars(sys.modules[package]), *names})

    return getattr_, dir_
