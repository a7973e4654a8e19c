"""``python -m agentic_rl.cli`` runs the CLI."""

from agentic_rl.cli import main

main()
