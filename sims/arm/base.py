"""`ArmTask`: what the Franka Panda tasks share (scene, actions, sensing, endings).

The scene follows panda-gym: a 1.1 x 0.7 m table whose top is the plane z = 0, the Panda's base
at (-0.6, 0, 0) on it, a 0.04 m cube (1 kg) for the object tasks, a goal drawn as a ghost
marker, 25 Hz control and 50 steps (2 s) per episode, success within 0.05 m of the goal.

A concrete task (``reach.py``, ``push.py``, ``pick_place.py``) only says whether it has a cube
and an actuated gripper, how goals and cubes are sampled, and its text; the spec is assembled
in :mod:`sims.arm.spec` and everything else lives here. Unlike panda-gym, an episode *ends* as
soon as the goal is reached (termination reason ``success``), which gives every episode one
unambiguous ground-truth outcome.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
import pybullet as p

from sims.arm import panda
from sims.arm.observe import OBJECT_KEYS, ROBOT_KEYS, from_measurement, to_measurement
from sims.arm.spec import (
    ACTION_MODES,
    CONTROL_HZ,
    DROP_Z,
    EE_STEP,
    GOAL_TOLERANCE,
    GRIPPER_STEP,
    JOINT_STEP,
    MIN_GOAL_DISTANCE,
    OBJECT_MASS,
    OBJECT_SIZE,
    SURFACE_FRICTION,
    TABLE_CENTER,
    TABLE_HALF_EXTENTS,
    VELOCITY_NOISE_FACTOR,
    WORKSPACE_HIGH,
    WORKSPACE_LOW,
    arm_spec,
)
from sims.base import SimTask
from sims.spec import TaskSpec
from sims.urdf import urdf_chain

#: Constraint-solver iterations per physics tick (PyBullet's default is 50). The joint motors
#: and the contacts are solved together; 20 keeps a grasped 1 kg cube held as firmly as 50 did
#: (scripted pick-and-place succeeds as often), 10 let it slip more often, and each iteration
#: costs about 0.4 us of a ~25 us tick.
SOLVER_ITERATIONS = 20


class ArmTask(SimTask):
    """Base of the Panda tasks. Subclasses set the class attributes and the two samplers.

    Reset options (besides ``params``): ``goal_pos`` and, for tasks with a cube,
    ``object_pos`` (world-frame xyz, m) pin the goal or the cube's start for this episode.

    Args: see :class:`sims.base.SimTask`.
    """

    ACTION_MODES: ClassVar[tuple[str, ...]] = ACTION_MODES
    #: Gymnasium id.
    TASK_ID: ClassVar[str]
    #: Plain-language goal and success criterion for the spec.
    DESCRIPTION: ClassVar[str]
    SUCCESS: ClassVar[str]
    #: Whether the scene has the cube (then the cube, not the end effector, must reach the goal).
    HAS_OBJECT: ClassVar[bool] = False
    #: Whether the policy commands the gripper; otherwise the fingers are held closed.
    USES_GRIPPER: ClassVar[bool] = False
    #: The arm's robot state from the robot side's measurement, and back (sims.arm.observe).
    from_measurement = staticmethod(from_measurement)
    to_measurement = staticmethod(to_measurement)

    # ------------------------------------------------------------------ task hooks
    def _sample_goal(self) -> np.ndarray:
        """A goal position (world frame, m) drawn with ``self.np_random``."""
        raise NotImplementedError

    def _sample_object(self) -> np.ndarray:
        """A start position of the cube's centre (world frame, m) drawn with ``self.np_random``."""
        raise NotImplementedError

    # ------------------------------------------------------------------ spec
    @classmethod
    def build_spec(cls, action_mode: str | None = None) -> TaskSpec:
        return arm_spec(
            cls.TASK_ID,
            cls.DESCRIPTION,
            cls.SUCCESS,
            has_object=cls.HAS_OBJECT,
            uses_gripper=cls.USES_GRIPPER,
            action_mode=action_mode,
        )

    @classmethod
    def command_model(cls, action_mode: str | None = None) -> dict[str, Any]:
        """The step sizes, joint chain and limits a runtime needs (see ``SimTask``)."""
        mode = cls.build_spec(action_mode).action.mode
        chain = urdf_chain(panda.URDF, "panda_grasptarget")
        arm = [j for j in chain if j["type"] != "fixed"]
        return {
            "robot": "arm",
            "kind": mode,
            "ee_step": EE_STEP,
            "joint_step": JOINT_STEP,
            "gripper_step": GRIPPER_STEP,
            "uses_gripper": cls.USES_GRIPPER,
            "max_gripper_width": panda.MAX_GRIPPER_WIDTH,
            "joints": [j["name"] for j in arm],
            "lower": [j["lower"] for j in arm],
            "upper": [j["upper"] for j in arm],
            "velocity": [j["velocity"] for j in arm],
            "base_position": list(panda.BASE_POSITION),
            "chain": chain,
            "workspace": {"low": list(WORKSPACE_LOW), "high": list(WORKSPACE_HIGH)},
        }

    # ------------------------------------------------------------------ world
    def _build_world(self) -> None:
        c = self.client
        p.setPhysicsEngineParameter(
            deterministicOverlappingPairs=1,
            numSolverIterations=SOLVER_ITERATIONS,
            physicsClientId=c,
        )
        self._sl = {name: sl for name, sl, _ in self._slices}
        # Envs built to render (videos) load the arm's visual meshes; the others (training)
        # skip their cost, and their scene images show the arm's collision meshes.
        self.robot = panda.Panda(c, visuals=self.render_mode is not None)
        plane = p.createCollisionShape(p.GEOM_PLANE, physicsClientId=c)
        p.createMultiBody(
            0, plane, basePosition=(0, 0, -2 * TABLE_HALF_EXTENTS[2]), physicsClientId=c
        )
        self.table = p.createMultiBody(
            0,
            p.createCollisionShape(p.GEOM_BOX, halfExtents=TABLE_HALF_EXTENTS, physicsClientId=c),
            p.createVisualShape(
                p.GEOM_BOX,
                halfExtents=TABLE_HALF_EXTENTS,
                rgbaColor=(0.95, 0.95, 0.95, 1),
                physicsClientId=c,
            ),
            basePosition=TABLE_CENTER,
            physicsClientId=c,
        )
        self.robot.ignore_collisions_with(self.table)
        half = OBJECT_SIZE / 2
        self.object: int | None = None
        if self.HAS_OBJECT:
            self.object = p.createMultiBody(
                OBJECT_MASS,
                p.createCollisionShape(p.GEOM_BOX, halfExtents=(half,) * 3, physicsClientId=c),
                p.createVisualShape(
                    p.GEOM_BOX,
                    halfExtents=(half,) * 3,
                    rgbaColor=(0.1, 0.3, 0.9, 1),
                    physicsClientId=c,
                ),
                basePosition=(0, 0, half),
                physicsClientId=c,
            )
        # The goal is drawn only: a body without a collision shape takes no part in physics.
        shape = (
            dict(shapeType=p.GEOM_BOX, halfExtents=(half,) * 3)
            if self.HAS_OBJECT
            else dict(shapeType=p.GEOM_SPHERE, radius=GOAL_TOLERANCE / 2)
        )
        self.goal_marker = p.createMultiBody(
            0,
            -1,
            p.createVisualShape(rgbaColor=(0.1, 0.9, 0.1, 0.4), physicsClientId=c, **shape),
            basePosition=(0, 0, half),
            physicsClientId=c,
        )
        self.robot.reset()
        self._ee_start = self.robot.ee_position()
        self.goal = np.zeros(3)
        # Per-component noise scale: measured positions/angles 1, velocities more, goals and
        # quaternions none; relative fields are recomputed from the noisy absolute ones.
        noise = np.zeros(self.task_spec.obs_size)
        for f in self.task_spec.state_fields:
            if f.name.startswith("goal") or f.unit == "1":
                continue
            noise[self._sl[f.name]] = VELOCITY_NOISE_FACTOR if f.unit.endswith("/s") else 1.0
        self._noise_scale = noise
        self._noise = 0.0
        self._delay_ticks = 0
        #: Commands waiting out the action latency: (tick at which it applies, arm, width).
        self._pending: deque[tuple[int, np.ndarray, float]] = deque()
        self._pins: dict[str, np.ndarray] = {}
        #: The physical parameters last applied to the bodies (none yet).
        self._applied_params: dict[str, float] | None = None
        #: Fields the robot and tracker measure (the rest follow from them and the layout).
        self._measured = list(ROBOT_KEYS)
        self._measured += ["gripper_width"] if self.USES_GRIPPER else []
        self._measured += list(OBJECT_KEYS) if self.HAS_OBJECT else []

    def _apply_params(self, params: Mapping[str, float]) -> None:
        self._delay_ticks = round(params["action_latency"] * self.task_spec.physics_hz)
        self._noise = params["sensor_noise"]
        # restoreState restores positions and velocities, not dynamics: what the last episode
        # set is still in force, so the same values (every nominal reset) need no PyBullet
        # calls, which were a quarter of a reset's cost.
        if params == self._applied_params:
            return
        self._applied_params = dict(params)
        friction = params.get("friction", 1.0)
        self.robot.set_dynamics(
            damping_scale=params["joint_damping"],
            gain_scale=params["controller_gain"],
            friction_scale=friction,
        )
        if self.object is not None:
            p.changeDynamics(
                self.object,
                -1,
                mass=OBJECT_MASS * params["object_mass"],
                lateralFriction=SURFACE_FRICTION * friction,
                physicsClientId=self.client,
            )
            p.changeDynamics(
                self.table,
                -1,
                lateralFriction=SURFACE_FRICTION * friction,
                physicsClientId=self.client,
            )

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Start an episode; see the class docstring for ``options``."""
        # SimTask.reset hands options to nothing but the randomizer, so the pins are parsed
        # here and read by _reset_task.
        self._pins = self._parse_pins(options or {})
        return super().reset(seed=seed, options=options)

    def _parse_pins(self, options: Mapping[str, Any]) -> dict[str, np.ndarray]:
        allowed = {"params", "goal_pos"} | ({"object_pos"} if self.HAS_OBJECT else set())
        unknown = set(options) - allowed
        if unknown:
            raise ValueError(
                f"{self.TASK_ID} reset options {sorted(unknown)} are not supported; "
                f"valid options: {sorted(allowed)}"
            )
        pins = {}
        for key in ("goal_pos", "object_pos"):
            if key in options:
                v = np.asarray(options[key], dtype=float)
                if v.shape != (3,) or not np.all(np.isfinite(v)):
                    raise ValueError(
                        f"reset option {key!r} must be 3 finite numbers (world-frame "
                        f"x, y, z in m); got {options[key]!r}"
                    )
                pins[key] = v
        return pins

    def _reset_task(self) -> None:
        # restoreState put the joints at the neutral pose, at rest, as the world was saved;
        # motor targets are not part of a saved state, so they are sent again.
        self.robot.command(np.array(panda.NEUTRAL_ARM), 0.0)
        self._pending.clear()
        self._tick = 0
        self._succeeded = False
        self._distance = float("nan")
        c = self.client
        # restoreState leaves PyBullet's persistent contact manifolds alone, and their
        # warm-start impulses from the last episode would change the first steps of this one.
        # One collision pass with the arm at its neutral pose and the cube lifted clear of
        # every other body drops them all, so each episode starts as in a freshly built world.
        if self.object is not None:
            p.resetBasePositionAndOrientation(
                self.object, (0, 0, 10), (0, 0, 0, 1), physicsClientId=c
            )
        p.performCollisionDetection(physicsClientId=c)
        start = self._ee_start
        if self.object is not None:
            start = self._pins.get("object_pos")
            if start is None:
                start = self._sample_object()
            p.resetBasePositionAndOrientation(
                self.object, start.tolist(), (0, 0, 0, 1), physicsClientId=c
            )
        goal = self._pins.get("goal_pos")
        if goal is None:
            # Rejection sampling: a handful of draws at most, since the goal region is far
            # larger than the excluded ball.
            goal = self._sample_goal()
            while np.linalg.norm(goal - start) < MIN_GOAL_DISTANCE:
                goal = self._sample_goal()
        self.goal = goal
        self.layout = {"goal": goal.tolist()}
        p.resetBasePositionAndOrientation(
            self.goal_marker, goal.tolist(), (0, 0, 0, 1), physicsClientId=self.client
        )

    # ------------------------------------------------------------------ step
    def _act(self, action: np.ndarray) -> None:
        robot = self.robot
        # The true state read at the end of the last step (or the reset) is the robot now: no
        # physics ran since, so it stands in for fresh PyBullet reads of the same values.
        state = self._state
        if self.action_mode == "ee_delta":
            target = state["ee_pos"] + action[:3] * EE_STEP
            target[2] = max(target[2], 0.0)
            arm = robot.ee_step(state["joint_pos"], state["ee_pos"], state["ee_quat"], target)
        else:
            arm = robot.clip_arm(state["joint_pos"] + action[:7] * JOINT_STEP)
        width = state["gripper_width"] + action[-1] * GRIPPER_STEP if self.USES_GRIPPER else 0.0
        # Commands wait in a queue until their latency has passed, then replace the active one.
        self._pending.append((self._tick + self._delay_ticks, arm, width))
        for _ in range(self.ticks_per_step):
            due = None
            while self._pending and self._pending[0][0] <= self._tick:
                due = self._pending.popleft()
            if due is not None:
                robot.command(due[1], due[2])
            p.stepSimulation(physicsClientId=self.client)
            self._tick += 1

    def _robot_state(self) -> dict[str, Any]:
        robot = self.robot.read()
        state: dict[str, Any] = {
            "ee_pos": robot.ee_pos,
            "ee_vel": robot.ee_vel,
            "ee_quat": robot.ee_quat,
            "joint_pos": robot.joint_pos,
            "joint_vel": robot.joint_vel,
        }
        if self.USES_GRIPPER:
            state["gripper_width"] = robot.gripper_width
        if self.object is not None:
            pos, quat = p.getBasePositionAndOrientation(self.object, physicsClientId=self.client)
            vel, angvel = p.getBaseVelocity(self.object, physicsClientId=self.client)
            state.update(object_pos=pos, object_quat=quat, object_vel=vel, object_angvel=angvel)
        return state

    def _sensor_effects(self, state_vec: np.ndarray) -> np.ndarray:
        if self._noise <= 0.0:
            return state_vec
        obs = (
            state_vec + self.np_random.normal(0.0, self._noise, state_vec.shape) * self._noise_scale
        )
        # the relative fields follow from the noisy absolute ones, as on a robot
        measured = {k: obs[self._sl[k]] for k in self._measured}
        self._fill(obs, self.observe(measured, self.layout))
        return obs

    def _check_end(self, state: Mapping[str, np.ndarray]) -> str | None:
        # Plain floats: numpy's per-call overhead on 3-vectors is most of this check's cost.
        ee = state["ee_pos"].tolist()
        achieved = ee if self.object is None else state["object_pos"].tolist()
        self._distance = math.dist(achieved, state["goal_pos"].tolist())
        if any(
            v < lo or v > hi for v, lo, hi in zip(ee, WORKSPACE_LOW, WORKSPACE_HIGH, strict=True)
        ):
            return "out_of_bounds"
        if self.object is not None and achieved[2] < DROP_Z:
            return "dropped_object"
        if self._distance < GOAL_TOLERANCE:
            self._succeeded = True
            return "success"
        return None

    def _episode_metrics(self) -> dict[str, float]:
        t = self.elapsed_steps / CONTROL_HZ if self._succeeded else self.task_spec.episode_seconds
        return {
            "success": float(self._succeeded),
            "final_distance": self._distance,
            "time_to_success": t,
        }

    def _camera(self) -> tuple[tuple[float, float, float], float, float, float]:
        return (-0.1, 0.0, 0.1), 1.3, 45.0, -30.0
