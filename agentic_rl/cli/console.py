"""The one way CLI commands make a rich console."""

from __future__ import annotations

import os
from typing import Any

from rich.console import Console

#: Width used when output goes to a file or pipe and ``COLUMNS`` does not say otherwise: rich
#: would assume 80 columns there and fold tables (benchmarks, ``tasks list``) into unreadable
#: stacks in logs, where nothing scrolls sideways anyway.
PIPE_WIDTH = 160


def make_console(**kwargs: Any) -> Console:
    """A rich :class:`Console` for command output, with emoji codes off: user text such as a
    task path ``mymod:X`` must print as written, not with ``:X:`` turned into an emoji.

    Output that is not a terminal gets :data:`PIPE_WIDTH` columns unless ``COLUMNS`` is set
    or the caller passes ``width``.
    """
    console = Console(emoji=False, **kwargs)
    if "width" not in kwargs and "COLUMNS" not in os.environ and not console.is_terminal:
        console.width = PIPE_WIDTH
    return console
