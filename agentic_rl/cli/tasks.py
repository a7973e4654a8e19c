"""``agentic-rl tasks``: list the task suite (built-ins and installed plugins)."""

from __future__ import annotations

import json

import typer
from rich.console import Console
from rich.table import Table

import sims


def register(app: typer.Typer) -> None:
    app.command("tasks")(tasks)


def tasks(
    json_out: bool = typer.Option(False, "--json", help="Print the full TaskSpecs as JSON."),
    action_mode: str = typer.Option(None, "--action-mode", help="Show specs for this action mode."),
) -> None:
    """List every task with its robot, rates, episode length and action modes."""
    specs = []
    for tid in sims.all_tasks():
        cls = sims.task_class(tid)
        mode = action_mode if action_mode in cls.ACTION_MODES else None
        specs.append(cls.build_spec(mode))
    if json_out:
        for err in sims.plugin_errors():
            typer.echo(f"warning: skipped a task plugin: {err}", err=True)
        typer.echo(json.dumps([s.model_dump(mode="json") for s in specs], indent=2))
        return
    table = Table(title="agentic-rl tasks")
    table.add_column("id", no_wrap=True)
    for col in ("robot", "Hz", "episode", "action modes", "obs"):
        table.add_column(col)
    table.add_column("goal", ratio=1)
    for s in specs:
        table.add_row(
            s.id,
            s.robot,
            f"{s.control_hz:g}",
            f"{s.episode_seconds:g} s",
            ", ".join(s.action.modes),
            str(s.obs_size),
            s.description.split(". ")[0].rstrip(".") + ".",
        )
    console = Console()
    console.print(table)
    for err in sims.plugin_errors():
        console.print(f"[yellow]warning:[/] skipped a task plugin: {err}")
