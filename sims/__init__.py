"""PyBullet task suite: Crazyflie drone tasks and Franka Panda arm tasks.

``sims`` knows nothing of LLMs, PPO or torch. Every task is a gymnasium env derived from
:class:`sims.base.SimTask` with a declarative :class:`sims.spec.TaskSpec`.

>>> import sims
>>> env = sims.make("DroneHover")          # or "agentic_rl/DroneHover-v0"
>>> spec = sims.get_spec("ArmReach")
"""

from sims.base import SimTask
from sims.randomization import RandomizationError
from sims.registry import (
    BUILTIN_TASKS,
    PluginError,
    UnknownTaskError,
    all_tasks,
    get_spec,
    make,
    register_gymnasium,
    resolve,
    task_class,
)
from sims.spec import ActionSpec, RandomParam, StateField, TaskMetric, TaskSpec, TerminationReason

register_gymnasium()

__all__ = [
    "BUILTIN_TASKS",
    "ActionSpec",
    "PluginError",
    "RandomParam",
    "RandomizationError",
    "SimTask",
    "StateField",
    "TaskMetric",
    "TaskSpec",
    "TerminationReason",
    "UnknownTaskError",
    "all_tasks",
    "get_spec",
    "make",
    "register_gymnasium",
    "resolve",
    "task_class",
]
