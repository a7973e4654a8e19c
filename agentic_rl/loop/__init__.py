"""The closed refinement loop behind ``agentic-rl refine``, one module per job.

* :mod:`~agentic_rl.loop.core`: :class:`RefineLoop`, the run's state machine (start, resume,
  stop conditions) with its propose and validate steps;
* :mod:`~agentic_rl.loop.lineage`: warm starts, the control candidate and the cold one;
* :mod:`~agentic_rl.loop.training`: training with successive halving, through the executor;
* :mod:`~agentic_rl.loop.selecting`: selection on selection seeds, the all-time best, export;
* :mod:`~agentic_rl.loop.testing`: the final and iteration 0's best on test seeds;
* :mod:`~agentic_rl.loop.summary`: ``summary.json`` and the improvement's definitions.
"""

from agentic_rl.loop.core import RefineLoop
from agentic_rl.loop.summary import build_summary
from agentic_rl.records import MANIFEST_VERSION

__all__ = ["MANIFEST_VERSION", "RefineLoop", "build_summary"]
