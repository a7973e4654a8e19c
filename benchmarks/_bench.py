"""What the benchmarks share: their sections of RESULTS.md, and training one policy quietly
with what it cost.

Each benchmark owns one section of ``benchmarks/RESULTS.md``, between
``<!-- NAME:begin -->`` and ``<!-- NAME:end -->``; :func:`write_section` replaces it (or appends
it) and leaves the rest of the file alone, :func:`read_section` reads it back, and
:func:`merge_blocks` keeps a section's earlier ``### `` blocks that this run did not redo.

Benchmarks run as scripts (``python benchmarks/learning.py``), so they import this module by
its bare name from their own folder.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from agentic_rl.ppo import PPOConfig, TrainResult

#: The file every benchmark writes its tables into.
RESULTS = Path(__file__).with_name("RESULTS.md")
#: What a new RESULTS.md starts with.
RESULTS_TITLE = "# Benchmark results\n"


def section_markers(name: str) -> tuple[str, str]:
    """The begin and end markers of section ``name``."""
    return f"<!-- {name}:begin -->", f"<!-- {name}:end -->"


def read_section(name: str, path: Path = RESULTS) -> str | None:
    """The body of section ``name`` as :func:`write_section` wrote it (the text between its
    markers, less the line breaks after and before them), or ``None`` when it has none yet."""
    begin, end = section_markers(name)
    text = path.read_text() if path.exists() else ""
    if begin not in text or end not in text:
        return None
    inner = text.split(begin, 1)[1].split(end, 1)[0]
    # the newlines right after the begin and before the end marker are the layout's own
    return inner.removeprefix("\n").removesuffix("\n")


def write_section(name: str, body: str, path: Path = RESULTS, *, heading: str = "") -> None:
    """Put ``body`` between section ``name``'s markers, replacing what was there; append the
    section (after ``heading``, when given) if the file does not have it yet."""
    begin, end = section_markers(name)
    text = path.read_text() if path.exists() else RESULTS_TITLE
    block = begin + "\n" + body + "\n" + end
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        text = head + block + rest.split(end, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + (f"{heading}\n\n" if heading else "") + block + "\n"
    path.write_text(text)


def merge_blocks(
    old: str | None,
    new: Mapping[str, str],
    same: Callable[[str, str], bool] = lambda first_line, title: first_line.startswith(title),
) -> str:
    """A section body of ``### `` blocks: the old ones whose first line matches no title of
    ``new`` (title -> block), then the new blocks, separated by blank lines."""
    blocks = ["### " + b.strip() for b in (old or "").split("### ") if b.strip()]
    kept = [b for b in blocks if not any(same(b.split("\n", 1)[0], t) for t in new)]
    return "\n\n".join([*kept, *new.values()])


class Timed(NamedTuple):
    """A benchmark's training run: its result, its config and what it cost."""

    result: TrainResult
    config: PPOConfig
    wall_s: float
    cpu_s: float


def train_timed(
    task_id: str,
    steps: int | None,
    seed: int,
    out_dir: str | Path,
    *,
    reward: Any = "reference",
    overrides: dict[str, Any] | None = None,
    **train_kwargs: Any,
) -> Timed:
    """Train without progress bar, TensorBoard or the trainer's own evaluation (benchmarks
    evaluate on seeds of their own), overwriting ``out_dir``.

    Returns:
        The result, the config, wall seconds and CPU seconds of this process and its children
        (a reward program trains in a guarded child, see :mod:`agentic_rl.ppo.guarded`).
    """
    from agentic_rl.ppo import make_config, train

    cfg = make_config(
        task_id=task_id,
        total_steps=steps,
        seed=seed,
        progress=False,
        tensorboard=False,
        eval_episodes=0,
        **(overrides or {}),
    )
    t0, c0 = time.perf_counter(), cpu_seconds()
    result = train(cfg, task_id, reward=reward, overwrite=True, out_dir=out_dir, **train_kwargs)
    return Timed(result, cfg, time.perf_counter() - t0, cpu_seconds() - c0)


def cpu_seconds() -> float:
    """CPU seconds of this process plus its finished children (guarded training runs)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system
