"""An example agentic-rl plugin: one drone task, shipped as its own package."""
