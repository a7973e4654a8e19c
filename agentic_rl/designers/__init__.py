"""Reward designers: who writes the reward programs the loop trains.

>>> from agentic_rl.designers import make_designer
>>> designer = make_designer("offline", seed=0, transcript="runs/x/llm_transcript.jsonl")
>>> proposals = designer.propose(spec, history, n=4)

* ``offline`` (default): rules over diagnosis packets, no network
  (:mod:`agentic_rl.designers.offline`);
* ``openai``: any OpenAI-compatible endpoint (:mod:`agentic_rl.designers.openai_designer`;
  needs ``pip install agentic-rl[openai]``);
* ``replay``: a recorded ``llm_transcript.jsonl`` (:mod:`agentic_rl.designers.replay`).

Designers never run the code they propose; only the reward pipeline does.
"""

from __future__ import annotations

import difflib
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agentic_rl.designers.base import BudgetExceeded, Designer, DesignerError
from agentic_rl.llm.pricing import DEFAULT_PRICES, Price, PriceTable
from agentic_rl.llm.transcript import Transcript, read_transcript

if TYPE_CHECKING:
    from agentic_rl.config import RefineConfig
    from agentic_rl.runstore import RunStore

#: Designer names accepted by :func:`make_designer`.
DESIGNERS = ("offline", "openai", "replay")


def make_designer(name: str, **options: Any) -> Designer:
    """Build a designer by name.

    Args:
        name: ``"offline"``, ``"openai"`` or ``"replay"``.
        **options: passed to the designer's constructor. Common: ``transcript`` (the run's
            ``llm_transcript.jsonl``; for replay, the file to replay) and ``seed``. openai:
            ``base_url``, ``model``, ``api_key`` (default ``OPENAI_API_KEY``), ``vision``,
            ``timeout``, ``retry_budget_s``, ``max_retries``, ``budget_tokens``,
            ``budget_usd``, ``prices``, ``temperature``, ``max_tokens``, ``max_images``,
            ``prompt_tokens``, ``feedback`` (see :class:`OpenAIDesigner`).
            Options left at ``None`` count as not given.

    Raises:
        DesignerError: for an unknown name or bad options (one line saying what to set).
    """
    opts = {k: v for k, v in options.items() if v is not None}
    if name == "offline":
        from agentic_rl.designers.offline import OfflineDesigner as cls
    elif name == "openai":
        from agentic_rl.designers.openai_designer import OpenAIDesigner as cls
    elif name == "replay":
        from agentic_rl.designers.replay import ReplayDesigner as cls
    else:
        close = difflib.get_close_matches(str(name), DESIGNERS, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise DesignerError(
            f"unknown designer {name!r}; choose one of {', '.join(DESIGNERS)}.{hint}"
        )
    try:
        return cls(**opts)
    except TypeError as exc:
        # An option this designer does not take: say which ones it does.
        import inspect

        valid = [p for p in inspect.signature(cls.__init__).parameters if p != "self"]
        raise DesignerError(
            f"designer {name!r}: {exc}; valid options are {', '.join(valid)}"
        ) from None


def designer_for_run(config: RefineConfig, store: RunStore) -> Designer:
    """The designer a refine run asks for, wired to the run folder: its transcript goes into
    the run, the openai designer gets the run's budgets and ``feedback.md``, and the replay
    designer replays a copy kept in the run (so the run itself can be replayed).

    Raises:
        ValueError: replay without a transcript.
        FileNotFoundError: a transcript to replay that does not exist.
        DesignerError: for bad designer options.
    """
    opts = config.designer_options
    options: dict[str, Any] = {"transcript": store.transcript_path, "seed": config.seed}
    if config.designer == "openai":
        # every designer option but the replay designer's and the loop's own
        llm = opts.model_dump(exclude={"transcript", "repair_rounds"})
        options.update(
            llm,
            budget_tokens=config.budget_tokens,
            budget_usd=config.budget_usd,
            feedback=store.root / "feedback.md",
        )
    elif config.designer == "replay":
        if not opts.transcript:
            raise ValueError(
                "the replay designer needs a transcript: --transcript RUN_DIR/llm_transcript.jsonl"
            )
        source = Path(opts.transcript)
        if not source.exists():
            raise FileNotFoundError(f"transcript to replay {source} does not exist")
        # the run keeps a copy, so it can itself be replayed and reported like any other
        if not store.transcript_path.exists():
            shutil.copyfile(source, store.transcript_path)
        options["transcript"] = store.transcript_path
    return make_designer(config.designer, **options)


__all__ = [
    "DEFAULT_PRICES",
    "DESIGNERS",
    "BudgetExceeded",
    "Designer",
    "DesignerError",
    "Price",
    "PriceTable",
    "Transcript",
    "designer_for_run",
    "make_designer",
    "read_transcript",
]
