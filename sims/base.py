"""`SimTask`: the gymnasium env base class that every built-in and plugin task derives from.

The base class owns what all tasks share and what reward programs rely on:

* one private PyBullet client per env (no global ``p.connect``), the world built once and
  restored with ``restoreState`` on every reset (microseconds, not a rebuild);
* the flat state vector, laid out as the spec's ``state_fields`` in order, exposed both as the
  observation and as a read-only snapshot (``info["state"]``, a mapping of read-only arrays);
* the reward: a sparse success-only reward unless a ``reward_fn`` is given, in which case the
  env sums the named terms it returns and reports them in ``info["reward_terms"]``;
* ground-truth endings: task-specific ``terminated`` reasons, and ``truncated`` only at the
  time limit, with ``info["termination_reason"]`` and ``info["is_success"]``;
* domain randomization sampled per episode from validated ranges;
* headless ``rgb_array`` rendering with PyBullet's TinyRenderer.

A subclass implements the hooks marked below; see ``sims/drone/hover.py`` for a short one and
README "Custom tasks" for the list. The observation is one pure function per task,
``observe(robot_state, layout) -> {field: value}`` (a ``staticmethod``), fed with what the robot
measures (``_robot_state()``) and the episode's JSON-serializable ``layout``: the simulator
calls it every step and the ROS side runs the same function. Mistakes in a task's hooks raise a
:class:`~sims.errors.TaskError` naming the task, the hook and the field.
"""

from __future__ import annotations

import inspect
import json
import math
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
import pybullet as p

from sims import randomization
from sims.errors import TaskError
from sims.semantics import check_metrics, check_observation, did_you_mean, goal_point
from sims.spec import TaskSpec

#: A reward program as the env calls it: (state, action, prev_state, task) -> named terms.
RewardFn = Callable[
    [Mapping[str, Any], np.ndarray, Mapping[str, Any], Mapping[str, float]], Mapping[str, float]
]


class ReadOnlyState(dict):
    """The state snapshot handed to reward programs: a dict whose items cannot be replaced
    and whose arrays are read-only views (scalars are immutable numpy floats)."""

    __slots__ = ()

    def _readonly(self, *args: Any, **kwargs: Any) -> None:
        raise TypeError("the state snapshot is read-only; copy a field to change it")

    __setitem__ = __delitem__ = __ior__ = _readonly  # type: ignore[assignment]
    update = pop = popitem = clear = setdefault = _readonly  # type: ignore[assignment]

    def __reduce_ex__(self, protocol: Any) -> tuple[Any, ...]:
        # copy/deepcopy/pickle rebuild through __init__, never through the blocked __setitem__
        return (type(self), (dict(self),))


#: Reward term name of the default sparse reward.
SPARSE_TERM = "success"


