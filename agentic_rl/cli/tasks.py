"""``agentic-rl tasks``: list the task suite (built-ins and installed plugins);
``agentic-rl tasks check module:Class``: check a (new) task before training it."""

from __future__ import annotations

import json
import textwrap

import typer
from rich.console import Console
from rich.markup import escape

import sims
from agentic_rl.cli.console import make_console

app = typer.Typer(name="tasks", add_completion=False)


def register(parent: typer.Typer) -> None:
    parent.add_typer(app, name="tasks")


@app.callback(invoke_without_command=True)
def tasks(
    ctx: typer.Context,
    json_out: bool = typer.Option(False, "--json", help="Print the full TaskSpecs as JSON."),
    action_mode: str = typer.Option(None, "--action-mode", help="Show specs for this action mode."),
) -> None:
    """List every task with its robot, rates, episode length and action modes.

    `agentic-rl tasks check TASK` checks one (a new task before training).
    """
    if ctx.invoked_subcommand is not None:
        return
    specs, skipped = [], []
    for tid in sims.all_tasks():
        try:
            cls = sims.task_class(tid)
            mode = action_mode if action_mode in cls.ACTION_MODES else None
            specs.append(cls.build_spec(mode))
        except (sims.PluginError, sims.TaskError) as exc:  # one broken task hides no other
            skipped.append(exc)
    if json_out:
        for err in [*sims.plugin_errors(), *skipped]:
            typer.echo(f"warning: skipped a task plugin: {err}", err=True)
        typer.echo(json.dumps([s.model_dump(mode="json") for s in specs], indent=2))
        return
    console = make_console()
    _print_task_list(console, specs)
    for err in [*sims.plugin_errors(), *skipped]:
        console.print(f"[yellow]warning:[/] skipped a task plugin: {escape(str(err))}")


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


@app.command("check")
def check(
    task: str = typer.Argument(..., help="Task id or package.module:Class."),
    episodes: int = typer.Option(2, "--episodes", min=1, help="Scripted episodes to run."),
    seed: int = typer.Option(0, "--seed", help="Seed of the episodes and actions."),
) -> None:
    """Check a task: its declarations, gymnasium's check_env and a short scripted rollout.

    Every problem names the hook (method or class attribute) and the field to fix; the exit
    status is 1 when there is any.
    """
    from sims.check import check_task

    report = check_task(task, episodes=episodes, seed=seed)
    console = make_console(highlight=False)
    for note in report.notes:
        console.print(f"  ok  {note}", markup=False)
    for problem in report.problems:
        console.print(f"  [red]problem[/] {escape(str(problem))}")
    if not report.ok:
        console.print(f"[red]{escape(report.task)}: {len(report.problems)} problem(s)[/]")
        raise typer.Exit(1)
    console.print(f"[green]{escape(report.task)}: ready to train[/]")
    console.print(f"  ROS: {deploy_line(task)}", markup=False)


def deploy_line(task: str) -> str:
    """Whether, and to which built-in ROS profiles, a task deploys (from its
    ``command_model`` and ``from_measurement``), or what it lacks: one line."""
    from ros_bridge.targets import JOINT_GROUP_HINT, deploy_profiles

    cls = sims.task_class(task)
    hook = getattr(cls, "command_model", None)
    try:
        command = hook() if callable(hook) else None
    except Exception as exc:  # the task's own code: name the hook, not a traceback
        return f"does not deploy: [command_model] raised {type(exc).__name__}: {exc}"
    if not isinstance(command, dict):
        return f"does not deploy: [command_model] gives {command!r}; {JOINT_GROUP_HINT}"
    if cls.observe is None or cls.from_measurement is None:
        return "does not deploy: no observe/from_measurement (see the notes above)"
    profiles = deploy_profiles(command)
    if not profiles:
        return (
            f"does not deploy: [command_model] robot {command.get('robot')!r}, kind "
            f"{command.get('kind')!r} fits no built-in profile; {JOINT_GROUP_HINT}"
        )
    return f"deploys to profile {' or '.join(profiles)} (command_model: {command.get('kind')})"
