"""`DroneTask`: the shared Crazyflie env that the six drone tasks specialise.

A task subclass declares its spec as class attributes (id, description, success text, extra
state fields, termination reasons, metrics, constants, goal, success criteria, hazards; the
spec is assembled in :mod:`sims.drone.spec`), names its observation function and, for
counted events, its tracker (in :mod:`sims.drone.observe`), builds its static bodies once,
and implements a handful of small hooks (start pose, layout, end check, metrics). The physics tick loop, action modes,
motor model, randomization, sensor noise, latency and the common endings (crash, flipped, out of
bounds, collision) live here.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
import pybullet as p

from sims.base import SimTask
from sims.drone import control, model
from sims.drone.control import ACTION_MODES, FlightController
from sims.drone.observe import from_measurement, observe_common_fields, to_measurement
from sims.drone.spec import CRASH_SPEED, CRASH_TILT, drone_spec
from sims.drone.spec import SUCCESS_AT_TIMEOUT as SUCCESS_AT_TIMEOUT  # re-export for tasks
from sims.spec import (
    Criterion,
    Goal,
    Hazard,
    Landmark,
    StateField,
    TaskMetric,
    TaskSpec,
    TerminationReason,
)

#: Gap (m) between the airframe's lowest point and the floor that counts as touching it.
GROUND_CONTACT_GAP = 2e-3

#: Sensor noise standard deviation per unit at ``sensor_noise`` = 1 (typical onboard estimate).
_NOISE_BY_UNIT = {"m": 0.005, "m/s": 0.02, "rad/s": 0.05, "rad": 0.01}


class DroneTask(SimTask):
    """Base env of the Crazyflie tasks (see module docstring)."""

    ACTION_MODES = ACTION_MODES
    TASK_ID: ClassVar[str]
    DESCRIPTION: ClassVar[str]
    SUCCESS: ClassVar[str]
    EPISODE_SECONDS: ClassVar[float] = 8.0
    TASK_FIELDS: ClassVar[tuple[StateField, ...]] = ()
    EXTRA_REASONS: ClassVar[tuple[TerminationReason, ...]] = ()
    #: Common reasons a task cannot end with (e.g. 'timeout' where the task ends itself first).
    EXCLUDED_REASONS: ClassVar[tuple[str, ...]] = ()
    METRICS: ClassVar[tuple[TaskMetric, ...]] = ()
    CONSTANTS: ClassVar[dict[str, float]] = {}
    #: The observation function (see sims.drone.observe); the default has the common fields.
    observe = staticmethod(observe_common_fields)
    #: A drone's robot state from the robot side's measurement, and back (sims.drone.observe).
    from_measurement = staticmethod(from_measurement)
    to_measurement = staticmethod(to_measurement)
    #: What the task means (see sims.spec): the goal's error fields, success sub-criteria,
    #: hazards of the task's own failure reasons (the common ones are declared here),
    #: landmarks and progress fields.
    GOAL: ClassVar[Goal | None] = None
    SUCCESS_CRITERIA: ClassVar[tuple[Criterion, ...]] = ()
    HAZARDS: ClassVar[tuple[Hazard, ...]] = ()
    LANDMARKS: ClassVar[tuple[Landmark, ...]] = ()
    PROGRESS: ClassVar[tuple[str, ...]] = ()
    #: Velocity-mode limits: horizontal speed, vertical speed (m/s), yaw rate (rad/s).
    MAX_SPEED: ClassVar[float] = 1.0
    MAX_VZ: ClassVar[float] = 1.0
    MAX_YAW_RATE: ClassVar[float] = math.pi / 2
    #: Flight box ((xmin, xmax), (ymin, ymax), (zmin, zmax)), m.
    BOUNDS: ClassVar[tuple[tuple[float, float], ...]] = ((-2.5, 2.5), (-2.5, 2.5), (-0.1, 2.5))

    def __init__(
        self,
        *,
        action_mode: str | None = None,
        randomize=False,
        reward_fn=None,
        render_mode: str | None = None,
        render_size: tuple[int, int] = (320, 240),
        ground_effect: bool = False,
    ) -> None:
        self.airframe = model.Airframe(ground_effect=ground_effect)
        self._obstacles: set[int] = set()
        super().__init__(
            action_mode=action_mode,
            randomize=randomize,
            reward_fn=reward_fn,
            render_mode=render_mode,
            render_size=render_size,
        )
        self.controller = FlightController(
            self.action_mode, self._physics_dt, self.MAX_SPEED, self.MAX_VZ, self.MAX_YAW_RATE
        )
        noise = []
        for f in self.task_spec.state_fields:
            std = 0.005 if f.name == "quat" else _NOISE_BY_UNIT.get(f.unit, 0.0)
            noise += [std] * f.size
        self._noise_std = np.array(noise)

    # ------------------------------------------------------------------ spec
    @classmethod
    def build_spec(cls, action_mode: str | None = None) -> TaskSpec:
        return drone_spec(cls, action_mode)

    @classmethod
    def command_model(cls, action_mode: str | None = None) -> dict[str, Any]:
        """The flight box, mass and the action scaling of the mode (see ``SimTask``)."""
        mode = cls.build_spec(action_mode).action.mode
        (x0, x1), (y0, y1), (z0, z1) = cls.BOUNDS
        common = {
            "robot": "drone",
            "flight_box": {"low": [x0, y0, max(z0, 0.0)], "high": [x1, y1, z1]},
            "mass": model.MASS,
        }
        if mode == "velocity":
            return {
                **common,
                "kind": "velocity",
                # vx, vy, vz in the world frame (ENU, m/s) and yaw rate (rad/s, about +z up)
                "scale": [cls.MAX_SPEED, cls.MAX_SPEED, cls.MAX_VZ, cls.MAX_YAW_RATE],
            }
        if mode == "ctbr":
            return {
                **common,
                "kind": "ctbr",
                # thrust N = (a0 + 1) * thrust_scale; body rates (FLU, rad/s) = a1..3 * rate_scale
                "thrust_scale": 2.0 * model.MAX_ROTOR_THRUST,
                "rate_scale": [control.MAX_BODY_RATE, control.MAX_BODY_RATE, control.MAX_YAW_RATE],
            }
        return {**common, "kind": mode}

    # ------------------------------------------------------------------ subclass hooks
    def _build_task_world(self) -> None:
        """Create the task's static bodies; add the ones the drone must not touch to
        ``self._obstacles``."""

    def _start_pose(self) -> tuple[tuple[float, float, float], float]:
        """(position, yaw) of the drone at the start of an episode."""
        return (0.0, 0.0, model.REST_HEIGHT), 0.0

    def _start_velocity(self) -> tuple[float, float, float]:
        """World velocity of the drone at the start of an episode (a flying start)."""
        return (0.0, 0.0, 0.0)

    def _reset_layout(self) -> None:
        """Sample goals and move task bodies for a new episode (draw with ``self._uniform``)."""

    def _after_observe(self, fields: Mapping[str, Any]) -> None:
        """Read what the task keeps from this step's fields (e.g. the clearance)."""

    def _near_obstacle(self) -> bool:
        """Whether the drone may touch an obstacle now (tasks with obstacles override this
        with a cheap distance test; the default asks PyBullet whenever obstacles exist)."""
        return bool(self._obstacles)

    def _task_end(self, state: Mapping[str, np.ndarray], contacts: set[int]) -> str | None:
        """A task-specific termination reason, checked after the common ones."""
        return None

    # ------------------------------------------------------------------ world
    def _build_world(self) -> None:
        cid = self.client
        self.ground = p.createMultiBody(
            0,
            p.createCollisionShape(p.GEOM_PLANE, physicsClientId=cid),
            # PyBullet has no plane visual: a thin box stands in for the floor in images.
            p.createVisualShape(
                p.GEOM_BOX,
                halfExtents=(6, 6, 0.001),
                visualFramePosition=(0, 0, -0.001),
                rgbaColor=(0.55, 0.6, 0.5, 1),
                physicsClientId=cid,
            ),
            physicsClientId=cid,
        )
        self.drone = p.loadURDF(
            model.URDF,
            (0, 0, model.REST_HEIGHT),
            flags=p.URDF_USE_INERTIA_FROM_FILE,
            physicsClientId=cid,
        )
        # No damping: drag is modelled explicitly, PyBullet's default damping would add more.
        p.changeDynamics(self.drone, -1, linearDamping=0.0, angularDamping=0.0, physicsClientId=cid)
        self._build_task_world()

    def _apply_params(self, params: Mapping[str, float]) -> None:
        af = self.airframe
        af.mass = model.MASS * params["mass"]
        af.kf = model.KF * params["motor_thrust"]
        af.km = model.KM * params["motor_torque"]
        af.motor_tau = params["motor_lag"]
        af.drag = model.DRAG * params["drag"]
        s = params["inertia"]
        if getattr(self, "_applied_body", None) != (af.mass, s):  # skip the call when unchanged
            p.changeDynamics(
                self.drone,
                -1,
                mass=af.mass,
                localInertiaDiagonal=(model.IXX * s, model.IYY * s, model.IZZ * s),
                physicsClientId=self.client,
            )
            self._applied_body = (af.mass, s)
        self._motor_alpha = 1.0 - math.exp(-self._physics_dt / af.motor_tau)
        self._action_delay_ticks = round(params["action_delay"] * self.task_spec.physics_hz)
        self._obs_delay_steps = round(params["obs_delay"] * self.task_spec.control_hz)
        self._noise_scale = params["sensor_noise"]
        self._wind_mag = params["wind"]

    # ------------------------------------------------------------------ episode
    def _reset_task(self) -> None:
        self._draws: list[float] = []
        heading = self._uniform(0, 2 * math.pi)
        self._wind_dir = (math.cos(heading), math.sin(heading))
        self._wind_phase = self._uniform(0, 2 * math.pi)
        # Contact manifolds survive restoreState and would warm-start the solver with the last
        # episode's impulses: lift the drone clear and let collision detection drop them.
        p.resetBasePositionAndOrientation(
            self.drone, (0, 0, 50), (0, 0, 0, 1), physicsClientId=self.client
        )
        p.performCollisionDetection(physicsClientId=self.client)
        self._reset_layout()
        pos, yaw = self._start_pose()
        p.resetBasePositionAndOrientation(
            self.drone, pos, p.getQuaternionFromEuler((0, 0, yaw)), physicsClientId=self.client
        )
        p.resetBaseVelocity(
            self.drone, self._start_velocity(), (0, 0, 0), physicsClientId=self.client
        )
        airborne = pos[2] > 2 * model.REST_HEIGHT
        # An airborne start is a drone already hovering: motors spin at hover speed.
        hover = math.sqrt(self.airframe.mass * model.GRAVITY / (4 * self.airframe.kf))
        self._rpm = (hover, hover, hover, hover) if airborne else (0.0, 0.0, 0.0, 0.0)
        self.controller.reset()
        self._tick = 0
        self._pending: deque[tuple[int, tuple[float, ...]]] = deque()
        self._action = (0.0, 0.0, 0.0, 0.0)
        self._last_action = (0.0, 0.0, 0.0, 0.0)
        if airborne:
            # hold the current state until the first action takes effect
            self.controller.set_action(self._hold_action())
        self._obs_history: deque[np.ndarray] = deque(maxlen=self._obs_delay_steps + 1)
        self._prev_speed = 0.0
        self._read_state()

    def _hold_action(self) -> tuple[float, ...]:
        """Normalized action that holds a hover in the current mode (used before the first
        action arrives after an airborne start)."""
        if self.action_mode == "motors":
            h = 2.0 * model.HOVER_RPM / model.MAX_RPM - 1.0
            return (h, h, h, h)
        if self.action_mode == "ctbr":
            return (
                2.0 * model.MASS * model.GRAVITY / (4 * model.MAX_ROTOR_THRUST) - 1.0,
                0.0,
                0.0,
                0.0,
            )
        return (0.0, 0.0, 0.0, 0.0)

    def _read_state(self) -> None:
        cid, body = self.client, self.drone
        self._pos, self._quat = p.getBasePositionAndOrientation(body, physicsClientId=cid)
        self._vel, self._ang = p.getBaseVelocity(body, physicsClientId=cid)

    def _act(self, action: np.ndarray) -> None:
        # The hot loop: plain floats and pre-bound PyBullet functions (see control.py). Rotor
        # thrust and torques are applied in the body (link) frame, so PyBullet rotates them with
        # the body at every tick; drag and wind are world-frame forces evaluated once per step.
        a = tuple(action.tolist())
        self._last_action = a
        pending = self._pending
        tick = self._tick
        pending.append((tick + self._action_delay_ticks, a))
        cid, body = self.client, self.drone
        ctrl = self.controller
        set_action, rotor_speeds = ctrl.set_action, ctrl.rotor_speeds
        closed_loop = ctrl.mode != "motors"
        af = self.airframe
        alpha = self._motor_alpha
        kf, ratio = af.kf, af.km / af.kf
        d = model.ARM_XY
        pos, quat, vel, ang = self._pos, self._quat, self._vel, self._ang
        rot = p.getMatrixFromQuaternion(quat)
        r00, r01, r02, r10, r11, r12, r20, r21, r22 = rot
        ext_x, ext_y, ext_z = -af.drag * vel[0], -af.drag * vel[1], -af.drag * vel[2]
        if self._wind_mag:
            gust = self._wind_mag * (
                1.0 + 0.5 * math.sin(tick * self._physics_dt * math.pi + self._wind_phase)
            )
            ext_x += gust * self._wind_dir[0]
            ext_y += gust * self._wind_dir[1]
        # world -> body: R^T
        bx = r00 * ext_x + r10 * ext_y + r20 * ext_z
        by = r01 * ext_x + r11 * ext_y + r21 * ext_z
        bz = r02 * ext_x + r12 * ext_y + r22 * ext_z
        gain = model.ground_effect_gain(pos[2]) if af.ground_effect else 1.0
        get_pose, get_vel = p.getBasePositionAndOrientation, p.getBaseVelocity
        to_matrix = p.getMatrixFromQuaternion
        force, torque, step = p.applyExternalForce, p.applyExternalTorque, p.stepSimulation
        link, origin = p.LINK_FRAME, (0.0, 0.0, 0.0)
        w1, w2, w3, w4 = self._rpm
        if closed_loop:
            # The closed-loop modes recompute rotor speeds at every tick, the first included;
            # only the velocity integrators' step here is kept (see FlightController.integrate).
            ctrl.integrate(vel)
        else:
            c1, c2, c3, c4 = rotor_speeds(vel, rot, ang)
        for _ in range(self.ticks_per_step):
            if pending and pending[0][0] <= tick:
                while pending and pending[0][0] <= tick:
                    set_action(pending.popleft()[1])
                c1, c2, c3, c4 = rotor_speeds(vel, rot, ang)
            elif closed_loop:
                c1, c2, c3, c4 = rotor_speeds(vel, rot, ang)
            # first-order motor lag, exact for a command held over one tick
            w1 += (c1 - w1) * alpha
            w2 += (c2 - w2) * alpha
            w3 += (c3 - w3) * alpha
            w4 += (c4 - w4) * alpha
            f1, f2, f3, f4 = kf * w1 * w1, kf * w2 * w2, kf * w3 * w3, kf * w4 * w4
            # Positional client ids: PyBullet's keyword parsing costs ~0.1 us a call, and
            # these five calls run 5 times per env step.
            force(body, -1, (bx, by, bz + gain * (f1 + f2 + f3 + f4)), origin, link, cid)
            torque(
                body,
                -1,
                (d * (f3 + f4 - f1 - f2), d * (f2 + f3 - f1 - f4), ratio * (f1 - f2 + f3 - f4)),
                link,
                cid,
            )
            step(cid)
            tick += 1
            if closed_loop:
                pos, quat = get_pose(body, cid)
                vel, ang = get_vel(body, cid)
                rot = to_matrix(quat)
        self._tick = tick
        self._rpm = (w1, w2, w3, w4)
        v = self._vel
        self._prev_speed = math.sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2])
        if closed_loop:
            self._pos, self._quat, self._vel, self._ang = pos, quat, vel, ang
        else:
            self._read_state()

    # ------------------------------------------------------------------ state
    def _robot_state(self) -> dict[str, Any]:
        pos, quat, (wx, wy, wz) = self._pos, self._quat, self._ang
        r00, r01, r02, r10, r11, r12, r20, r21, r22 = p.getMatrixFromQuaternion(quat)
        self._r22 = r22
        return {
            "pos": pos,
            "quat": quat,
            "vel": self._vel,
            # PyBullet reports world rates; the robot's IMU and the observation use body rates
            "ang_vel": (
                r00 * wx + r10 * wy + r20 * wz,
                r01 * wx + r11 * wy + r21 * wz,
                r02 * wx + r12 * wy + r22 * wz,
            ),
            "last_action": self._last_action,
            "step": self.elapsed_steps,
        }

    def _write_state(self, out: np.ndarray) -> None:
        super()._write_state(out)
        self._after_observe(self._fields)

    def _sensor_effects(self, state_vec: np.ndarray) -> np.ndarray:
        if not self._obs_delay_steps and not self._noise_scale:
            return state_vec
        self._obs_history.append(state_vec)
        obs = self._obs_history[0]
        if self._noise_scale:
            obs = obs + self.np_random.normal(0.0, 1.0, obs.shape) * (
                self._noise_std * self._noise_scale
            )
        return obs

    def _check_end(self, state: Mapping[str, np.ndarray]) -> str | None:
        tilt = float(state["tilt"])
        x, y, z = self._pos
        # The floor is a plane: the airframe's lowest point (a cylinder of radius R and half
        # height H) gives ground contact exactly, without a contact query.
        r22 = self._r22
        lowest = (
            z
            - model.REST_HEIGHT * abs(r22)
            - model.BODY_RADIUS * math.sqrt(max(0.0, 1.0 - r22 * r22))
        )
        on_ground = lowest < GROUND_CONTACT_GAP
        if on_ground and (self._prev_speed > CRASH_SPEED or tilt > CRASH_TILT):
            return "crash"
        # Contact queries cost microseconds: ask only when an obstacle may be touched.
        contacts: set[int] = set()
        if self._near_obstacle():
            contacts = {
                c[2] for c in p.getContactPoints(bodyA=self.drone, physicsClientId=self.client)
            }
        if on_ground:
            contacts.add(self.ground)
        if tilt > math.pi / 2:
            return "flipped"
        (x0, x1), (y0, y1), (z0, z1) = self.BOUNDS
        if not (x0 <= x <= x1 and y0 <= y <= y1 and z0 <= z <= z1):
            return "out_of_bounds"
        if contacts & self._obstacles:
            return "collision"
        return self._task_end(state, contacts)

    def _camera(self) -> tuple[tuple[float, float, float], float, float, float]:
        return (0.0, 0.0, 0.6), 3.2, 35.0, -30.0

    # ------------------------------------------------------------------ helpers for tasks
    def _uniform(self, low: float, high: float) -> float:
        """A uniform draw from the episode's seeded generator (drawn in batches: one numpy
        call per draw would dominate the cost of a reset)."""
        if not (np.isscalar(low) and np.isscalar(high)):
            raise TypeError(
                f"{type(self).__name__}._uniform(low, high) draws one number; got "
                f"{low!r}, {high!r}: call it once per coordinate"
            )
        if not self._draws:
            self._draws = self.np_random.random(16).tolist()
        return low + (high - low) * self._draws.pop()

    def _add_box(
        self,
        half_extents: tuple[float, float, float],
        rgba: tuple[float, float, float, float],
        obstacle: bool = True,
    ) -> int:
        """Create a static box body (moved per episode with ``_place``)."""
        cid = self.client
        body = p.createMultiBody(
            0,
            p.createCollisionShape(p.GEOM_BOX, halfExtents=half_extents, physicsClientId=cid),
            p.createVisualShape(
                p.GEOM_BOX, halfExtents=half_extents, rgbaColor=rgba, physicsClientId=cid
            ),
            basePosition=(0, 0, -10),
            physicsClientId=cid,
        )
        if obstacle:
            self._obstacles.add(body)
        return body

    def _add_cylinder(
        self,
        radius: float,
        height: float,
        rgba: tuple[float, float, float, float],
        obstacle: bool = True,
    ) -> int:
        """Create a static upright cylinder body (moved per episode with ``_place``)."""
        cid = self.client
        body = p.createMultiBody(
            0,
            p.createCollisionShape(
                p.GEOM_CYLINDER, radius=radius, height=height, physicsClientId=cid
            ),
            p.createVisualShape(
                p.GEOM_CYLINDER, radius=radius, length=height, rgbaColor=rgba, physicsClientId=cid
            ),
            basePosition=(0, 0, -10),
            physicsClientId=cid,
        )
        if obstacle:
            self._obstacles.add(body)
        return body

    def _add_marker(self, rgba: tuple[float, float, float, float], radius: float = 0.04) -> int:
        """A visual-only sphere (no collision) marking a goal in images and videos."""
        cid = self.client
        return p.createMultiBody(
            0,
            -1,
            p.createVisualShape(p.GEOM_SPHERE, radius=radius, rgbaColor=rgba, physicsClientId=cid),
            basePosition=(0, 0, -10),
            physicsClientId=cid,
        )

    def _place(self, body: int, pos: tuple[float, float, float], yaw: float = 0.0) -> None:
        p.resetBasePositionAndOrientation(
            body, pos, p.getQuaternionFromEuler((0, 0, yaw)), physicsClientId=self.client
        )
