"""The one way CLI commands make a rich console."""

from __future__ import annotations

from typing import Any

from rich.console import Console


def make_console(**kwargs: Any) -> Console:
    """A rich :class:`Console` for command output, with emoji codes off: user text such as a
    task path ``mymod:X`` must print as written, not with ``:X:`` turned into an emoji."""
    return Console(emoji=False, **kwargs)
