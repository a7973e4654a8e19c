"""The ``agentic-rl`` console script: one app, one module per subcommand group."""

from __future__ import annotations

import os
import tempfile
import traceback
import warnings

import typer

from agentic_rl.cli import refine as refine_cli
from agentic_rl.cli import rewards as rewards_cli
from agentic_rl.cli import robustness as robustness_cli
from agentic_rl.cli import ros as ros_cli
from agentic_rl.cli import select as select_cli
from agentic_rl.cli import tasks
from agentic_rl.cli import train as train_cli
from sims.errors import TaskError
from sims.registry import PluginError, UnknownTaskError

app = typer.Typer(
    name="agentic-rl",
    help="Design robot rewards with an LLM, train with PPO in PyBullet, deploy through ROS 2.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
refine_cli.register(app)
tasks.register(app)
train_cli.register(app)
app.add_typer(rewards_cli.app)
ros_cli.register(app)
select_cli.register(app)
robustness_cli.register(app)


def main() -> None:
    """Console-script entry point.

    Users see one-line errors, never a Python traceback: the commands report the errors they
    expect themselves; anything else is caught here, its traceback saved to a file whose path
    the message gives. ``AGENTIC_RL_DEBUG=1`` lets tracebacks through. Library warnings
    (matplotlib, torch, gymnasium ...) are silenced in this process and in the workers it
    starts, unless ``AGENTIC_RL_DEBUG`` or ``PYTHONWARNINGS`` is set.
    """
    debug = bool(os.environ.get("AGENTIC_RL_DEBUG"))
    if not debug and "PYTHONWARNINGS" not in os.environ:
        os.environ["PYTHONWARNINGS"] = "ignore"  # inherited by spawned workers
        warnings.simplefilter("ignore")
    try:
        app()
    except KeyboardInterrupt:
        typer.echo("\nagentic-rl: interrupted.", err=True)
        raise SystemExit(130) from None
    except (UnknownTaskError, PluginError) as exc:  # a task name that does not load
        if debug:
            raise
        # the message already says what to pass (did-you-mean, module:Class, the import error)
        typer.echo(f"error: {' '.join(str(exc).split())}", err=True)
        raise SystemExit(2) from None
    except TaskError as exc:  # a broken task: its own message names the hook and field
        if debug:
            raise
        typer.echo(
            f"error: {exc}\n  Run `agentic-rl tasks check TASK` for a full check of the task.",
            err=True,
        )
        raise SystemExit(1) from None
    except Exception as exc:  # the last line of defence; commands handle expected errors
        if debug:
            raise
        path = _save_traceback()
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        typer.echo(
            f"agentic-rl: unexpected {type(exc).__name__}{': ' + first if first else ''}\n"
            f"  The full traceback is in {path}; rerun with AGENTIC_RL_DEBUG=1 to print it, and"
            " include it if you report a bug.",
            err=True,
        )
        raise SystemExit(1) from None


def _save_traceback() -> str:
    """Write the current exception's traceback to a temporary file and return its path."""
    fd, path = tempfile.mkstemp(prefix="agentic-rl-error-", suffix=".txt")
    with os.fdopen(fd, "w") as fh:
        traceback.print_exc(file=fh)
    return path
