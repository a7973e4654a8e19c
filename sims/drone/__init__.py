"""Crazyflie 2.x drone tasks: hover, gates, obstacles, wall crossing with landing, trajectory
following and orbiting (the five AgenticRL tasks plus hover)."""
