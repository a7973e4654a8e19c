"""The robustness report: ``robustness.json``, two plots and an HTML fragment.

``robustness.json`` is a versioned :class:`RobustnessReport` (the sweep with every evaluated
point, the joint trials, the transfer rows, the realism table). The plots are drawn with
matplotlib's object-oriented API on the Agg canvas (no pyplot, no display). The fragment
(``robustness.html``) is a ``<section>`` the run report can include as is; its images are
referenced relative to the folder it is written to.
"""

from __future__ import annotations

import html
import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from pydantic import BaseModel, ConfigDict, Field, ValidationError

import sims
from agentic_rl.robustness.realism import realism_table
from agentic_rl.robustness.rollout import PolicyUnderTest, RobustnessError
from agentic_rl.robustness.sweep import (
    SweepResult,
    SweepSettings,
    check_params,
    sweep,
    sweep_rows,
)
from agentic_rl.robustness.transfer import TransferResult, transfer_check

#: Bump on an incompatible change of ``robustness.json``.
REPORT_VERSION = "1"
#: Folder inside a PolicyBundle where the loop and the CLI write the report by default (a
#: subfolder, so ROS package generation, which copies the bundle's files, leaves it out).
REPORT_DIR = "robustness"
DPI = 80
KEEP_COLOR, BREAK_COLOR, SPEC_COLOR = "#2ca02c", "#d62728", "#bbbbbb"


class RobustnessReport(BaseModel):
    """Everything ``agentic-rl robustness`` measured for one policy."""

    model_config = ConfigDict(extra="forbid")

    version: str = REPORT_VERSION
    task_id: str
    policy_source: str
    policy_sha256: str | None = None
    action_mode: str | None = None
    train_randomize: bool | dict[str, list[float]] | None = Field(
        None, description="How the policy was trained (None: not recorded)."
    )
    created: str = Field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    settings: SweepSettings = Field(default_factory=SweepSettings)
    sweep: SweepResult | None = None
    sweep_error: str | None = Field(None, description="Why there is no sweep, if there is none.")
    transfer: TransferResult | None = None
    realism: list[dict[str, str]] = Field(default_factory=list)
    plots: dict[str, str] = Field(default_factory=dict, description="name -> file name.")
    wall_time: float = 0.0


def build_report(
    policy: PolicyUnderTest,
    settings: SweepSettings | None = None,
    *,
    transfer: bool = True,
    transfer_episodes: int | None = None,
    progress: bool = False,
) -> RobustnessReport:
    """Sweep a policy and run the transfer check; nothing is written.

    Args:
        policy: the policy under test.
        settings: sweep settings (default :class:`SweepSettings`).
        transfer: also run the sim-to-sim transfer check.
        transfer_episodes: episodes per transfer configuration (default: the sweep's).
        progress: print a line per parameter and configuration.

    Returns:
        The report; when the policy has too little nominal success to sweep,
        ``sweep`` is ``None`` and ``sweep_error`` says why (the transfer check still runs).

    Raises:
        RobustnessError: for a parameter name the task does not have.
    """
    settings = settings or SweepSettings()
    start = time.perf_counter()
    spec = sims.get_spec(policy.task_id, policy.action_mode)
    check_params(spec, settings.params)
    report = RobustnessReport(
        task_id=spec.id,
        policy_source=policy.source,
        policy_sha256=policy.sha256,
        action_mode=policy.action_mode,
        train_randomize=policy.train_randomize,
        settings=settings,
        realism=realism_table(spec),
    )
    if progress:
        print(f"sweep ({settings.episodes} episodes per value):", flush=True)
    try:
        report.sweep = sweep(policy, settings, progress=progress)
    except RobustnessError as exc:
        report.sweep_error = str(exc)
    if transfer:
        if progress:
            print("transfer check:", flush=True)
        report.transfer = transfer_check(
            policy,
            episodes=transfer_episodes or settings.episodes,
            seed=settings.seed,
            progress=progress,
        )
    report.wall_time = time.perf_counter() - start
    return report


