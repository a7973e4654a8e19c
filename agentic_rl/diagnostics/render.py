"""The packet as compact text for a designer's prompt, within a token budget.

Sections go in order of importance: findings, evaluation summary, reward-term table, training
curves, exemplars. Each section has a full and a shorter form; a section that does not fit
in its shorter form is dropped, and the text ends by saying what was shortened or dropped
(the full data stays in ``packet.json``).

Token counting: :func:`estimate_tokens` approximates BPE tokenizers of the cl100k/o200k kind
without needing one installed. It splits text the way their pre-tokenizer does (letter runs,
digit groups of at most three, single punctuation marks) and counts a letter run as one token
per six letters (started), a digit group or punctuation mark as one token, a space before a
word as nothing and any other whitespace run as one token. Tables of numbers cost ~2 chars
per token, prose ~5; a flat 4 chars/token would undercount the numeric sections by half, so
this errs on the side of staying under a real budget.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from agentic_rl.diagnostics.packet import (
    DiagnosisPacket,
    EvalSummary,
    Exemplar,
    MetricStats,
    Moment,
)

#: Default token budget of ``packet.txt``.
DEFAULT_BUDGET_TOKENS = 2500
#: Smallest budget that leaves room for the header and the drop notice.
MIN_BUDGET_TOKENS = 100
#: Tokens kept free for the closing "dropped ..." notice while sections are chosen.
_NOTICE_RESERVE = 70

_PIECES = re.compile(r"[A-Za-z]+|\d{1,3}|[^\S\n]+|\n+|[^\sA-Za-z\d]")


def estimate_tokens(text: str) -> int:
    """Approximate token count of ``text`` (see the module docstring for the rule)."""
    n = 0
    for m in _PIECES.finditer(text):
        piece = m.group()
        if piece[0].isalpha():
            n += -(-len(piece) // 6)
        elif piece != " ":  # a single space merges into the word after it
            n += 1
    return n


def _g(x: float | None, digits: int = 3) -> str:
    # + 0.0 turns -0.0 into 0.0, so a rounded-away penalty does not print as "-0"
    return "-" if x is None else f"{x + 0.0:.{digits}g}"


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x:.0%}"


def _spread(m: MetricStats | None) -> str:
    if m is None:
        return "-"
    return f"{_g(m.mean)}±{_g(m.std, 2)} [{_g(m.min)}..{_g(m.max)}]"


# ----------------------------------------------------------------------------- sections
def _header(p: DiagnosisPacket) -> str:
    lines = [
        f"# Diagnosis of candidate {p.candidate} on {p.task_id} (packet v{p.version}, reward "
        f"{p.reward_hash[:10]}, {p.train_steps} training steps)"
    ]
    lines += [f"note: {n}" for n in p.notes]
    return "\n".join(lines)


def _findings(p: DiagnosisPacket) -> list[str]:
    head = "## Findings (most severe first)"
    if not p.findings:
        return [f"{head}\n- none of the automatic rules fired"]
    items = [f"- [{f.severity}] {f.code}: {f.message}" for f in p.findings]
    variants = ["\n".join([head, *items])]
    for k in range(len(items) - 1, 0, -1):
        more = f"- (+{len(items) - k} less severe findings in packet.json)"
        variants.append("\n".join([head, *items[:k], more]))
    return variants


def _summary_line(s: EvalSummary, full: bool) -> str:
    physics = "randomized" if s.randomized else "nominal"
    wins = round(s.success_rate * s.episodes)
    endings = ", ".join(f"{r} {n}" for r, n in s.termination_reasons.items())
    line = f"{physics} physics: success {_pct(s.success_rate)} ({wins}/{s.episodes}); endings: {endings}"
    if full and s.episode_length is not None:
        line += f"; episode length {_spread(s.episode_length)} steps"
    metrics = s.metrics.items() if full else list(s.metrics.items())[:3]
    parts = [f"{k} {_spread(m) if full else _g(m.mean)}" for k, m in metrics if k != "success"]
    if parts:
        line += "\n  metrics: " + "; ".join(parts)
    return line


def _evaluation(p: DiagnosisPacket) -> list[str]:
    head = "## Evaluation (deterministic policy, seeded episodes; metrics mean±std [min..max])"
    sums = [p.nominal] + ([p.randomized] if p.randomized else [])
    return [
        "\n".join([head, *(_summary_line(s, True) for s in sums)]),
        "\n".join(["## Evaluation", *(_summary_line(s, False) for s in sums)]),
    ]


def _terms(p: DiagnosisPacket) -> list[str]:
    if not p.terms:
        return ["## Reward terms\n(none recorded)"]
    head = (
        "## Reward terms (per-episode sums over training: share of total magnitude, mean "
        "[min..max], trend = late minus early per unit of scale; per step: nominal evaluation)"
    )
    rows = []
    for t in p.terms:
        step = "-" if t.eval_step is None else f"{_g(t.eval_step.mean)}±{_g(t.eval_step.std, 2)}"
        bad = t.nonfinite + t.eval_nonfinite
        rows.append(
            f"- {t.name}: share {_pct(t.share)}, mean {_g(t.mean)} [{_g(t.min)}..{_g(t.max)}], "
            f"trend {t.trend:+.2f}, per step {step}" + (f", non-finite {bad}" if bad else "")
        )
    short = [
        f"- {t.name}: share {_pct(t.share)}, mean {_g(t.mean)}, trend {t.trend:+.2f}"
        for t in p.terms
    ]
    return [
        "\n".join([head, *rows]),
        "\n".join(["## Reward terms (share, mean per episode, trend)", *short]),
    ]


def _curve_table(p: DiagnosisPacket, points: int, columns: Sequence[str]) -> str:
    pts = p.training
    if len(pts) > points:
        idx = sorted({round(i * (len(pts) - 1) / (points - 1)) for i in range(points)})
        pts = [pts[i] for i in idx]
    names = {
        "success_rate": "success",
        "task_metric": p.task_metric_name or "task_metric",
        "episode_length": "ep_len",
        "episode_reward": "ep_reward",
        "entropy": "entropy",
        "approx_kl": "approx_kl",
        "explained_variance": "expl_var",
    }
    lines = ["step | " + " | ".join(names[c] for c in columns)]
    for pt in pts:
        cells = [
            _pct(getattr(pt, c)) if c == "success_rate" else _g(getattr(pt, c)) for c in columns
        ]
        lines.append(f"{pt.step} | " + " | ".join(cells))
    return "\n".join(lines)


def _curves(p: DiagnosisPacket) -> list[str]:
    if not p.training:
        return []
    metric = p.task_metric_name or "task metric"
    better = "higher" if p.task_metric_higher_is_better else "lower"
    head = f"## Training curves ({metric}: {better} is better)"
    full = _curve_table(
        p,
        len(p.training),
        (
            "success_rate",
            "task_metric",
            "episode_length",
            "episode_reward",
            "entropy",
            "approx_kl",
            "explained_variance",
        ),
    )
    short = _curve_table(p, 5, ("success_rate", "task_metric", "episode_reward"))
    return [f"{head}\n{full}", f"{head}\n{short}"]


def _moment(m: Moment) -> str:
    state, reward = [], []
    for k, v in m.values.items():
        text = "(" + ", ".join(f"{x:+.2f}" for x in v) + ")" if isinstance(v, list) else _g(v)
        (reward if k.startswith("reward.") else state).append(f"{k.removeprefix('reward.')}={text}")
    line = f"  t={m.t:.2f}s " + " ".join(state)
    return line + (" | reward: " + " ".join(reward) if reward else "")


def _exemplar(e: Exemplar, rank: int) -> list[str]:
    if e.kind == "success":
        head = f"## Successful episode for contrast (seed {e.seed})"
    else:
        which = "Most common failure" if rank == 0 else "Another failure"
        head = f"## {which}: {e.termination_reason} (seed {e.seed})"
    full = "\n".join([head, e.summary, "last moments:", *(_moment(m) for m in e.last_moments)])
    return [full, f"{head}\n{e.summary}"]


# ----------------------------------------------------------------------------- assembly
def render_text(packet: DiagnosisPacket, budget_tokens: int = DEFAULT_BUDGET_TOKENS) -> str:
    """Render the packet for a designer within ``budget_tokens`` (see :func:`estimate_tokens`).

    Raises:
        ValueError: for a budget below :data:`MIN_BUDGET_TOKENS`.
    """
    if budget_tokens < MIN_BUDGET_TOKENS:
        raise ValueError(
            f"budget_tokens must be at least {MIN_BUDGET_TOKENS} (header and drop notice), "
            f"got {budget_tokens}"
        )
    sections: list[tuple[str, list[str]]] = [
        ("findings", _findings(packet)),
        ("evaluation", _evaluation(packet)),
        ("reward terms", _terms(packet)),
        ("training curves", _curves(packet)),
    ]
    failures = 0
    for e in packet.exemplars:
        name = "success exemplar" if e.kind == "success" else f"{e.termination_reason} exemplar"
        sections.append((name, _exemplar(e, failures)))
        failures += e.kind == "failure"
    header = _header(packet)
    chosen = [header]
    used = estimate_tokens(header)
    shortened, dropped = [], []
    for name, variants in sections:
        if not variants:
            continue
        for i, text in enumerate(variants):
            cost = estimate_tokens("\n\n" + text)
            if used + cost <= budget_tokens - _NOTICE_RESERVE:
                chosen.append(text)
                used += cost
                if i:
                    shortened.append(name)
                break
        else:
            dropped.append(name)
    if shortened or dropped:
        parts = []
        if dropped:
            parts.append("dropped " + ", ".join(dropped))
        if shortened:
            parts.append("shortened " + ", ".join(shortened))
        notice = f"[To fit {budget_tokens} tokens: {'; '.join(parts)}. Full data in packet.json.]"
        if used + estimate_tokens("\n\n" + notice) > budget_tokens:
            notice = f"[{len(dropped)} sections dropped, {len(shortened)} shortened to fit.]"
        chosen.append(notice)
    return "\n\n".join(chosen) + "\n"
