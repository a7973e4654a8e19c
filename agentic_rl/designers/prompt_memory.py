"""The refinement memory as the LLM designer's prompt shows it, within a token budget.

Eureka-style reflection needs the model to see what it tried, not only what won. From the
history of finished iterations (every :class:`~agentic_rl.records.CandidateRecord`, the same
record the offline designer reads) this renders, in order of importance:

1. **the all-time best**: its figures, its code and its full diagnosis packet;
2. **the last iteration's other candidates**: each with its outcome, its code (or a unified
   diff against the best when that is shorter) and the key lines of its packet; candidates
   stopped by successive halving show their training-rung figures (per-episode reward-term
   sums, how episodes ended) and rejected ones the validator's message;
3. **everything tried**, newest first, one line per candidate from the run's
   :class:`~agentic_rl.designers.memory.DesignMemory` (the record the offline designer keeps:
   outcome, verdict against its parent, termination reasons, failed success criteria, terms).

It fits a token budget by giving up detail oldest first: table rows of the oldest iterations,
then the last iteration's packet lines, then the best packet's detail, then the other
candidates' code; and it says what it dropped.
"""

from __future__ import annotations

import csv
import difflib
from dataclasses import dataclass
from pathlib import Path

from agentic_rl.designers.base import best_candidate, load_packet, packet_text
from agentic_rl.designers.memory import DesignMemory
from agentic_rl.diagnostics.render import estimate_tokens, render_text
from agentic_rl.records import CandidateRecord, IterationRecord

#: Default token budget of the memory section.
DEFAULT_MEMORY_TOKENS = 6000
#: Packet budgets (tokens): the best candidate's full packet, another candidate's key lines.
BEST_PACKET_TOKENS = 2500
KEY_PACKET_TOKENS = 320
#: Smallest packet budget render_text accepts.
_MIN_PACKET = 100


@dataclass
class Memory:
    """The rendered memory and what was left out to fit."""

    text: str
    tokens: int
    dropped: list[str]


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x:.0%}"


def figures(c: CandidateRecord) -> str:
    """One line of a trained candidate's figures, with the labels the prompt defines."""
    parts = [f"nominal success {_pct(c.success_rate)}"]
    if c.randomized_success_rate is not None:
        parts.append(f"randomized success {_pct(c.randomized_success_rate)}")
    metrics = ", ".join(f"{k} {v:.3g}" for k, v in sorted(c.task_metrics.items()) if k != "success")
    if metrics:
        parts.append(f"task metrics: {metrics}")
    if c.score is not None:
        parts.append(f"score {c.score:.4f}")
    return "; ".join(parts)


def outcome(c: CandidateRecord) -> str:
    """What happened to a candidate, in one line."""
    if c.status == "trained":
        return f"trained {c.steps:,} steps: {figures(c)}"
    if c.status == "rejected" and c.rejection is not None:
        where = f", line {c.rejection.line}" if c.rejection.line is not None else ""
        first = " ".join(c.rejection.message.split())[:400]
        return f"rejected by the validator ({c.rejection.stage}{where}): {first}"
    if c.status == "stopped_early":
        return (
            f"stopped early by successive halving after {c.steps:,} steps: {c.error or ''}".rstrip(
                ": "
            )
        )
    precheck = getattr(c, "precheck", None)
    if c.status == "refused" and precheck is not None:
        return f"refused by the checks before training: {' '.join(precheck.message.split())[:400]}"
    return f"{c.status}: {c.error or 'no detail'}"


def rung_lines(c: CandidateRecord) -> str:
    """Training-rollout figures of a candidate from the last row of its ``train.csv``:
    training success, how episodes ended and each reward term's mean sum per episode."""
    path = Path(c.run_dir) / "train.csv" if c.run_dir else None
    if path is None or not path.is_file():
        return ""
    try:
        with path.open(newline="") as fh:
            rows = list(csv.DictReader(fh))
    except (OSError, csv.Error):
        return ""
    logged = [r for r in rows if r.get("rollout/episodes") not in (None, "")]
    if not logged:
        return "No training episode had finished when it was stopped (no rollout figures)."
    row = {k: v for k, v in logged[-1].items() if v not in (None, "")}

    def num(key: str) -> float | None:
        try:
            return float(row[key])
        except (KeyError, ValueError):
            return None

    parts = []
    sr = num("rollout/success_rate")
    if sr is not None:
        parts.append(f"training success {sr:.0%}")
    ends = {k.removeprefix("rollout/end_"): num(k) for k in row if k.startswith("rollout/end_")}
    ends_text = ", ".join(f"{k} {v:.0%}" for k, v in ends.items() if v)
    if ends_text:
        parts.append(f"episodes ended: {ends_text}")
    terms = {
        k.removeprefix("reward/"): num(k)
        for k in row
        if k.startswith("reward/") and "nonfinite" not in k
    }
    terms_text = ", ".join(f"{k} {v:,.4g}" for k, v in terms.items() if v is not None)
    if terms_text:
        parts.append(f"reward terms, mean sum per episode: {terms_text}")
    return "Training rollouts at the last logged step: " + "; ".join(parts) if parts else ""


def code_or_diff(c: CandidateRecord, base: CandidateRecord | None) -> str:
    """The candidate's code, or a unified diff against ``base``'s when that is shorter."""
    code = (c.code or "").rstrip()
    if not code:
        return ""
    if base is not None and base.code and base is not c:
        diff = "\n".join(
            difflib.unified_diff(
                base.code.rstrip().splitlines(),
                code.splitlines(),
                f"{base.cid}/reward.py",
                f"{c.cid}/reward.py",
                lineterm="",
                n=1,
            )
        )
        if diff and len(diff) < 0.7 * len(code):
            return f"```diff\n{diff}\n```"
    return f"```python\n{code}\n```"


