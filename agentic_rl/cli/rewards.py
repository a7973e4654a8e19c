"""``agentic-rl rewards``: check reward programs and show what they may use.

* ``agentic-rl rewards check FILE --task ID [--json]``: run the whole pipeline on a ``.py``
  program or a saved model response; exit 0 if accepted, 2 if rejected (1 for usage errors
  such as an unknown task or a missing file).
* ``agentic-rl rewards show-state --task ID [--json | --prompt]``: the state fields a reward
  may read (units, frames, meanings), the task constants, the action, and the term library.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Table

import rewards
import sims
from agentic_rl.cli.console import make_console
from rewards.describe import describe, program_api

app = typer.Typer(
    name="rewards",
    help="Check reward programs and show the state a reward may use.",
    no_args_is_help=True,
)

EXIT_ACCEPTED, EXIT_USAGE, EXIT_REJECTED = 0, 1, 2


def _spec(task: str, action_mode: str | None) -> sims.TaskSpec:
    try:
        return sims.get_spec(task, action_mode)
    except (sims.UnknownTaskError, sims.PluginError, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(EXIT_USAGE) from None


@app.command("check")
def check(
    file: Path = typer.Argument(..., help="A .py reward program or a saved model response."),
    task: str = typer.Option(..., "--task", help="Task id, e.g. DroneHover."),
    json_out: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    budget_us: float = typer.Option(
        rewards.DEFAULT_BUDGET_US, "--budget-us", help="Per-call time budget, microseconds."
    ),
    action_mode: str = typer.Option(None, "--action-mode", help="Check against this mode."),
) -> None:
    """Run extraction, validation, compilation and the sandboxed smoke run on FILE."""
    if not file.is_file():
        typer.echo(f"error: {file} is not a file", err=True)
        raise typer.Exit(EXIT_USAGE)
    spec = _spec(task, action_mode)
    text = file.read_text("utf-8", errors="replace")
    result = rewards.check_source(text, spec, budget_us=budget_us)
    if json_out:
        typer.echo(json.dumps(rewards.as_json(result), indent=2))
    else:
        _print_result(result, text)
    raise typer.Exit(EXIT_ACCEPTED if result.accepted else EXIT_REJECTED)


def _print_result(result: rewards.CheckResult, text: str) -> None:
    console = make_console()
    if isinstance(result, rewards.Rejected):
        where = f", line {result.line}" if result.line is not None else ""
        console.print(f"[bold red]rejected[/] at [bold]{result.stage}[/]{where}")
        if result.line is not None:
            try:
                code = rewards.extract_code(text).splitlines()
                console.print(f"  {result.line:4d} | {code[result.line - 1]}", markup=False)
            except (rewards.RewardRejected, IndexError):
                pass
        console.print(result.message, markup=False)
        return
    prog = result.program
    console.print(f"[bold green]accepted[/] for {prog.task_id}")
    table = Table(show_header=False, box=None)
    table.add_row("terms", ", ".join(prog.terms))
    table.add_row(
        "cost",
        f"{prog.cost_us:.1f} us/call median, {prog.cost_p99_us:.1f} us p99 "
        f"({prog.smoke_states} recorded states; budget {prog.budget_us:.0f} us)",
    )
    table.add_row("source hash", prog.source_hash[:16])
    for note in prog.notes:
        table.add_row("note", note)
    console.print(table)


@app.command("show-state")
def show_state(
    task: str = typer.Option(..., "--task", help="Task id, e.g. DroneHover."),
    json_out: bool = typer.Option(False, "--json", help="Print everything as JSON."),
    prompt: bool = typer.Option(
        False, "--prompt", help="Print the prompt-ready markdown a designer hands to a model."
    ),
    action_mode: str = typer.Option(None, "--action-mode", help="Show this action mode."),
) -> None:
    """Show the state fields a reward may use, with units and meanings."""
    spec = _spec(task, action_mode)
    if json_out:
        typer.echo(json.dumps(describe(spec), indent=2))
        return
    if prompt:
        typer.echo(program_api(spec))
        return
    console = make_console()
    fields = Table(title=f"{spec.id}: state fields (state[...] and prev_state[...])")
    for col in ("name", "shape", "unit", "frame", "meaning"):
        fields.add_column(col, overflow="fold")
    for f in spec.state_fields:
        shape = "scalar" if not f.shape else "x".join(map(str, f.shape))
        fields.add_row(f.name, shape, f.unit, f.frame, f.description)
    console.print(fields)
    consts = Table(title="task constants (task[...])")
    consts.add_column("name")
    consts.add_column("value", justify="right")
    for k, v in spec.constants.items():
        consts.add_row(k, f"{v:g}")
    console.print(consts)
    console.print(
        f"action: {spec.action.mode}, shape {tuple(spec.action.shape)}, in [-1, 1]: "
        + "; ".join(spec.action.components),
        markup=False,
    )
    console.print(
        "available without imports: np (numpy subset), math, terms ("
        + ", ".join(t["name"] for t in describe(spec)["terms"])
        + ")",
        markup=False,
    )
