"""agentic-rl: an LLM designs reward functions, PPO trains against them, diagnostics explain
what failed, and the best policy is exported to ROS 2 robots."""

__version__ = "0.1.0"