class SimTask(gym.Env):
    """Base class of all agentic-rl tasks.

    Args:
        action_mode: one of the spec's action modes (``None``: the task's default).
        randomize: ``False`` (nominal physics), ``True`` (the spec's ranges) or a mapping
            ``{param: (low, high)}``.
        reward_fn: a reward program callable; ``None`` gives the sparse success reward.
        render_mode: ``None`` or ``"rgb_array"``.
        render_size: (width, height) of rendered frames.
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["rgb_array"], "render_fps": 30}
    #: Action modes this task supports; the first is the default.
    ACTION_MODES: ClassVar[tuple[str, ...]] = ()
    #: The observation function, ``staticmethod(fn)`` with ``fn(robot_state, layout) ->
    #: {field name: float or sequence}`` covering every spec field. Pure (numpy/math only, no
    #: PyBullet) so the ROS side can run it. ``None``: the task overrides ``_write_state``.
    observe: ClassVar[Any] = None
    #: The task's event tracker (gates passed, wall crossed, rest time), ``staticmethod(fn)``
    #: with ``fn(events | None, robot_state, layout) -> events``: pure, JSON-serializable
    #: values updated from the robot state once per step after ``observe`` (``None`` starts an
    #: episode), merged into the robot state ``observe`` reads. The robot side runs the same
    #: function from the moment the policy is enabled. ``None``: the task has no events.
    track: ClassVar[Any] = None
    #: How a deployed robot feeds ``observe``: ``staticmethod(fn)``, ``fn(measurement) ->
    #: robot_state`` from the robot side's typed measurement (``ros_bridge.measurement``:
    #: position, orientation, velocity, body_rates, joint_positions, ... attributes), pure
    #: like ``observe`` and vendored with it. ``None``: the task does not deploy.
    from_measurement: ClassVar[Any] = None
    #: The inverse, for simulated bags: ``fn(robot_state) -> {measurement attribute: value}``.
    to_measurement: ClassVar[Any] = None
    #: The camera of videos (``render()``, ``eval --video``): ``"follow"`` tracks the body's
    #: position with the goal in view (drones); ``"overview"`` films from the task's own
    #: ``_camera()`` (a fixed-base arm, whose follow view would be a close-up of its flange).
    VIDEO_CAMERA: ClassVar[str] = "follow"

    def __init__(
        self,
        *,
        action_mode: str | None = None,
        randomize: randomization.RandomizeArg = False,
        reward_fn: RewardFn | None = None,
        render_mode: str | None = None,
        render_size: tuple[int, int] = (320, 240),
    ) -> None:
        super().__init__()
        mode = action_mode or self.ACTION_MODES[0]
        if mode not in self.ACTION_MODES:
            raise ValueError(
                f"{type(self).__name__} has no action mode {mode!r}; "
                f"choose one of {list(self.ACTION_MODES)}"
            )
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be None or 'rgb_array', got {render_mode!r}")
        self.action_mode = mode
        self.render_mode = render_mode
        self.render_size = render_size
        self.task_spec: TaskSpec = self.build_spec(mode)
        self.metadata = {**self.metadata, "render_fps": round(self.task_spec.control_hz)}
        self.reward_fn = reward_fn
        self._ranges = randomization.resolve_ranges(
            self.task_spec.randomization, randomize, self.task_spec.id
        )
        self._constants = MappingProxyType(dict(self.task_spec.constants))
        spec = self.task_spec
        self._slices = []
        start = 0
        for f in spec.state_fields:
            if f.shape == ():
                self._slices.append((f.name, start, None))
            elif len(f.shape) == 1:
                self._slices.append((f.name, slice(start, start + f.size), None))
            else:
                self._slices.append((f.name, slice(start, start + f.size), f.shape))
            start += f.size
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, (spec.obs_size,), np.float64)
        self.action_space = gym.spaces.Box(
            np.array(spec.action.low, np.float32), np.array(spec.action.high, np.float32)
        )
        self._action_dim = int(np.prod(self.action_space.shape))
        self._max_steps = spec.max_episode_steps
        self._success_reasons = {r.name: r.success for r in spec.termination_reasons}
        self._obs_size = spec.obs_size
        self._physics_dt = 1.0 / spec.physics_hz
        self.ticks_per_step = round(spec.physics_hz / spec.control_hz)
        # (name, is scalar) per field in spec order: how observe()'s fields become the vector
        self._fill_plan = [(f.name, f.shape == ()) for f in spec.state_fields]
        if self.observe is not None and not isinstance(
            inspect.getattr_static(type(self), "observe"), staticmethod
        ):
            raise TaskError(
                spec.id,
                "observe",
                None,
                "observe must be a staticmethod taking (robot_state, layout): write "
                "`observe = staticmethod(my_observe)` in the class body",
            )
        #: The episode's layout (goal, obstacles, ...), JSON-serializable; set by the task at
        #: reset and read by ``observe``.
        self.layout: dict[str, Any] = {}
        #: The episode's events as ``track`` keeps them (``None`` until its first state).
        self.events: dict[str, Any] | None = None
        #: The fields ``observe`` returned for the current state.
        self._fields: Mapping[str, Any] = {}
        self._layout_checked = False
        self.client = p.connect(p.DIRECT)
        p.setGravity(0, 0, -9.81, physicsClientId=self.client)
        p.setTimeStep(self._physics_dt, physicsClientId=self.client)
        self._build_world()
        self._initial_state = p.saveState(physicsClientId=self.client)
        self.params: dict[str, float] = randomization.sample(
            spec.randomization, {}, np.random.default_rng(0)
        )
        self._steps = 0
        self._state: Mapping[str, np.ndarray] | None = None
        self._done = True

    # ------------------------------------------------------------------ spec
    @classmethod
    def build_spec(cls, action_mode: str | None = None) -> TaskSpec:
        """Return this task's :class:`TaskSpec` for an action mode, without touching physics."""
        raise NotImplementedError

    @classmethod
    def command_model(cls, action_mode: str | None = None) -> dict[str, Any]:
        """How a deployed runtime turns a normalized action into a physical command (written
        into a PolicyBundle's ``bundle.json``). Robot families override this; the default
        names the robot and the action mode only."""
        spec = cls.build_spec(action_mode)
        return {"robot": spec.robot, "kind": spec.action.mode}

    # ------------------------------------------------------------------ hooks
    def _build_world(self) -> None:
        """Create every body once. Called at construction; resets restore this world."""
        raise NotImplementedError

    def _apply_params(self, params: Mapping[str, float]) -> None:
        """Apply this episode's randomized physical parameters."""

    def _reset_task(self) -> None:
        """Place the robot and objects for a new episode (after the world was restored)."""
        raise NotImplementedError

    def _act(self, action: np.ndarray) -> None:
        """Simulate one control step (``ticks_per_step`` physics ticks) under ``action``."""
        raise NotImplementedError

    def _robot_state(self) -> Mapping[str, Any]:
        """What the robot measures and counts now, the ``robot_state`` handed to ``observe``."""
        raise NotImplementedError

    def robot_state(self) -> dict[str, Any]:
        """The current ``robot_state`` as ``observe`` receives it (the task's events
        included), with plain-list values (JSON-serializable), e.g. to record what a robot
        would have to measure."""
        return {
            k: np.asarray(v, dtype=np.float64).tolist() if not isinstance(v, bool) else v
            for k, v in {**self._robot_state(), **(self.events or {})}.items()
        }

    def _write_state(self, out: np.ndarray) -> None:
        """Fill ``out`` (length ``obs_size``) with the true state, fields in spec order.

        The default calls ``observe(self._robot_state(), self.layout)``; a task without an
        ``observe`` function overrides this instead.
        """
        if self.observe is None:
            raise TaskError(
                self.task_spec.id,
                "observe",
                None,
                "the task has no observe function: set `observe = staticmethod(fn)` with "
                "fn(robot_state, layout) -> {field: value} (or override _write_state)",
            )
        robot = self._robot_state()
        try:
            if self.track is None:
                fields = self.observe(robot, self.layout)
            elif self.events is None:  # the episode's first state: the tracker starts
                self.events = self.track(None, robot, self.layout)
                fields = self.observe({**robot, **self.events}, self.layout)
            else:  # a step: observe with the events so far, then fold this state in
                fields = self.observe({**robot, **self.events}, self.layout)
                self.events = self.track(self.events, robot, self.layout)
        except KeyError as exc:  # a key the layout or robot state lacks: say which and where
            raise self._missing_key(exc, robot) from exc
        self._fields = fields
        self._fill(out, fields)

    def _missing_key(self, exc: KeyError, robot: Mapping[str, Any]) -> TaskError:
        """The :class:`TaskError` for a ``KeyError`` raised in ``observe`` or ``track``:
        names the hook, the key and the keys the layout and the robot state do have."""
        tb = exc.__traceback__  # starts in _write_state; the next frame is the hook it called
        called = tb.tb_next.tb_frame.f_code if tb is not None and tb.tb_next else None
        hook = "track" if called is getattr(self.track, "__code__", False) else "observe"
        key = exc.args[0] if exc.args else None
        layout = sorted(self.layout or {})
        state = sorted({**robot, **(self.events or {})})
        return TaskError(
            self.task_spec.id,
            hook,
            None,
            f"KeyError {key!r}: neither the layout (keys {layout}) nor the robot state (keys "
            f"{state}) has it; set the layout key in _reset_task (self.layout = {{...}}) or "
            "return the value from _robot_state",
        )

    def _fill(self, out: np.ndarray, fields: Mapping[str, Any]) -> None:
        """Write ``observe``'s fields into the flat vector ``out``, in spec order."""
        try:
            values: list[Any] = []
            for name, scalar in self._fill_plan:
                v = fields[name]
                if scalar:
                    values.append(v)
                elif type(v) is tuple:  # the drone tasks' plain-float fast path
                    values.extend(v)
                else:
                    values.extend(np.ravel(v).tolist())
            out[:] = values
        except Exception:
            self.check_fields(fields)  # names the field at fault, else the values are nested
            out[:] = np.concatenate(
                [np.ravel(np.asarray(fields[n], dtype=np.float64)) for n, _ in self._fill_plan]
            )

    def _check_end(self, state: Mapping[str, np.ndarray]) -> str | None:
        """Return a termination reason if the episode ends now (not for the time limit)."""
        raise NotImplementedError

    def _success_at_timeout(self) -> bool:
        """Whether reaching the time limit counts as success (e.g. hover held at the end)."""
        return False

    def _episode_metrics(self) -> dict[str, float]:
        """Task metrics of the finished episode, keyed by the spec's metric names."""
        return {}

    def _sensor_effects(self, state_vec: np.ndarray) -> np.ndarray:
        """Observation the policy sees; defaults to the true state (tasks add noise/delay)."""
        return state_vec

    def _camera(self) -> tuple[tuple[float, float, float], float, float, float]:
        """(target, distance, yaw_deg, pitch_deg) of the overview camera."""
        return (0.0, 0.0, 0.5), 3.0, 45.0, -30.0

    # ------------------------------------------------------------------ gym API
    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Start an episode. ``options={"params": {name: value}}`` pins randomized values."""
        super().reset(seed=seed)
        options = options or {}
        p.restoreState(self._initial_state, physicsClientId=self.client)
        self.params = randomization.sample(
            self.task_spec.randomization, self._ranges, self.np_random, options.get("params")
        )
        self._apply_params(self.params)
        self._steps = 0
        self.events = None
        self._reset_task()
        if not self._layout_checked:
            self._check_layout()
        obs, state = self._snapshot()
        if self.observe is not None:
            self.check_fields(self._fields)
        self._state = state
        self._done = False
        return obs, {"state": state, "params": dict(self.params)}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        if self._done:
            raise RuntimeError("step() called on a finished episode; call reset() first")
        values = np.asarray(action, dtype=np.float64).ravel().tolist()
        if len(values) != self._action_dim:
            raise ValueError(
                f"action has {len(values)} components, {self.task_spec.id} expects "
                f"{self._action_dim} ({self.action_mode} mode)"
            )
        total = sum(values)  # fast path: NaN or inf in any component makes the sum non-finite
        if not math.isfinite(total) and not all(math.isfinite(x) for x in values):
            raise ValueError(f"action contains NaN or inf: {values}")
        # Out-of-range actions are clipped, not rejected: PPO samples unbounded Gaussians.
        a = np.array([-1.0 if x < -1.0 else (1.0 if x > 1.0 else x) for x in values])
        prev_state = self._state
        self._act(a)
        self._steps += 1
        obs, state = self._snapshot()
        self._state = state
        reason = self._check_end(state)
        terminated = reason is not None
        truncated = False
        success = False
        if terminated:
            if reason not in self._success_reasons:
                raise TaskError(
                    self.task_spec.id,
                    "_check_end",
                    reason,
                    f"returned termination reason {reason!r}, which the spec does not declare."
                    + did_you_mean(str(reason), self._success_reasons)
                    + f" Declared: {list(self._success_reasons)}.",
                )
            success = self._success_reasons[reason]
        elif self._steps >= self._max_steps:
            truncated = True
            success = self._success_at_timeout()
            reason = "success" if success else "timeout"
        if self.reward_fn is None:
            terms = {SPARSE_TERM: 1.0 if success else 0.0}
        else:
            terms = self.reward_fn(state, a, prev_state, self._constants)
        info: dict[str, Any] = {
            "state": state,
            "reward_terms": terms,
            "is_success": success,
            "termination_reason": reason,
        }
        if terminated or truncated:
            self._done = True
            info["task_metrics"] = self._checked_metrics(self._episode_metrics())
        return obs, float(sum(terms.values())), terminated, truncated, info

    def render(self) -> np.ndarray | None:
        if self.render_mode != "rgb_array":
            return None
        return self._image(self._render_camera(), *self.render_size)

    def scene_image(self, width: int = 320, height: int = 240) -> np.ndarray:
        """An RGB image (H, W, 3, uint8) of the scene from the overview camera (TinyRenderer)."""
        return self._image(self._camera(), width, height)

    def _render_camera(self) -> tuple[tuple[float, float, float], float, float, float]:
        """Camera of ``render()`` frames (videos): follows the robot with its goal in view.

        Read from the spec's declarations (``body.position`` and the goal's primary error),
        so every task, custom ones included, gets it: the camera stands behind the robot on
        the far side from the goal, aims between the two and backs off as they separate, so a
        person sees both what the robot does and where it is going. Without a position field
        (or before the first step), or with ``VIDEO_CAMERA = "overview"``, it is the overview
        camera ``_camera()``.
        """
        spec, state = self.task_spec, self._state
        if self.VIDEO_CAMERA not in ("follow", "overview"):
            raise TaskError(
                spec.id, "VIDEO_CAMERA", None, f"is {self.VIDEO_CAMERA!r}: 'follow' or 'overview'"
            )
        if self.VIDEO_CAMERA == "overview" or state is None or spec.body.position is None:
            return self._camera()
        pos = np.asarray(state[spec.body.position], dtype=float)
        goal = goal_point(spec, state)
        overview_yaw = self._camera()[2]
        if goal is None or not np.all(np.isfinite(goal)):
            return tuple(pos.tolist()), 1.0, overview_yaw, -25.0
        offset = goal - pos
        gap = float(np.linalg.norm(offset))
        horizontal = float(np.hypot(offset[0], offset[1]))
        # PyBullet's yaw 0 looks along +y; looking along the robot->goal direction puts the
        # camera behind the robot. A goal straight above or below keeps the overview's yaw.
        yaw = (
            math.degrees(math.atan2(offset[1], offset[0])) - 90.0
            if horizontal > 0.15
            else overview_yaw
        )
        target = pos + 0.35 * offset
        distance = float(np.clip(0.5 + 0.7 * gap, 0.7, 4.0))
        return tuple(target.tolist()), distance, yaw, -25.0

    def _image(
        self,
        camera: tuple[tuple[float, float, float], float, float, float],
        width: int,
        height: int,
    ) -> np.ndarray:
        target, dist, yaw, pitch = camera
        view = p.computeViewMatrixFromYawPitchRoll(target, dist, yaw, pitch, 0, 2)
        proj = p.computeProjectionMatrixFOV(60, width / height, 0.05, 50)
        _, _, rgba, _, _ = p.getCameraImage(
            width,
            height,
            view,
            proj,
            renderer=p.ER_TINY_RENDERER,
            physicsClientId=self.client,
        )
        return np.asarray(rgba, dtype=np.uint8).reshape(height, width, 4)[:, :, :3].copy()

    def close(self) -> None:
        if getattr(self, "client", None) is not None and p.isConnected(self.client):
            p.disconnect(self.client)
        self.client = None

    # ------------------------------------------------------------------ helpers
    @property
    def state(self) -> Mapping[str, np.ndarray] | None:
        """The current read-only state snapshot."""
        return self._state

    @property
    def elapsed_steps(self) -> int:
        return self._steps

    def check_fields(self, fields: Any) -> None:
        """Check what ``observe`` returned against the spec (see
        :func:`sims.semantics.check_observation`)."""
        check_observation(self.task_spec, fields)

    def _check_layout(self) -> None:
        """The layout must be JSON-serializable (a bundle carries it to the robot)."""
        for key, value in self.layout.items():
            try:
                json.dumps(value)
            except (TypeError, ValueError) as exc:
                raise TaskError(
                    self.task_spec.id,
                    "layout",
                    str(key),
                    f"layout value is not JSON-serializable ({exc}); use lists of floats",
                ) from None
        self._layout_checked = True

    def _checked_metrics(self, metrics: Mapping[str, float]) -> dict[str, float]:
        check_metrics(self.task_spec, metrics)
        return dict(metrics)

    def _snapshot(self) -> tuple[np.ndarray, Mapping[str, np.ndarray]]:
        vec = np.empty(self._obs_size)
        self._write_state(vec)
        vec.flags.writeable = False
        # Scalars become numpy scalars (immutable), vectors read-only views of `vec`.
        state = ReadOnlyState(
            [
                (name, vec[sl] if shape is None else vec[sl].reshape(shape))
                for name, sl, shape in self._slices
            ]
        )
        obs = self._sensor_effects(vec)
        return obs, state
