"""``python -m agentic_rl`` runs the CLI."""

from agentic_rl.cli import main

main()
