"""The ``agentic-rl`` console script: one app, one module per subcommand group."""

from __future__ import annotations

import typer

from agentic_rl.cli import refine as refine_cli
from agentic_rl.cli import rewards as rewards_cli
from agentic_rl.cli import robustness as robustness_cli
from agentic_rl.cli import ros as ros_cli
from agentic_rl.cli import select as select_cli
from agentic_rl.cli import tasks
from agentic_rl.cli import train as train_cli

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
    """Console-script entry point."""
    app()
