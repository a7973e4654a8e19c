"""The closed refinement loop behind ``agentic-rl refine``, one module per job.

* :mod:`~agentic_rl.loop.core`: :class:`RefineLoop`, the run's state machine (start, resume,
  stop conditions) with its propose and validate steps;
* :mod:`~agentic_rl.loop.lineage`: warm starts, the control candidate and the cold one;
* :mod:`~agentic_rl.loop.training`: training with successive halving, through the executor;
* :mod:`~agentic_rl.loop.selecting`: selection on selection seeds, the all-time best, export;
* :mod:`~agentic_rl.loop.testing`: the final and iteration 0's best on test seeds.

``summary.json`` is built by the report (:mod:`agentic_rl.report.summary`) from the manifest.
"""

from agentic_rl.loop.core import RefineLoop
from agentic_rl.records import MANIFEST_VERSION
from agentic_rl.report.summary import build_summary

__all__ = ["MANIFEST_VERSION", "RefineLoop", "build_summary"]
