"""What a run reports: ``summary.json`` (:mod:`.summary`, figures built from the manifest) and
``report.html`` (:mod:`.page`, one self-contained page rendered from the run folder).

>>> from agentic_rl.report import build_summary, write_report

Names are imported on first use, so the loop (which builds the summary on every save) does not
load matplotlib until it writes the page.
"""

from __future__ import annotations

from agentic_rl.lazy import lazy_names

#: name -> module that defines it.
_NAMES = {
    "build_summary": "agentic_rl.report.summary",
    "improvement": "agentic_rl.report.summary",
    "lineage_chain": "agentic_rl.report.summary",
    "normalized_score": "agentic_rl.report.summary",
    "render": "agentic_rl.report.page",
    "write_report": "agentic_rl.report.page",
}

__all__ = sorted(_NAMES)


__getattr__, __dir__ = lazy_names(__name__, _NAMES)