def key_packet_lines(c: CandidateRecord, budget: int) -> str:
    """The candidate's packet rendered within ``budget`` tokens (findings and evaluation
    first), or its saved packet text cut to fit; '' without a packet."""
    packet = load_packet(c)
    if packet is not None:
        return render_text(packet, max(_MIN_PACKET, budget)).rstrip()
    text = packet_text(c, budget * 4)
    return text.rstrip()


def table(memory: DesignMemory, skip_iterations: int = 0) -> str:
    """Every candidate tried, one line each (outcome, verdict against its parent, terms),
    newest first; the oldest ``skip_iterations`` iterations are summarized in one line."""
    entries = memory.ordered()
    first = min((e.iteration for e in entries), default=0)
    cut = first + skip_iterations
    rows = [f"- {e.line()}" for e in reversed(entries) if e.iteration >= cut]
    old = [e for e in entries if e.iteration < cut]
    if old:
        trained = [e for e in old if e.outcome.success_rate is not None]
        top = max(trained, key=lambda e: e.outcome.score or 0.0, default=None)
        rows.append(
            f"- ({len(old)} candidates of iterations {first}-{cut - 1} not listed"
            + (
                f"; the best of them {top.cid}, nominal success {_pct(top.outcome.success_rate)}"
                if top
                else ""
            )
            + ")"
        )
    return "\n".join(rows)


def render_memory(
    history: list[IterationRecord],
    budget_tokens: int = DEFAULT_MEMORY_TOKENS,
    memory: DesignMemory | None = None,
) -> Memory:
    """The memory section of a refinement prompt within ``budget_tokens`` (see module doc).

    Args:
        history: every finished iteration, oldest first.
        budget_tokens: the section's token budget (:func:`estimate_tokens`).
        memory: the run's :class:`DesignMemory` (rebuilt from ``history`` when not given).
    """
    if not history:
        return Memory("No reward has been trained yet: this is the first iteration.", 0, [])
    if memory is None:
        memory = DesignMemory().update(history)
    best = best_candidate(history)
    last = history[-1]
    others = [c for c in last.candidates if best is None or c.cid != best.cid]
    dropped: list[str] = []
    skip = 0
    best_packet = BEST_PACKET_TOKENS
    other_packet = KEY_PACKET_TOKENS
    show_code = True
    while True:
        text = _assemble(history, memory, best, others, best_packet, other_packet, show_code, skip)
        tokens = estimate_tokens(text)
        if tokens <= budget_tokens:
            break
        # Give up detail, oldest first.
        if skip < len(history) - 1:
            skip += 1
            if skip == 1:
                dropped.append("table rows of the oldest iterations")
        elif other_packet > 0:
            other_packet = 0
            dropped.append(f"packet lines of the other candidates of iteration {last.iteration}")
        elif best_packet > _MIN_PACKET:
            best_packet = _MIN_PACKET
            dropped.append("most of the best candidate's packet")
        elif show_code:
            show_code = False
            dropped.append(f"the code of the other candidates of iteration {last.iteration}")
        else:
            break  # nothing left to give up: the caller's budget is below the minimum
    if dropped:
        note = (
            f"[Memory cut to fit {budget_tokens} tokens: dropped {'; '.join(dropped)}. The full "
            "record is in the run folder.]"
        )
        text = f"{text}\n\n{note}"
        tokens = estimate_tokens(text)
    return Memory(text, tokens, dropped)


def _assemble(
    history: list[IterationRecord],
    memory: DesignMemory,
    best: CandidateRecord | None,
    others: list[CandidateRecord],
    best_packet: int,
    other_packet: int,
    show_code: bool,
    skip: int,
) -> str:
    last = history[-1]
    parts: list[str] = []
    if best is None:
        parts.append("No candidate has finished training yet; none has a packet.")
    else:
        parts += [
            f"## All-time best: {best.cid}",
            outcome(best),
            code_or_diff(best, None),
            "",
            f"Its diagnosis packet:\n{key_packet_lines(best, best_packet) or '(no packet)'}",
        ]
    if others:
        parts += ["", f"## The other candidates of the last iteration ({last.iteration})"]
        for c in others:
            parts += ["", f"### {c.cid}: {outcome(c)}"]
            if c.proposal.rationale:
                parts.append(f"Its author's note: {c.proposal.rationale[:300]}")
            if show_code:
                body = code_or_diff(c, best) or _rejected_code(c)
                if body:
                    parts.append(body)
            if c.status == "stopped_early" or (c.status == "trained" and other_packet == 0):
                rung = rung_lines(c)
                if rung:
                    parts.append(rung)
            if c.status == "trained":
                lines = key_packet_lines(c, other_packet) if other_packet > 0 else ""
                entry = memory.entries.get(c.cid)
                if not lines and entry is not None and entry.packet_lines:
                    lines = "\n".join(f"- {line}" for line in entry.packet_lines)
                if lines:
                    parts.append(f"Key packet lines:\n{lines}")
    parts += [
        "",
        "## Everything tried so far (newest first; verdict against the candidate it refined)",
        table(memory, skip),
    ]
    return "\n".join(parts)


def _rejected_code(c: CandidateRecord) -> str:
    """The code a rejected candidate proposed (as the model wrote it), shortened."""
    if c.status != "rejected":
        return ""
    from agentic_rl.designers.answers import answer_code

    code = answer_code(c.proposal.response)
    if not code:
        return ""
    lines = code.rstrip().splitlines()
    if len(lines) > 40:
        lines = [*lines[:40], f"# ... {len(lines) - 40} more lines"]
    return "```python\n" + "\n".join(lines) + "\n```"
