"""``agentic-rl tasks``: list the task suite (built-ins and installed plugins)."""

from __future__ import annotations

import json
import textwrap

import typer
from rich.console import Console

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
    console = Console()
    _print_task_list(console, specs)
    for err in sims.plugin_errors():
        console.print(f"[yellow]warning:[/] skipped a task plugin: {err}")


def _print_task_list(console: Console, specs: list) -> None:
    """One task per entry: a facts line, then the goal wrapped to the terminal's width.

    A list instead of a table so that an 80-column terminal shows every fact whole.
    """
    width = max(40, min(console.width, 100))
    console.print(f"[bold]{len(specs)} tasks[/] (full specs: agentic-rl tasks --json)")
    for s in specs:
        facts = (
            f"{s.robot}, {s.control_hz:g} Hz, {s.episode_seconds:g} s episodes, "
            f"{s.obs_size} obs, actions: {', '.join(s.action.modes)}"
        )
        console.print()
        console.print(f"[bold cyan]{s.id}[/]", highlight=False)
        for line in textwrap.wrap(facts, width - 2):
            console.print(f"  {line}", highlight=False, markup=False)
        for line in textwrap.wrap(s.description, width - 2):
            console.print(f"  [dim]{line}[/]", highlight=False)
