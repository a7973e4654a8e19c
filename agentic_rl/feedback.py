"""Human feedback on a refinement run: ``feedback.md`` in the run folder.

A person watching a run writes what the metrics miss ("it wobbles near the goal") into
``feedback.md``, by hand while the loop runs or with ``agentic-rl refine --feedback "text"``
(also together with ``--resume``). The LLM designer reads the file before every request and
puts it into the prompt, the transcript records each new version, and the report shows it.
"""

from __future__ import annotations

import time
from pathlib import Path

#: The file's name inside a run folder.
FEEDBACK_FILE = "feedback.md"


def feedback_path(run_dir: str | Path) -> Path:
    """Where a run's feedback lives."""
    return Path(run_dir) / FEEDBACK_FILE


def add_feedback(run_dir: str | Path, text: str, iteration: int | None = None) -> Path:
    """Append a dated entry to the run's ``feedback.md``.

    Raises:
        ValueError: for empty text.
    """
    text = text.strip()
    if not text:
        raise ValueError('--feedback needs some text, e.g. --feedback "it wobbles near the goal"')
    path = feedback_path(run_dir)
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    before = f", before iteration {iteration}" if iteration is not None else ""
    entry = f"## {when}{before}\n\n{text}\n"
    old = path.read_text("utf-8").rstrip() + "\n\n" if path.exists() else ""
    path.write_text(old + entry, "utf-8")
    return path


def read_feedback(run_dir: str | Path) -> str:
    """The run's feedback text ('' if there is none)."""
    try:
        return feedback_path(run_dir).read_text("utf-8").strip()
    except OSError:
        return ""
