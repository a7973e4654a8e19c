"""``agentic-rl robustness``: sweep a PolicyBundle's physics and check sim-to-sim transfer."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.table import Table

from agentic_rl.cli.console import make_console
from agentic_rl.seeds import SWEEP

if TYPE_CHECKING:
    from agentic_rl.robustness import RobustnessReport

console = make_console()


def register(app: typer.Typer) -> None:
    """Add the ``robustness`` command to the app."""
    app.command("robustness")(robustness)


def robustness(
    bundle: Path = typer.Option(
        ..., "--bundle", help="PolicyBundle folder (e.g. runs/<task>/<run>/best), or a run folder."
    ),
    task: str = typer.Option(
        None, "--task", help="Task id (default: the bundle's; checked against it when given)."
    ),
    episodes: int = typer.Option(20, "--episodes", min=1, help="Seeded episodes per value."),
    keep: float = typer.Option(
        0.9, "--keep", min=0.01, max=1.0, help="A value keeps success at >= KEEP x nominal."
    ),
    iterations: int = typer.Option(
        5, "--iterations", min=0, max=12, help="Bisection halvings per side."
    ),
    params: str = typer.Option(
        None, "--params", help="Comma-separated parameters to sweep (default: all)."
    ),
    transfer: bool = typer.Option(
        True, "--transfer/--no-transfer", help="Also run the sim-to-sim transfer check."
    ),
    seed: int = typer.Option(SWEEP.base, "--seed", help="First episode seed."),
    out: Path = typer.Option(None, "--out", help="Output folder (default: <bundle>/robustness)."),
    plots: bool = typer.Option(True, "--plots/--no-plots", help="Write PNG plots and HTML."),
    json_out: bool = typer.Option(False, "--json", help="Print a JSON summary."),
) -> None:
    """Per-parameter robustness sweep, joint randomization and sim-to-sim transfer check.

    For each randomization parameter alone, bisects on each side of nominal for the range over
    which the policy keeps its success (>= KEEP x nominal success over the same seeds), then
    randomizes all parameters jointly at those ranges. Writes robustness.json, plots and an
    HTML fragment to --out.
    """
    from pydantic import ValidationError

    from agentic_rl.robustness import (
        REPORT_DIR,
        RobustnessError,
        SweepSettings,
        build_report,
        load_policy_source,
        summary,
        write_report,
    )

    try:
        policy = load_policy_source(bundle, task)
        settings = SweepSettings(
            episodes=episodes,
            keep_fraction=keep,
            iterations=iterations,
            seed=seed,
            params=tuple(p.strip() for p in params.split(",") if p.strip()) if params else None,
        )
    except (RobustnessError, LookupError, ValidationError) as exc:
        raise typer.BadParameter(str(exc)) from None
    out_dir = (
        out if out is not None else (bundle if bundle.is_dir() else bundle.parent) / REPORT_DIR
    )
    if not json_out:
        console.print(
            f"[bold]robustness[/] {policy.task_id}  policy={policy.source}  "
            f"episodes={episodes}  keep={keep:.0%}  seed={seed}"
        )
    try:
        report = build_report(policy, settings, transfer=transfer, progress=not json_out)
    except RobustnessError as exc:
        raise typer.BadParameter(str(exc)) from None
    path = write_report(report, out_dir, plots=plots)
    if json_out:
        typer.echo(json.dumps({**summary(report), "report": str(path)}, indent=2))
        return
    _print(report)
    console.print(f"report: {path}")


def _print(report: RobustnessReport) -> None:
    from agentic_rl.robustness.sweep import sweep_rows

    s = report.sweep
    if s is None:
        console.print(f"[yellow]no sweep:[/] {report.sweep_error}")
    else:
        table = Table(
            title=f"{s.task_id}: nominal success {s.nominal_success:.0%}, keeps success at "
            f">= {s.threshold:.0%}"
        )
        for col in ("parameter", "nominal", "safe range", "breaks at", "spec range"):
            table.add_column(col, justify="left" if col == "parameter" else "right")
        for row in sweep_rows(s):
            breaks = ", ".join(
                f"{v:g}" for v in (row["broke_low"], row["broke_high"]) if v is not None
            )
            table.add_row(
                f"{row['param']} [{row['unit']}]",
                f"{row['nominal']:g}",
                f"[{row['safe_low']:g}, {row['safe_high']:g}]",
                breaks or "never",
                f"[{row['spec_low']:g}, {row['spec_high']:g}]",
            )
        console.print(table)
        for t in s.joint:
            console.print(
                f"joint randomization at {t.scale:.0%} of the safe ranges: "
                f"{t.success_rate:.0%} success over {t.episodes} episodes "
                f"({'keeps' if t.keeps else 'does not keep'} success)"
            )
    t = report.transfer
    if t is not None:
        table = Table(title=f"sim-to-sim transfer (nominal {t.nominal_success:.0%})")
        for col in ("configuration", "success", "gap", "trained in"):
            table.add_column(col, justify="left" if col == "configuration" else "right")
        for r in t.rows:
            trained = {True: "yes", False: "no", None: "?"}[r.in_training_ranges]
            table.add_row(r.config.name, f"{r.success_rate:.0%}", f"{r.gap:+.0%}", trained)
        console.print(table)
