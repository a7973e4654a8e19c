"""``report.html``: one self-contained page (images inlined) that shows what a run did.

Sections: headline figures (initial vs final success on test and selection seeds, baselines,
cost and time), the honest evaluation (test seeds, the improvement's definitions, the control
comparisons, the final's lineage), success per iteration, every candidate's training curve, each iteration's best reward with a diff against
its parent, packet findings and plots (termination histograms, trajectories), rejected and
failed candidates with their reasons, and a GIF of the best policy.
"""

from __future__ import annotations

import base64
import csv
import difflib
import html
import io
import json
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:0 auto;max-width:1100px;
padding:24px;color:#1d2330;background:#fafbfc}
h1{margin:0 0 4px}h2{margin-top:36px;border-bottom:2px solid #e1e4e8;padding-bottom:4px}
.cards{display:flex;gap:12px;flex-wrap:wrap}.card{background:#fff;border:1px solid #e1e4e8;
border-radius:8px;padding:12px 16px;min-width:150px}.card b{display:block;font-size:26px}
table{border-collapse:collapse;width:100%;background:#fff}td,th{border:1px solid #e1e4e8;
padding:4px 8px;text-align:left;font-size:14px;vertical-align:top}th{background:#f3f4f6}
pre{background:#fff;border:1px solid #e1e4e8;padding:8px;overflow-x:auto;font-size:12px}
.add{background:#e6ffed}.del{background:#ffeef0}.muted{color:#6a737d}
img{max-width:100%}.grid{display:grid;grid-template-columns:1fr 1fr;gap:12px}
.ok{color:#22863a;font-weight:600}.bad{color:#cb2431;font-weight:600}
details{margin:6px 0}summary{cursor:pointer}
"""


def _img(data: bytes, mime: str = "image/png", alt: str = "") -> str:
    b64 = base64.b64encode(data).decode()
    return f'<img alt="{html.escape(alt)}" src="data:{mime};base64,{b64}">'


def _fig_html(fig: Any, alt: str) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return _img(buf.getvalue(), alt=alt)


def _file_img(path: str | Path | None, alt: str) -> str:
    if not path or not Path(path).exists():
        return ""
    mime = "image/gif" if str(path).endswith(".gif") else "image/png"
    return _img(Path(path).read_bytes(), mime, alt)


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x:.0%}"


def _curve(csv_path: Path) -> tuple[list[float], list[float]]:
    steps, success = [], []
    if not csv_path.exists():
        return steps, success
    with csv_path.open() as f:
        for row in csv.DictReader(f):
            s, v = row.get("time/total_steps"), row.get("rollout/success_rate")
            if s and v:
                steps.append(float(s))
                success.append(float(v))
    return steps, success


def _success_plot(iterations: list[dict[str, Any]]) -> str:
    fig, ax = plt.subplots(figsize=(7, 3.2))
    best_so_far, xs, ys = -1.0, [], []
    for it in iterations:
        rates = [c["success_rate"] for c in it["candidates"] if c["success_rate"] is not None]
        ax.scatter([it["iteration"]] * len(rates), rates, color="#8da0cb", s=25, zorder=2)
        if rates:
            best_so_far = max(best_so_far, max(rates))
        xs.append(it["iteration"])
        ys.append(max(best_so_far, 0.0))
    ax.plot(xs, ys, color="#1b9e77", marker="o", label="all-time best", zorder=3)
    ax.set_xlabel("iteration")
    ax.set_ylabel("held-out success")
    ax.set_ylim(-0.05, 1.05)
    ax.set_xticks(xs)
    ax.legend(loc="lower right")
    ax.grid(alpha=0.3)
    return _fig_html(fig, "success per iteration")


def _curves_plot(iterations: list[dict[str, Any]]) -> str:
    n = len(iterations)
    if n == 0:
        return ""
    cols = min(n, 3)
    rows = (n + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(3.6 * cols, 2.6 * rows), squeeze=False)
    for ax, it in zip(axes.flat, iterations, strict=False):
        for c in it["candidates"]:
            steps, success = _curve(Path(c["run_dir"]) / "train.csv")
            if steps:
                ax.plot(steps, success, label=f"c{c['index']} ({c['status']})")
        ax.set_title(f"iteration {it['iteration']}", fontsize=10)
        ax.set_ylim(-0.05, 1.05)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    fig.supxlabel("env steps")
    fig.supylabel("training success")
    fig.tight_layout()
    return _fig_html(fig, "training curves")


def _diff(parent: str | None, child: str) -> str:
    if not parent:
        return f"<pre>{html.escape(child)}</pre>"
    lines = []
    for line in difflib.unified_diff(
        parent.splitlines(), child.splitlines(), "parent", "best", lineterm=""
    ):
        cls = "add" if line.startswith("+") else "del" if line.startswith("-") else ""
        lines.append(f'<span class="{cls}">{html.escape(line)}</span>')
    body = "\n".join(lines) or "(identical to its parent)"
    return f"<pre>{body}</pre>"


def _candidate_rows(it: dict[str, Any]) -> str:
    rows = []
    for c in it["candidates"]:
        reason = ""
        if c.get("rejection"):
            r = c["rejection"]
            reason = f"{r['stage']}: {html.escape(r['message'].splitlines()[0])}"
        elif c.get("error"):
            reason = html.escape(c["error"])
        terms = ""
        packet = _packet(c)
        if packet:
            ends = packet.get("nominal", {}).get("termination_reasons", {})
            terms = ", ".join(f"{k} {v}" for k, v in sorted(ends.items(), key=lambda kv: -kv[1]))
        precheck = c.get("precheck")
        if precheck and not precheck.get("passed") and not reason:
            reason = "check before training: " + html.escape(precheck.get("message", ""))
        cls = "ok" if c["status"] == "trained" else "bad"
        best = " (best)" if it.get("best_index") == c["index"] else ""
        rows.append(
            f"<tr><td>c{c['index']}{best}</td><td>{_start(c)}</td>"
            f"<td class='{cls}'>{c['status']}</td>"
            f"<td>{_pct(c['success_rate'])}</td><td>{_pct(c.get('randomized_success_rate'))}</td>"
            f"<td>{c.get('steps', 0):,}</td><td>{terms}</td><td>{reason}</td></tr>"
        )
    return (
        "<table><tr><th>candidate</th><th>start</th><th>status</th><th>success</th>"
        "<th>randomized</th><th>steps</th><th>endings (nominal)</th><th>why not trained</th></tr>"
        + "".join(rows)
        + "</table>"
    )


def _start(c: dict[str, Any]) -> str:
    """How the candidate's policy started (cold, warm from its parent, or the control)."""
    lin = c.get("lineage") or {}
    kind = lin.get("start", "cold")
    if kind == "cold":
        return "cold"
    return f"{kind} from {html.escape(str(lin.get('warm_from')))}"


def _honest_section(summary: dict[str, Any]) -> str:
    """Selection-seed vs test-seed figures of iteration 0's best and the final, the
    improvement's definitions, and the control comparisons."""
    test = summary.get("test") or {}
    initial, final = summary.get("initial"), summary.get("final")
    rows = []
    for name, sel, tst in (
        ("iteration 0 best", initial, test.get("initial")),
        ("final", final, test.get("final")),
    ):
        if sel is None:
            continue
        rows.append(
            f"<tr><td>{name} ({html.escape(sel['cid'])})</td><td>{_pct(sel['success_rate'])}</td>"
            f"<td>{_pct(tst and tst['success_rate'])}</td>"
            f"<td>{_pct(tst and tst.get('randomized_success_rate'))}</td>"
            f"<td>{sel.get('lineage_steps', 0):,}</td></tr>"
        )
    imp = test.get("improvement")
    lines = []
    if imp:
        rel = imp.get("relative")
        lines.append(
            f"Improvement on test seeds: <b>{imp['success_points'] * 100:+.0f} points</b> of "
            "success (final minus iteration 0's best), relative "
            + ("n/a (iteration 0 at 0%)" if rel is None else f"<b>{rel:+.0%}</b>")
            + (
                f", Eureka-normalized score <b>{imp['normalized']:.2f}</b> "
                "((final - sparse) / |reference - sparse|)"
                if imp.get("normalized") is not None
                else ""
            )
            + "."
        )
    ctl_rows = []
    for c in summary.get("controls") or []:
        t = c.get("test") or {}
        verdict = c.get("reward_beats_control")
        mark = "-" if verdict is None else ("yes" if verdict else "no")
        ctl_rows.append(
            f"<tr><td>{c['iteration']}</td><td>{html.escape(c['refined'])}</td>"
            f"<td>{_pct(t.get('refined'))} / {_pct(t.get('refined_randomized'))}</td>"
            f"<td>{html.escape(c['control'])}</td>"
            f"<td>{_pct(t.get('control'))} / {_pct(t.get('control_randomized'))}</td>"
            f"<td>{mark}</td></tr>"
        )
    kept = summary.get("kept_parent_level") or {}
    chain = " &larr; ".join(
        f"{html.escape(x['cid'])} ({x['start']}, {x['steps']:,} steps)"
        for x in summary.get("final_lineage") or []
    )
    return (
        f"<p class='muted'>Selection ranks candidates on selection seeds (the final is the "
        f"maximum of many noisy estimates, so its figure is optimistic); the test columns are "
        f"{test.get('episodes', 0)} nominal and {test.get('randomized_episodes', 0)} randomized "
        "episodes on test seeds that selection never saw.</p>"
        "<table><tr><th>policy</th><th>selection seeds</th><th>test seeds</th>"
        "<th>test, randomized</th><th>lineage steps</th></tr>"
        + "".join(rows)
        + "</table>"
        + "".join(f"<p>{x}</p>" for x in lines)
        + (f"<p>Lineage of the final policy: {chain}</p>" if chain else "")
        + (
            "<h3>What the new reward bought</h3><p class='muted'>Each warm-started iteration "
            "trains a control: the parent's policy under its unchanged reward for the same "
            "steps. Test-seed success (nominal / randomized physics) of the iteration's best "
            "refined reward vs the control; the reward beats the control when it is better "
            "under one physics and worse under neither.</p><table><tr><th>iteration</th>"
            "<th>refined</th><th>test success</th><th>control</th><th>test success</th>"
            "<th>reward beats control</th></tr>" + "".join(ctl_rows) + "</table>"
            if ctl_rows
            else ""
        )
        + (
            f"<p>Iterations &ge; 1: {kept['kept']} of {kept['trained']} trained candidates "
            "reached their parent's selection success minus 10 points.</p>"
            if kept.get("trained")
            else ""
        )
    )


def _packet(c: dict[str, Any]) -> dict[str, Any] | None:
    path = c.get("packet_path")
    if path and Path(path).exists():
        return json.loads(Path(path).read_text())
    return None


def _iteration_section(it: dict[str, Any], parent_code: str | None) -> str:
    parts = [f"<h3>Iteration {it['iteration']}</h3>", _candidate_rows(it)]
    if it.get("best_index") is None:
        parts.append("<p class='muted'>No candidate finished training in this iteration.</p>")
        return "".join(parts)
    best = it["candidates"][it["best_index"]]
    rationale = best["proposal"].get("rationale") or ""
    parts.append(
        f"<details open><summary>Best reward c{best['index']} "
        f"(success {_pct(best['success_rate'])}) vs its parent</summary>"
        f"<p class='muted'>{html.escape(rationale)}</p>{_diff(parent_code, best['code'] or '')}"
        "</details>"
    )
    packet = _packet(best)
    if packet:
        findings = "".join(
            f"<li><b>{html.escape(f['code'])}</b>: {html.escape(f['message'])}</li>"
            for f in packet.get("findings", [])
        )
        parts.append(
            f"<p>Findings of the diagnosis packet:</p><ul>{findings or '<li>none</li>'}</ul>"
        )
        imgs = "".join(_file_img(p, name) for name, p in packet.get("plots", {}).items())
        if imgs:
            parts.append(f"<div class='grid'>{imgs}</div>")
    return "".join(parts)


def render(run_dir: Path) -> str:
    """The report's HTML for a run folder."""
    run_dir = Path(run_dir)
    manifest = json.loads((run_dir / "manifest.json").read_text())
    summary_path = run_dir / "summary.json"
    summary = json.loads(summary_path.read_text()) if summary_path.exists() else {}
    iterations = manifest["iterations"]
    initial, final = summary.get("initial"), summary.get("final")
    usage = manifest.get("usage", {})
    baselines = summary.get("baselines") or {}
    test = summary.get("test") or {}
    t_initial, t_final = test.get("initial"), test.get("final")
    cards = [
        ("iteration 0 best (test)", _pct(t_initial["success_rate"]) if t_initial else "-"),
        ("final (test)", _pct(t_final["success_rate"]) if t_final else "-"),
        ("iteration 0 best (selection)", _pct(initial["success_rate"]) if initial else "-"),
        ("final (selection)", _pct(final["success_rate"]) if final else "-"),
        ("refused by checks", str(summary.get("refused_by_checks", 0))),
        *[(f"{name} reward", _pct(b.get("success_rate"))) for name, b in baselines.items()],
        ("wall time", f"{manifest.get('wall_time', 0):.0f} s"),
        (
            "designer tokens",
            f"{usage.get('prompt_tokens', 0) + usage.get('completion_tokens', 0):,}",
        ),
        ("designer cost", f"${usage.get('cost_usd', 0):.2f}"),
    ]
    card_html = "".join(f"<div class='card'>{k}<b>{v}</b></div>" for k, v in cards)
    sections = []
    codes: dict[str, str] = {}
    for it in iterations:
        for c in it["candidates"]:
            if c.get("code"):
                codes[f"i{c['iteration']}/c{c['index']}"] = c["code"]
    prev_best_code = None
    for it in iterations:
        parent = None
        if it.get("best_index") is not None:
            best = it["candidates"][it["best_index"]]
            parent = codes.get(best["proposal"].get("parent") or "") or prev_best_code
        sections.append(_iteration_section(it, parent))
        if it.get("best_index") is not None:
            prev_best_code = it["candidates"][it["best_index"]]["code"]
    gif = _views_html(run_dir) or _file_img(run_dir / "best" / "policy.gif", "best policy")
    best_line = (
        f"<p>Best candidate <b>{final['cid']}</b>, exported to <code>best/</code> "
        "(policy.onnx, weights.npz, golden.npz, bundle.json, reward.py).</p>"
        if final
        else "<p class='muted'>No candidate finished training.</p>"
    )
    from agentic_rl.feedback import read_feedback

    feedback = read_feedback(run_dir)  # what a person told the designer (feedback.md)
    feedback_html = f"<h2>Human feedback</h2><pre>{html.escape(feedback)}</pre>" if feedback else ""
    title = f"agentic-rl refine: {html.escape(manifest['task_id'])}"
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>{_CSS}</style></head><body>
<h1>{title}</h1>
<p class="muted">{html.escape(str(run_dir))} &middot; status {manifest["status"]}
&middot; {html.escape(str(manifest.get("stop_reason") or ""))}</p>
<div class="cards">{card_html}</div>{feedback_html}
<h2>Honest evaluation</h2>{_honest_section(summary)}
<h2>Success per iteration</h2>{_success_plot(iterations) if iterations else ""}
<h2>Training curves</h2>{_curves_plot(iterations)}
<h2>Best policy</h2>{best_line}{gif}
<h2>Iterations</h2>{"".join(sections)}
</body></html>"""


def _views_html(run_dir: Path) -> str:
    """The final best next to iteration 0's best: follow-camera GIF over trajectory plot.

    Reads ``views/final`` and ``views/initial`` (written by the loop with
    :func:`agentic_rl.showcase.write_policy_views`); empty when the run has none.
    """
    columns = []
    for key, label in (("final", "final best"), ("initial", "iteration 0's best")):
        folder = run_dir / "views" / key
        gif = _file_img(folder / "follow.gif", f"{label}: follow camera")
        plot = _file_img(folder / "trajectories.png", f"{label}: trajectories")
        if gif or plot:
            columns.append(f"<div><h3>{label}</h3>{gif}{plot}</div>")
    if not columns:
        return ""
    note = (
        "<p class='muted'>One test episode through a camera that follows the robot with its "
        "goal in view, and several test episodes from above and from the side (green: "
        "successful, red: failed). Test seeds were never used for selection.</p>"
    )
    return note + f"<div class='grid'>{''.join(columns)}</div>"


def write_report(run_dir: str | Path) -> Path:
    """Render and write ``report.html`` into the run folder; returns its path."""
    run_dir = Path(run_dir)
    path = run_dir / "report.html"
    path.write_text(render(run_dir))
    return path
