"""Training logs: one logger, two sinks (CSV and TensorBoard), plus a rich progress bar.

Keys are namespaced the SB3 way: ``rollout/*`` (episodes), ``reward/*`` (per-episode sums of
each reward term), ``metrics/*`` (task metrics), ``train/*`` (optimizer), ``time/*``.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


class Logger:
    """Collects scalars for one update and writes them as one CSV row and TensorBoard points.

    The CSV is wide (one column per key) because that is what plots and the diagnostics read;
    keys that first appear later (a reward term seen only once an episode ends) extend the
    header, which rewrites the file: it holds one row per update, so this stays cheap.

    Args:
        out_dir: run folder; writes ``train.csv`` and ``tb/``.
        tensorboard: also write TensorBoard event files.
        resume_step: when resuming, keep CSV rows up to this step and drop later ones (they
            belong to the part of the interrupted run that is being redone).
    """

    def __init__(
        self, out_dir: Path, tensorboard: bool = True, resume_step: int | None = None
    ) -> None:
        self.path = Path(out_dir) / "train.csv"
        self.keys: list[str] = ["time/total_steps"]
        self.rows: list[dict[str, float]] = []
        self.pending: dict[str, float] = {}
        if resume_step is not None and self.path.exists():
            with self.path.open(newline="") as f:
                reader = csv.DictReader(f)
                self.keys = list(reader.fieldnames or self.keys)
                for row in reader:
                    if float(row["time/total_steps"]) <= resume_step:
                        self.rows.append({k: float(v) for k, v in row.items() if v != ""})
        self._rewrite()
        self.writer: Any = None
        if tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            purge = None if resume_step is None else resume_step + 1
            self.writer = SummaryWriter(str(Path(out_dir) / "tb"), purge_step=purge)

    def record(self, key: str, value: float) -> None:
        """Set ``key`` for the current row (last value wins)."""
        self.pending[key] = float(value)

    def dump(self, step: int) -> dict[str, float]:
        """Write the pending scalars at ``step`` to every sink; returns the row."""
        row = {"time/total_steps": float(step), **self.pending}
        self.pending = {}
        new = [k for k in row if k not in self.keys]
        self.rows.append(row)
        if new:
            self.keys += new
            self._rewrite()
        else:
            with self.path.open("a", newline="") as f:
                csv.DictWriter(f, self.keys).writerow(row)
        if self.writer is not None:
            for key, value in row.items():
                if key != "time/total_steps" and math.isfinite(value):
                    self.writer.add_scalar(key, value, step)
            self.writer.flush()
        return row

    def _rewrite(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("w", newline="") as f:
            writer = csv.DictWriter(f, self.keys)
            writer.writeheader()
            writer.writerows(self.rows)

    def close(self) -> None:
        """Flush and close the TensorBoard writer."""
        if self.writer is not None:
            self.writer.close()
            self.writer = None


def progress_bar(disable: bool = False) -> Progress:
    """A rich progress bar showing steps, steps/s, success rate and ETA.

    Update it with ``progress.update(task, completed=steps, sps=..., success=...)``.
    """
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("steps  {task.fields[sps]:>6.0f} steps/s  success {task.fields[success]}"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        disable=disable,
    )
