"""PyBullet task suite: Crazyflie drone tasks and Franka Panda arm tasks.

``sims`` knows nothing of LLMs, PPO or torch. Every task is a gymnasium env derived from
:class:`sims.base.SimTask` with a declarative :class:`sims.spec.TaskSpec` (fields with roles,
goal, success criteria, hazards; checked and evaluated by :mod:`sims.semantics`) and one pure
observation function (:mod:`sims.drone.observe`, :mod:`sims.arm.observe`). A new task is
checked with :func:`sims.check.check_task` (``agentic-rl tasks check``).

>>> import sims
>>> env = sims.make("DroneHover")          # or "agentic_rl/DroneHover-v0"
>>> spec = sims.get_spec("ArmReach")
"""

import os as _os
import sys as _sys


def _import_pybullet_quietly() -> None:
    """Import pybullet once with stderr silenced: its C module prints a build-time banner on
    every import, noise in front of every command's output."""
    if "pybullet" in _sys.modules:
        return
    _sys.stderr.flush()
    saved, devnull = _os.dup(2), _os.open(_os.devnull, _os.O_WRONLY)
    _os.dup2(devnull, 2)
    try:
        import pybullet  # noqa: F401
    finally:
        _os.dup2(saved, 2)
        _os.close(saved)
        _os.close(devnull)


_import_pybullet_quietly()

from sims.base import SimTask
from sims.errors import TaskError
from sims.randomization import RandomizationError
from sims.registry import (
    BUILTIN_TASKS,
    PluginError,
    UnknownTaskError,
    all_tasks,
    deployed_functions,
    get_spec,
    make,
    observation_source,
    plugin_errors,
    recall,
    recorded_path,
    register_gymnasium,
    rescan_plugins,
    resolve,
    task_class,
)
from sims.semantics import CriterionResult, evaluate_criteria, failed_criteria
from sims.spec import (
    ActionSpec,
    BodyFields,
    Criterion,
    Goal,
    GoalError,
    Hazard,
    Landmark,
    RandomParam,
    StateField,
    TaskMetric,
    TaskSpec,
    TerminationReason,
)

register_gymnasium()

__all__ = [
    "BUILTIN_TASKS",
    "ActionSpec",
    "BodyFields",
    "Criterion",
    "CriterionResult",
    "Goal",
    "GoalError",
    "Hazard",
    "Landmark",
    "PluginError",
    "RandomParam",
    "RandomizationError",
    "SimTask",
    "StateField",
    "TaskError",
    "TaskMetric",
    "TaskSpec",
    "TerminationReason",
    "UnknownTaskError",
    "all_tasks",
    "deployed_functions",
    "evaluate_criteria",
    "failed_criteria",
    "get_spec",
    "make",
    "observation_source",
    "plugin_errors",
    "recall",
    "recorded_path",
    "register_gymnasium",
    "rescan_plugins",
    "resolve",
    "task_class",
]
