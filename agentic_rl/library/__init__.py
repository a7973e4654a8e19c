"""The policy library: trained policies with their task cards, figures and scene images.

>>> from agentic_rl.library import Library
>>> lib = Library("policy_library")
>>> lib.add("runs/DroneGates-v0/20250101-000000")      # a refine run: its best/ bundle
>>> [e.name for e in lib.entries()]
['DroneGates']
"""

from agentic_rl.library.store import (
    DEFAULT_ROOT,
    ENV_VAR,
    Library,
    LibraryEntry,
    LibraryError,
    RobustnessFigures,
    render_scenes,
    robustness_figures,
)

__all__ = [
    "DEFAULT_ROOT",
    "ENV_VAR",
    "Library",
    "LibraryEntry",
    "LibraryError",
    "RobustnessFigures",
    "render_scenes",
    "robustness_figures",
]
