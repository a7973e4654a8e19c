"""Task registry: built-in tasks, plugin tasks and friendly task-id resolution.

Three ways to name a task, all accepted wherever a task id is:

* a registered id, ``agentic_rl/DroneHover-v0`` (or its short form ``DroneHover``);
* a plugin registered under the ``agentic_rl.tasks`` entry-point group of an installed package
  (the entry point's value is ``package.module:Class``, the class a :class:`SimTask` subclass);
* a direct import path ``package.module:Class``. Once resolved, the class's own id works too:
  in this process and in child processes started after it (the executors' workers), through
  the ``AGENTIC_RL_TASK_PATHS`` environment variable, and with ``gym.make``.

Built-in and plugin ids are registered with gymnasium on ``import sims``.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
import json
import os
from functools import cache
from importlib.metadata import entry_points
from typing import Any

import gymnasium as gym

from sims.base import SimTask
from sims.errors import TaskError
from sims.spec import TaskSpec

ENTRY_POINT_GROUP = "agentic_rl.tasks"
#: Environment variable holding ``{id: "module:Class"}`` of tasks named by import path, so
#: child processes resolve their ids too.
PATHS_ENV = "AGENTIC_RL_TASK_PATHS"

#: Built-in tasks: id -> "module:Class".
BUILTIN_TASKS: dict[str, str] = {
    "agentic_rl/DroneHover-v0": "sims.drone.hover:DroneHover",
    "agentic_rl/DroneGates-v0": "sims.drone.gates:DroneGates",
    "agentic_rl/DroneObstacles-v0": "sims.drone.obstacles:DroneObstacles",
    "agentic_rl/DroneWallLanding-v0": "sims.drone.wall_landing:DroneWallLanding",
    "agentic_rl/DroneTrajectory-v0": "sims.drone.trajectory:DroneTrajectory",
    "agentic_rl/DroneOrbit-v0": "sims.drone.orbit:DroneOrbit",
    "agentic_rl/ArmReach-v0": "sims.arm.reach:ArmReach",
    "agentic_rl/ArmPush-v0": "sims.arm.push:ArmPush",
    "agentic_rl/ArmPickPlace-v0": "sims.arm.pick_place:ArmPickPlace",
}


class UnknownTaskError(LookupError):
    """A task name that matches no built-in, plugin or import path."""


class PluginError(ImportError):
    """A plugin entry point or ``module:Class`` path that cannot be loaded as a task."""


def load_class(path: str, origin: str = "task path") -> type[SimTask]:
    """Import ``package.module:Class`` and check it is a :class:`SimTask` subclass."""
    module_name, sep, attr = path.partition(":")
    if not sep or not module_name or not attr:
        raise PluginError(f"{origin} {path!r} is malformed: expected 'package.module:ClassName'")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise PluginError(
            f"{origin} {path!r}: cannot import module {module_name!r}: {exc}"
        ) from exc
    try:
        cls = getattr(module, attr)
    except AttributeError:
        raise PluginError(f"{origin} {path!r}: module {module_name!r} has no {attr!r}") from None
    if not (isinstance(cls, type) and issubclass(cls, SimTask)):
        raise PluginError(
            f"{origin} {path!r} is {cls!r}, not a sims.base.SimTask subclass; "
            "derive your task from SimTask (see README, 'Custom tasks')"
        )
    return cls


@cache
def _scan_plugins() -> tuple[dict[str, str], tuple[PluginError, ...]]:
    found: dict[str, str] = {}
    errors: list[PluginError] = []
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        origin = f"entry point {ep.name!r} (group {ENTRY_POINT_GROUP!r}, package {_dist(ep)})"
        try:
            cls = load_class(ep.value, origin=origin)
            found[cls.build_spec().id] = ep.value
        except Exception as exc:  # a broken plugin must not hide the other tasks
            err = exc if isinstance(exc, PluginError) else PluginError(f"{origin}: {exc}")
            errors.append(err)
    return found, tuple(errors)


def _dist(ep: Any) -> str:
    dist = getattr(ep, "dist", None)
    return repr(dist.name) if dist is not None else "unknown"


def plugin_tasks() -> dict[str, str]:
    """Tasks contributed by installed packages through the entry-point group.

    Returns a mapping id -> "module:Class", where id is the class's spec id. Entry points that
    cannot be loaded are skipped here and reported by :func:`plugin_errors`.
    """
    return dict(_scan_plugins()[0])


def plugin_errors() -> tuple[PluginError, ...]:
    """Why each broken ``agentic_rl.tasks`` entry point could not be loaded."""
    return _scan_plugins()[1]


def rescan_plugins() -> None:
    """Forget cached plugin scans (after installing a plugin into a running process)."""
    _scan_plugins.cache_clear()


def path_tasks() -> dict[str, str]:
    """Tasks named by ``module:Class`` in this process or a parent: id -> "module:Class"."""
    try:
        paths = json.loads(os.environ.get(PATHS_ENV) or "{}")
    except json.JSONDecodeError:
        return {}
    return {str(k): str(v) for k, v in paths.items()} if isinstance(paths, dict) else {}


def _remember(task_id: str, path: str) -> None:
    paths = path_tasks()
    if paths.get(task_id) != path:
        os.environ[PATHS_ENV] = json.dumps({**paths, task_id: path})
    _register(task_id, path)


def all_tasks() -> dict[str, str]:
    """Every known task id (built-in first, then plugins, then import paths) -> "module:Class"."""
    return {**path_tasks(), **BUILTIN_TASKS, **plugin_tasks()}


def resolve(name: str) -> tuple[str, str]:
    """Resolve a task name to (id, "module:Class").

    Raises:
        UnknownTaskError: with a did-you-mean hint when the name matches nothing.
    """
    tasks = all_tasks()
    if name in tasks:
        return name, tasks[name]
    short = {tid.split("/")[-1].rsplit("-v", 1)[0]: tid for tid in tasks}
    for key in (name, name.removesuffix("-v0")):
        if key in short:
            return short[key], tasks[short[key]]
        if f"agentic_rl/{key}-v0" in tasks:
            tid = f"agentic_rl/{key}-v0"
            return tid, tasks[tid]
    if ":" in name:
        cls = load_class(name)
        task_id = cls.build_spec().id
        _remember(task_id, name)
        return task_id, name
    candidates = list(tasks) + list(short)
    hint = difflib.get_close_matches(name, candidates, n=1, cutoff=0.5)
    did = f" Did you mean {short.get(hint[0], hint[0])!r}?" if hint else ""
    broken = "".join(f"\n  broken plugin: {e}" for e in plugin_errors())
    raise UnknownTaskError(
        f"unknown task {name!r}.{did} Run `agentic-rl tasks` for the list, or pass "
        f"'package.module:Class' for a custom task (an id such as 'mine/Task-v0' of a class "
        f"named by its path is known only where that path was loaded: name it by the path "
        f"again, or register it as a plugin).{broken}"
    )


def recorded_path(task_id: str) -> str | None:
    """The ``module:Class`` a run or bundle records next to ``task_id`` so that a later
    process can load the task again: the path of a task named by import path in this process
    (``None`` for built-in and plugin tasks, which every process finds by id)."""
    if task_id in BUILTIN_TASKS or task_id in plugin_tasks():
        return None
    return path_tasks().get(task_id)


def recall(task_id: str, path: str | None = None) -> str:
    """Resolve a task as a run or bundle recorded it: by its id, or else by the recorded
    ``module:Class`` (which must still build that id). Returns the canonical id; the id then
    resolves in this process and its children too.

    Raises:
        UnknownTaskError: when the id is unknown here and no class path was recorded (a run
            written before class paths were recorded), with the registry's hint.
        PluginError: when the recorded class path no longer imports or builds another id.
    """
    try:
        return resolve(task_id)[0]
    except UnknownTaskError:
        if not path:
            raise
    try:
        cls = load_class(path, origin=f"the task path recorded for {task_id!r}:")
    except PluginError as exc:
        raise PluginError(
            f"{exc}; make its package importable (pip install -e it, or add it to "
            "PYTHONPATH), or pass the task with --task"
        ) from None
    built = cls.build_spec().id
    if built != task_id:
        raise PluginError(
            f"the recorded task path {path!r} now builds {built!r}, not {task_id!r}; "
            f"pass the task's class again with --task"
        )
    _remember(task_id, path)
    return task_id


def task_class(name: str) -> type[SimTask]:
    """The :class:`SimTask` subclass for a task name."""
    _, path = resolve(name)
    return load_class(path)


def get_spec(name: str, action_mode: str | None = None) -> TaskSpec:
    """The :class:`TaskSpec` of a task, without creating a physics world."""
    return task_class(name).build_spec(action_mode)


def make(name: str, **kwargs: Any) -> SimTask:
    """Create a task env by any accepted name (see module docstring)."""
    return task_class(name)(**kwargs)


def _register(task_id: str, path: str) -> None:
    if task_id not in gym.registry:
        gym.register(id=task_id, entry_point=path, disable_env_checker=True)


def register_gymnasium() -> None:
    """Register every known task with gymnasium so ``gym.make("agentic_rl/DroneHover-v0")``
    (or a plugin's id) works after ``import sims``.

    The time limit lives inside each task (it reports ``timeout`` as its termination reason),
    so no TimeLimit wrapper is added; the spec's ``max_episode_steps`` is the episode length.
    """
    for tid, path in all_tasks().items():
        _register(tid, path)


def observation_source(name: str) -> tuple[str, str, str]:
    """Where a task's observation function lives: (module name, function name, file path).

    The file imports only numpy and math, so the ROS side can vendor it and call
    ``function(robot_state, layout)`` exactly as the simulator does.

    Raises:
        TaskError: when the task has no ``observe`` function.
    """
    cls = task_class(name)
    fn = cls.observe
    if fn is None:
        raise TaskError(
            cls.build_spec().id,
            "observe",
            None,
            "the task has no observe function; set `observe = staticmethod(fn)`",
        )
    path = inspect.getsourcefile(fn)
    return fn.__module__, fn.__name__, str(path)


#: The task class attributes naming the pure functions a deployed robot runs.
DEPLOYED_FUNCTIONS = ("observe", "from_measurement", "track")


def deployed_functions(name: str) -> dict[str, tuple[str, str, str]]:
    """The pure functions a robot runs for a task (those its class declares, among
    :data:`DEPLOYED_FUNCTIONS`): attribute -> (module name, function name, file path)."""
    cls = task_class(name)
    out = {}
    for attr in DEPLOYED_FUNCTIONS:
        fn = getattr(cls, attr, None)
        if fn is not None:
            out[attr] = (fn.__module__, fn.__name__, str(inspect.getsourcefile(fn)))
    return out