def write_report(report: RobustnessReport, out_dir: str | Path, *, plots: bool = True) -> Path:
    """Write ``robustness.json`` (and, with ``plots``, the PNGs and ``robustness.html``).

    Returns:
        The path of ``robustness.json``.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    report.plots = {}
    if plots:
        if report.sweep is not None and report.sweep.params:
            report.plots["sweep"] = plot_sweep(report.sweep, out / "robustness_sweep.png").name
        if report.transfer is not None and report.transfer.rows:
            report.plots["transfer"] = plot_transfer(
                report.transfer, out / "robustness_transfer.png"
            ).name
        (out / "robustness.html").write_text(html_fragment(report))
    path = out / "robustness.json"
    # write then rename: the loop may read a report while another process writes one
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(report.model_dump(mode="json"), indent=2, allow_nan=False))
    tmp.replace(path)
    return path


def load_report(path: str | Path) -> RobustnessReport:
    """Read a ``robustness.json``.

    Raises:
        ValueError: when the file is not a robustness report of this version.
    """
    p = Path(path)
    try:
        data = json.loads(p.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"cannot read {p}: {exc}") from None
    if data.get("version") != REPORT_VERSION:
        raise ValueError(
            f"{p} is robustness report version {data.get('version')!r}; this agentic-rl reads "
            f"version {REPORT_VERSION}: run `agentic-rl robustness` again"
        )
    try:
        return RobustnessReport.model_validate(data)
    except ValidationError as exc:
        raise ValueError(f"{p} is not a valid robustness report: {exc}") from None


# ---------------------------------------------------------------------------------- plots
def _save(fig: Figure, path: Path) -> Path:
    FigureCanvasAgg(fig)
    fig.savefig(path, dpi=DPI, pil_kwargs={"compress_level": 3})
    return path


def plot_sweep(result: SweepResult, path: Path) -> Path:
    """One panel per parameter: success rate against its value, the safe range shaded green,
    the spec's default range grey, the keep threshold dashed."""
    n = len(result.params)
    cols = min(4, n)
    rows = -(-n // cols)
    height = 2.3 * rows + 0.6
    # fixed margins in inches (no layout engine): room for the title above the first row
    fig = Figure(figsize=(3.0 * cols, height))
    fig.subplots_adjust(
        left=0.07, right=0.98, top=1 - 0.65 / height, bottom=0.35 / height, hspace=0.6, wspace=0.3
    )
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    for ax, p in zip(axes, result.params, strict=False):
        pts = [(p.nominal, result.nominal_success, True)]
        for side in (p.low, p.high):
            if side is not None:
                pts += [(pt.value, pt.success_rate, pt.keeps) for pt in side.points]
        pts.sort()
        xs, ys = [x for x, _, _ in pts], [y for _, y, _ in pts]
        ax.axvspan(p.spec_low, p.spec_high, color=SPEC_COLOR, alpha=0.35, lw=0)
        lo, hi = p.safe_range
        ax.axvspan(lo, hi, color=KEEP_COLOR, alpha=0.18, lw=0)
        ax.plot(xs, ys, color="#555555", lw=1)
        ax.scatter(xs, ys, c=[KEEP_COLOR if k else BREAK_COLOR for _, _, k in pts], s=16, zorder=3)
        ax.axhline(result.threshold, color=BREAK_COLOR, ls="--", lw=0.8)
        ax.axvline(p.nominal, color="black", ls=":", lw=0.8)
        ax.set_ylim(-0.05, 1.05)
        ax.set_title(f"{p.name} [{p.unit}]", fontsize=9)
        ax.tick_params(labelsize=7)
    for ax in axes[n:]:
        ax.set_visible(False)
    joint = result.joint_success
    fig.suptitle(
        f"{result.task_id.split('/')[-1]}: success per parameter (green: keeps success, grey: "
        f"spec range); joint at safe ranges " + (f"{joint:.0%}" if joint is not None else "n/a"),
        fontsize=10,
    )
    return _save(fig, path)


def plot_transfer(result: TransferResult, path: Path) -> Path:
    """Success in each physics configuration, nominal as a reference line."""
    rows = result.rows
    fig = Figure(figsize=(6.4, 0.35 * len(rows) + 1.2))
    fig.subplots_adjust(left=0.28, right=0.96, top=0.88, bottom=0.12 if len(rows) > 4 else 0.2)
    ax = fig.subplots()
    names = [r.config.name for r in rows]
    values = [r.success_rate for r in rows]
    colors = [
        KEEP_COLOR if r.success_rate >= 0.9 * result.nominal_success else BREAK_COLOR for r in rows
    ]
    ax.barh(range(len(rows)), values, color=colors)
    for y, v in enumerate(values):
        # the number, so a 0% bar is not an empty row
        ax.text(max(v, 0.0) + 0.01, y, f"{v:.0%}", va="center", fontsize=7)
    ax.set_yticks(range(len(rows)), names, fontsize=8)
    ax.invert_yaxis()
    ax.axvline(result.nominal_success, color="black", ls="--", lw=1, label="nominal")
    ax.set_xlim(0, 1.1)
    ax.set_xlabel("success rate", fontsize=8)
    ax.legend(loc="lower right", bbox_to_anchor=(1.0, 1.0), fontsize=7, frameon=False)
    ax.set_title(f"{result.task_id.split('/')[-1]}: sim-to-sim transfer", fontsize=10, loc="left")
    return _save(fig, path)


# ---------------------------------------------------------------------------------- text
def _num(x: float | None) -> str:
    return "-" if x is None else f"{x:g}"


def sweep_table_text(result: SweepResult) -> str:
    """The sweep as a compact plain-text table (for a designer's prompt and the terminal)."""
    lines = [
        f"Robustness sweep of the best policy ({result.settings.episodes} episodes per value; "
        f"nominal success {result.nominal_success:.0%}; a value keeps success at >= "
        f"{result.threshold:.0%}):",
        "param | nominal | safe range (alone) | breaks at | spec default range",
    ]
    for row in sweep_rows(result):
        breaks = ", ".join(
            f"{_num(v)}" for v in (row["broke_low"], row["broke_high"]) if v is not None
        )
        lines.append(
            f"{row['param']} [{row['unit']}] | {_num(row['nominal'])} | "
            f"[{_num(row['safe_low'])}, {_num(row['safe_high'])}] | {breaks or 'never'} | "
            f"[{_num(row['spec_low'])}, {_num(row['spec_high'])}]"
        )
    for trial in result.joint:
        lines.append(
            f"joint randomization at {trial.scale:.0%} of the safe ranges: "
            f"{trial.success_rate:.0%} success ({'keeps' if trial.keeps else 'does not keep'})"
        )
    return "\n".join(lines)


def html_fragment(report: RobustnessReport) -> str:
    """A self-contained ``<section>`` for the run report (images relative to its folder)."""
    esc = html.escape
    parts = [f'<section class="robustness"><h2>Robustness: {esc(report.task_id)}</h2>']
    s = report.sweep
    if s is None:
        parts.append(f"<p>No sweep: {esc(report.sweep_error or 'not run')}</p>")
    else:
        parts.append(
            f"<p>Nominal success {s.nominal_success:.0%} over {s.settings.episodes} episodes; a "
            f"value keeps success at &ge; {s.threshold:.0%} ({s.settings.keep_fraction:.0%} of "
            "nominal). Each parameter alone, bisection on each side of nominal.</p>"
        )
        head = "".join(
            f"<th>{h}</th>"
            for h in ("parameter", "nominal", "safe range", "breaks at", "spec range", "covers")
        )
        body = []
        for row in sweep_rows(s):
            breaks = ", ".join(
                _num(v) for v in (row["broke_low"], row["broke_high"]) if v is not None
            )
            body.append(
                f"<tr><td>{esc(str(row['param']))} [{esc(str(row['unit']))}]</td>"
                f"<td>{_num(row['nominal'])}</td>"
                f"<td>[{_num(row['safe_low'])}, {_num(row['safe_high'])}]</td>"
                f"<td>{breaks or 'never'}</td>"
                f"<td>[{_num(row['spec_low'])}, {_num(row['spec_high'])}]</td>"
                f"<td>{'yes' if row['covers_spec_range'] else 'no'}</td></tr>"
            )
        parts.append(f"<table><tr>{head}</tr>{''.join(body)}</table>")
        joint = "; ".join(
            f"{t.scale:.0%} of the safe ranges: {t.success_rate:.0%}" for t in s.joint
        )
        parts.append(f"<p>Joint randomization: {esc(joint)}.</p>")
        if "sweep" in report.plots:
            parts.append(f'<img src="{esc(report.plots["sweep"])}" alt="sweep">')
    t = report.transfer
    if t is not None:
        rows = "".join(
            f"<tr><td>{esc(r.config.name)}</td><td>{esc(r.config.description)}</td>"
            f"<td>{r.success_rate:.0%}</td><td>{r.gap:+.0%}</td>"
            f"<td>{esc(_reasons(r.termination_reasons))}</td></tr>"
            for r in t.rows
        )
        parts.append(
            f"<h3>Sim-to-sim transfer</h3><p>Nominal success {t.nominal_success:.0%} over "
            f"{t.episodes} episodes; gap = nominal minus configuration.</p>"
            "<table><tr><th>configuration</th><th>what it stands for</th><th>success</th>"
            f"<th>gap</th><th>endings</th></tr>{rows}</table>"
        )
        if "transfer" in report.plots:
            parts.append(f'<img src="{esc(report.plots["transfer"])}" alt="transfer">')
    if report.realism:
        rows = "".join(
            f"<tr><td>{esc(r['param'])}</td><td>{esc(r['simulated_as'])}</td>"
            f"<td>{esc(r['on_the_robot'])}</td><td>{esc(r['resolution'])}</td></tr>"
            for r in report.realism
        )
        parts.append(
            "<h3>Latency and noise: simulator vs robot</h3><table><tr><th>parameter</th>"
            "<th>simulated as</th><th>on the robot</th><th>resolution</th></tr>"
            f"{rows}</table>"
        )
    parts.append("</section>")
    return "\n".join(parts)


def _reasons(reasons: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(reasons.items(), key=lambda kv: -kv[1]))


def summary(report: RobustnessReport) -> dict[str, Any]:
    """A small JSON summary (what ``agentic-rl robustness --json`` prints)."""
    s, t = report.sweep, report.transfer
    return {
        "task_id": report.task_id,
        "policy": report.policy_source,
        "nominal_success": s.nominal_success if s else (t.nominal_success if t else None),
        "sweep": list(sweep_rows(s)) if s else None,
        "sweep_error": report.sweep_error,
        "joint": [j.model_dump(mode="json") for j in s.joint] if s else None,
        "transfer": (
            [
                {"config": r.config.name, "success_rate": r.success_rate, "gap": r.gap}
                for r in t.rows
            ]
            if t
            else None
        ),
        "wall_time": report.wall_time,
    }
