"""Files of a training run folder, found from either the folder or the file itself.

Commands and APIs accept ``runs/x`` as well as ``runs/x/train.csv`` or
``runs/x/checkpoint.pt``; this is the one place that turns such a path into the file and says
clearly when it is not there.
"""

from __future__ import annotations

import json
from pathlib import Path

#: The training log :func:`agentic_rl.ppo.train` writes into its run folder.
TRAIN_CSV = "train.csv"
#: The checkpoint :func:`agentic_rl.ppo.train` writes into its run folder.
CHECKPOINT = "checkpoint.pt"
#: The resolved configuration (task, reward, PPO settings) a training run writes.
RUN_CONFIG = "config.json"


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


def run_task(path: str | Path) -> str | None:
    """The task a training run recorded, loadable here: its ``config.json`` ``task_id``,
    loaded again from the recorded ``task_path`` when the task was named by its class path
    (so a custom task needs no ``--task`` again). ``None`` when no config.json records one.

    Raises:
        LookupError: when the recorded id is unknown here and no class path was recorded.
        ImportError: when the recorded class path no longer loads as that task.
    """
    path = Path(path)
    config = (path if path.is_dir() else path.parent) / RUN_CONFIG
    if not config.is_file():
        return None
    raw = json.loads(config.read_text())
    if not isinstance(raw, dict) or not raw.get("task_id"):
        return None
    from agentic_rl.ppo.envs import recall_task

    return recall_task(str(raw["task_id"]), raw.get("task_path"))
