"""Building the policy's observation on the robot exactly as the simulator built it.

The adapter decodes messages into a typed :class:`~ros_bridge.measurement.Measurement`; the
task's own vendored functions (:mod:`ros_bridge.taskobs`) turn it into the robot state, keep
the task's events and compute the fields, which go into the vector in the bundle's order.
Nothing here knows a task's fields: a task the profile cannot feed is reported when the
runtime is built, not at the first tick in the air.
"""

from __future__ import annotations

from dataclasses import fields, replace
from typing import Any

import numpy as np

from .bundle import PolicyBundle
from .robots import Adapter
from .taskobs import TaskObservationError, check_observe, flatten, load_task_functions

#: The layout key of the goal a goal message or the ``goal`` parameter replaces.
GOAL_KEY = "goal"


class ObservationError(ValueError):
    """The bundle's observation needs something the robot cannot provide."""


class NotReady(RuntimeError):
    """A source has no data yet (e.g. no goal received); the runtime waits."""


class ObservationBuilder:
    """Fills the observation vector from an adapter's measurement and the episode layout.

    Args:
        bundle: the policy bundle (field layout, the task's function names, default layout).
        adapter: the robot adapter holding the decoded measurement.
        default_goal: goal used until a goal message arrives (task world frame), or ``None``
            to wait for one.
        layout: the course (a task layout, as in ``bundle.json``'s ``task.layout``); ``None``
            uses the bundle's default layout, whose goal then has to come from a goal message
            or ``default_goal``.

    Raises:
        ObservationError: when the task's functions cannot be loaded or need a measurement,
            robot-state value or layout key the robot side lacks.
    """

    def __init__(
        self,
        bundle: PolicyBundle,
        adapter: Adapter,
        default_goal: np.ndarray | None = None,
        layout: dict[str, Any] | None = None,
    ) -> None:
        self.adapter = adapter
        self.default_goal = default_goal
        self._action_size = bundle.action_size
        self._size = bundle.obs_size
        self._names = [f.name for f in bundle.fields]
        self.start()
        task = bundle.meta.task
        try:
            self.functions = load_task_functions(
                task.observe, task.from_measurement, task.track, bundle.path / "tasklib"
            )
            self.set_layout(layout if layout is not None else task.layout or {}, layout is not None)
            probe = dict(self.layout)
            if GOAL_KEY in probe and not self.layout_given:
                probe[GOAL_KEY] = [0.0, 0.0, 1.0]
            sample = adapter.probe()
            check_observe(self.functions, self._with_memory(sample), probe,
                          self._names, self._size)  # fmt: skip
        except TaskObservationError as exc:
            raise ObservationError(f"{bundle.task_id} on {adapter.profile.name}: {exc}") from None
        #: The measurements the task reads (those whose absence breaks its observation): the
        #: runtime waits for them (a profile's optional input, e.g. the object, may be unused).
        self._needed = [
            f.name
            for f in fields(sample)
            if getattr(sample, f.name) is not None
            and not self._runs(replace(sample, **{f.name: None}), probe)
        ]

    def _runs(self, sample: Any, layout: dict[str, Any]) -> bool:
        """Whether the task's functions run on ``sample`` (a partial measurement)."""
        try:
            check_observe(self.functions, self._with_memory(sample), layout, self._names,
                          self._size)  # fmt: skip
        except Exception:  # the task's code on a partial measurement: any error means needed
            return False
        return True

    def start(self) -> None:
        """A new episode: the policy was just enabled (zero last action, step 0, the task's
        event tracker starts on the next state)."""
        self.last_action = np.zeros(self._action_size)
        #: Control steps since the policy was enabled (the ``step`` a task observes).
        self.step = 0
        self.events: Any = None
        #: What the last build observed (robot state, events, layout), for :meth:`advance`.
        self._seen: tuple[Any, Any, Any] | None = None

    def set_layout(self, layout: dict[str, Any], given: bool = True) -> None:
        """Use ``layout`` as the course (``given``: from the operator, goal included)."""
        self.layout = dict(layout)
        self.layout_given = given
        #: Whether the observation waits for a goal (a goal message or the default goal).
        self.needs_goal = GOAL_KEY in self.layout and not given

    def _with_memory(self, m: Any) -> Any:
        return replace(m, last_action=self.last_action, step=self.step)

    def build(self) -> np.ndarray:
        """The observation vector (float64); the events stay as they are until
        :meth:`advance` (a readiness check may build without acting).

        Raises:
            NotReady: when a measurement or the goal has no data yet.
        """
        a = self.adapter
        layout = self.layout
        if GOAL_KEY in layout:
            goal = a.goal if a.goal is not None else self.default_goal
            if goal is None and not self.layout_given:
                raise NotReady("goal")
            if goal is not None:
                layout = {**layout, GOAL_KEY: [float(v) for v in goal]}
        m = a.measurement()
        missing = [n for n in self._needed if getattr(m, n) is None]
        if missing:
            raise NotReady(", ".join(missing))
        out, state, events = self.functions.fields(self._with_memory(m), layout, self.events)
        self._seen = (state, events, layout)
        return flatten(out, self._names, self._size)

    def advance(self, action: np.ndarray) -> None:
        """The policy acted on the last built observation: remember the action, count the
        step and fold that state into the task's events (as the simulator does after each
        step's observation; the episode's first state only starts the tracker)."""
        self.last_action = action
        self.step += 1
        if self.functions.track is None or self._seen is None:
            return
        state, events, layout = self._seen
        if self.events is None:
            self.events = events
        else:
            self.events = self.functions.track(events, state, layout)
