"""Reading a PPO run's ``train.csv`` into columns.

The trainer writes one wide row per update with SB3-style namespaced keys (see
:mod:`agentic_rl.ppo.logger`): ``rollout/*`` (episodes in the last-100 window), ``reward/<term>``
(per-episode sum of each reward term, averaged over that window), ``reward/nonfinite/<term>``
(cumulative NaN/inf count), ``metrics/<name>`` (task metrics), ``train/*`` (optimizer). Cells
are empty until a key first appears; they read as NaN here.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from agentic_rl.runfiles import TRAIN_CSV, run_file

STEP = "time/total_steps"
_NONFINITE_PREFIX = "reward/nonfinite/"
_NONFINITE_TOTAL = "reward/nonfinite_total"


@dataclass
class TrainLog:
    """The columns of one ``train.csv`` as float arrays (NaN where a cell is empty)."""

    columns: dict[str, np.ndarray]
    path: Path | None = None

    @classmethod
    def read(cls, path: str | Path) -> TrainLog:
        """Read ``train.csv`` from a file or a run folder.

        Raises:
            FileNotFoundError: when there is no ``train.csv`` (names the path and what
                writes it).
        """
        path = run_file(path, TRAIN_CSV)
        with path.open(newline="") as f:
            reader = csv.reader(f)
            header = next(reader, [])
            rows = list(reader)
        data = np.full((len(rows), len(header)), np.nan)
        for i, row in enumerate(rows):
            for j, cell in enumerate(row[: len(header)]):
                if cell:
                    data[i, j] = float(cell)
        return cls({key: data[:, j] for j, key in enumerate(header)}, path)

    def __len__(self) -> int:
        return len(self.steps)

    @property
    def steps(self) -> np.ndarray:
        """Environment steps at each row."""
        return self.columns.get(STEP, np.zeros(0))

    def col(self, key: str) -> np.ndarray:
        """Column ``key`` (all NaN if the run never logged it)."""
        return self.columns.get(key, np.full(len(self), np.nan))

    def term_names(self) -> list[str]:
        """Reward terms the run logged, in log order."""
        return [
            k.removeprefix("reward/")
            for k in self.columns
            if k.startswith("reward/")
            and not k.startswith(_NONFINITE_PREFIX)
            and k != _NONFINITE_TOTAL
        ]

    def nonfinite(self, term: str) -> int:
        """Steps on which ``term`` was NaN/inf during training (the counter is cumulative)."""
        values = self.col(_NONFINITE_PREFIX + term)
        values = values[np.isfinite(values)]
        return int(values.max()) if values.size else 0
