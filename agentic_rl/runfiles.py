"""Files of a training run folder, found from either the folder or the file itself.

Commands and APIs accept ``runs/x`` as well as ``runs/x/train.csv`` or
``runs/x/checkpoint.pt``; this is the one place that turns such a path into the file and says
clearly when it is not there.
"""

from __future__ import annotations

from pathlib import Path

#: The training log :func:`agentic_rl.ppo.train` writes into its run folder.
TRAIN_CSV = "train.csv"
#: The checkpoint :func:`agentic_rl.ppo.train` writes into its run folder.
CHECKPOINT = "checkpoint.pt"


def run_file(path: str | Path, name: str, error: type[Exception] = FileNotFoundError) -> Path:
    """``path`` itself, or ``path / name`` when ``path`` is a folder.

    Raises:
        error: when the file does not exist (the message names the path and what to pass).
    """
    path = Path(path)
    if path.is_dir():
        path = path / name
    if not path.is_file():
        raise error(f"no {name} at {path}; pass a run folder that holds {name} or the file itself")
    return path
