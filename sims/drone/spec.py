"""The TaskSpec pieces all Crazyflie tasks share, and :func:`drone_spec` that assembles a
task's spec from its class attributes (see :class:`sims.drone.base.DroneTask`).

Split from the env so that the spec side (fields, endings, hazards, randomization ranges) is
read in one place, apart from the robot's physics in :mod:`sims.drone.base`.
"""

from __future__ import annotations

import math
from typing import Any

from sims.drone.control import ACTION_MODES
from sims.semantics import SpecError
from sims.spec import (
    ActionSpec,
    BodyFields,
    Hazard,
    ParamRealism,
    RandomParam,
    StateField,
    TaskSpec,
    TerminationReason,
)

PHYSICS_HZ = 240.0
CONTROL_HZ = 48.0
#: Impact speed above which touching the ground is a crash, m/s.
CRASH_SPEED = 1.0
#: Tilt above which touching the ground is a crash, rad.
CRASH_TILT = math.radians(60.0)
#: Gap (m) between the airframe's lowest point and the floor that counts as touching it.
GROUND_CONTACT_GAP = 2e-3

COMMON_FIELDS: tuple[StateField, ...] = (
    StateField(
        name="pos",
        role="robot",
        shape=(3,),
        unit="m",
        frame="world",
        description="Drone centre position; world ENU, z up, ground at z=0.",
    ),
    StateField(
        name="quat",
        role="robot",
        shape=(4,),
        unit="1",
        frame="world",
        description="Orientation quaternion (x, y, z, w), body FLU -> world.",
    ),
    StateField(
        name="vel",
        role="robot",
        shape=(3,),
        unit="m/s",
        frame="world",
        description="Linear velocity in the world frame.",
    ),
    StateField(
        name="ang_vel",
        role="robot",
        shape=(3,),
        unit="rad/s",
        frame="body",
        description="Body angular rates (roll, pitch, yaw rate) in the body frame.",
    ),
    StateField(
        name="tilt",
        role="robot",
        shape=(),
        unit="rad",
        frame="world",
        description="Angle between the body z axis and world up: 0 level, pi upside down.",
    ),
    StateField(
        name="last_action",
        role="action",
        shape=(4,),
        unit="1",
        frame="action",
        description="The normalized action applied this step (all zeros after reset).",
    ),
)

#: Which common fields locate the drone (read by diagnostics and plots).
DRONE_BODY = BodyFields(
    noun="the drone",
    position="pos",
    velocity="vel",
    orientation="quat",
    tilt="tilt",
    angular_velocity="ang_vel",
)

#: The fields that warn of the common failure endings.
COMMON_HAZARDS: tuple[Hazard, ...] = (
    Hazard(reason="crash", fields=("pos[2]", "vel", "tilt"), description="Low, fast or tilted."),
    Hazard(reason="flipped", fields=("tilt", "ang_vel"), description="Tilt or fast body rates."),
    Hazard(reason="out_of_bounds", fields=("pos",), description="Position near the flight box."),
)

#: How tasks judged at the time limit (hover, orbit) end when they succeed.
SUCCESS_AT_TIMEOUT = TerminationReason(
    name="success",
    kind="truncated",
    success=True,
    description="Reached the time limit with the success criterion met.",
)

COMMON_REASONS: tuple[TerminationReason, ...] = (
    TerminationReason(
        name="crash",
        description=(
            f"Touched the ground faster than {CRASH_SPEED} m/s or tilted more than 60 degrees."
        ),
    ),
    TerminationReason(name="flipped", description="Tilted past 90 degrees (upside down)."),
    TerminationReason(name="out_of_bounds", description="Left the task's flight box."),
    TerminationReason(
        name="timeout",
        kind="truncated",
        description="Reached the episode time limit without success.",
    ),
)

_ACTION_TEXT = {
    "velocity": (
        (
            "vx setpoint, world, x max_speed m/s",
            "vy setpoint, world, x max_speed m/s",
            "vz setpoint, world, x max_vz m/s",
            "yaw rate setpoint, x max_yaw_rate rad/s",
        ),
        "Velocity setpoint and yaw rate tracked by the onboard cascaded controller "
        "(the interface PX4 offboard, MAVROS and Crazyflie cmd_vel accept).",
    ),
    "ctbr": (
        (
            "collective thrust, -1 = 0 N, +1 = max thrust",
            "roll rate, x 6 rad/s",
            "pitch rate, x 6 rad/s",
            "yaw rate, x 3 rad/s",
        ),
        "Collective thrust and body rates tracked by the onboard rate controller.",
    ),
    "motors": (
        (
            "motor M1 speed, -1 = off, +1 = max rpm",
            "motor M2 speed",
            "motor M3 speed",
            "motor M4 speed",
        ),
        "Normalized full-range rotor speed commands, no controller.",
    ),
}


DRONE_RANDOMIZATION: tuple[RandomParam, ...] = (
    RandomParam(
        name="mass",
        kind="scale",
        nominal=1.0,
        low=0.8,
        high=1.2,
        hard_low=0.5,
        hard_high=2.0,
        description="Multiplier on the 0.027 kg airframe mass.",
    ),
    RandomParam(
        name="inertia",
        kind="scale",
        nominal=1.0,
        low=0.8,
        high=1.2,
        hard_low=0.5,
        hard_high=2.0,
        description="Multiplier on the rotational inertia.",
    ),
    RandomParam(
        name="motor_thrust",
        kind="scale",
        nominal=1.0,
        low=0.85,
        high=1.15,
        hard_low=0.5,
        hard_high=1.5,
        description="Multiplier on the rotor thrust coefficient 3.16e-10 N/rpm^2.",
    ),
    RandomParam(
        name="motor_torque",
        kind="scale",
        nominal=1.0,
        low=0.85,
        high=1.15,
        hard_low=0.5,
        hard_high=1.5,
        description="Multiplier on the rotor drag-torque coefficient.",
    ),
    RandomParam(
        name="motor_lag",
        kind="absolute",
        nominal=0.03,
        low=0.02,
        high=0.05,
        hard_low=0.001,
        hard_high=0.2,
        unit="s",
        description="First-order motor time constant.",
        realism=ParamRealism(
            simulated_as="first-order rotor-speed lag with this time constant",
            on_the_robot="motor + ESC response (brushed Crazyflie motors ~30 ms)",
            resolution="exact per physics tick",
        ),
    ),
    RandomParam(
        name="action_delay",
        kind="absolute",
        nominal=0.0083,
        low=0.0,
        high=0.025,
        hard_low=0.0,
        hard_high=0.2,
        unit="s",
        description="Dead time between a policy action and the controller using it.",
        realism=ParamRealism(
            simulated_as="commands reach the flight controller after round(delay x physics_hz) ticks",
            on_the_robot="publish -> DDS / radio link -> firmware setpoint handling",
            resolution="one physics tick (1/physics_hz)",
        ),
    ),
    RandomParam(
        name="obs_delay",
        kind="absolute",
        nominal=0.0,
        low=0.0,
        high=0.021,
        hard_low=0.0,
        hard_high=0.2,
        unit="s",
        description="Age of the observation the policy sees (rounded to control steps).",
        realism=ParamRealism(
            simulated_as="the policy sees the state of k control steps ago, k = round(delay x control_hz)",
            on_the_robot="odometry age at the node's tick: estimator + transport latency + up to one tick",
            resolution="one control step (1/control_hz)",
        ),
    ),
    RandomParam(
        name="drag",
        kind="scale",
        nominal=1.0,
        low=0.5,
        high=1.5,
        hard_low=0.0,
        hard_high=5.0,
        description="Multiplier on linear aerodynamic drag (0.01 N s/m).",
    ),
    RandomParam(
        name="sensor_noise",
        kind="scale",
        nominal=0.0,
        low=0.0,
        high=1.0,
        hard_low=0.0,
        hard_high=5.0,
        description="Observation noise: 1 = 5 mm position, 0.02 m/s velocity, "
        "0.05 rad/s gyro, 0.01 rad angles (std).",
        realism=ParamRealism(
            simulated_as="white Gaussian noise on the observation, per field unit",
            on_the_robot="onboard state-estimate noise in /odom (pose and twist)",
            resolution="continuous",
        ),
    ),
    RandomParam(
        name="wind",
        kind="absolute",
        nominal=0.0,
        low=0.0,
        high=0.01,
        hard_low=0.0,
        hard_high=0.1,
        unit="N",
        description="Mean horizontal wind force with +-50% gusts (weight is 0.26 N).",
    ),
)


#: Spec section -> the DroneTask class attribute that declares it (for error messages).
_SECTION_ATTRS = {
    "state_fields": "TASK_FIELDS",
    "body": "TASK_FIELDS",
    "goal": "GOAL",
    "success_criteria": "SUCCESS_CRITERIA",
    "hazards": "HAZARDS",
    "landmarks": "LANDMARKS",
    "progress": "PROGRESS",
}


def drone_spec(cls: Any, action_mode: str | None = None) -> TaskSpec:
    """Assemble a drone task's spec from its class attributes (see ``DroneTask``).

    Raises:
        ValueError: for an unknown action mode.
        TaskError: when a declaration names something missing; the hook it names is the class
            attribute to fix, e.g. ``DroneHover.SUCCESS_CRITERIA``.
    """
    mode = action_mode or ACTION_MODES[0]
    if mode not in ACTION_MODES:
        raise ValueError(f"{cls.__name__} has no action mode {mode!r}; choose {ACTION_MODES}")
    components, text = _ACTION_TEXT[mode]
    if mode == "velocity":
        text += (
            f" max_speed={cls.MAX_SPEED} m/s, max_vz={cls.MAX_VZ} m/s, "
            f"max_yaw_rate={cls.MAX_YAW_RATE:.3g} rad/s."
        )
    try:
        return TaskSpec(
            id=cls.TASK_ID,
            robot="crazyflie2x",
            description=cls.DESCRIPTION,
            success=cls.SUCCESS,
            control_hz=CONTROL_HZ,
            physics_hz=PHYSICS_HZ,
            max_episode_steps=round(cls.EPISODE_SECONDS * CONTROL_HZ),
            state_fields=COMMON_FIELDS + cls.TASK_FIELDS,
            action=ActionSpec(
                mode=mode,
                modes=ACTION_MODES,
                shape=(4,),
                low=(-1.0,) * 4,
                high=(1.0,) * 4,
                components=components,
                description=text,
            ),
            termination_reasons=tuple(
                r for r in COMMON_REASONS if r.name not in cls.EXCLUDED_REASONS
            )
            + cls.EXTRA_REASONS,
            task_metrics=cls.METRICS,
            randomization=DRONE_RANDOMIZATION,
            constants={
                "control_hz": CONTROL_HZ,
                "episode_seconds": cls.EPISODE_SECONDS,
                "x_min": cls.BOUNDS[0][0],
                "x_max": cls.BOUNDS[0][1],
                "y_min": cls.BOUNDS[1][0],
                "y_max": cls.BOUNDS[1][1],
                "z_max": cls.BOUNDS[2][1],
                **cls.CONSTANTS,
            },
            body=DRONE_BODY,
            goal=cls.GOAL,
            success_criteria=cls.SUCCESS_CRITERIA,
            hazards=tuple(h for h in COMMON_HAZARDS if h.reason not in cls.EXCLUDED_REASONS)
            + cls.HAZARDS,
            landmarks=cls.LANDMARKS,
            progress=cls.PROGRESS,
        )
    except SpecError as exc:
        # name the class attribute the author edits, not the spec section
        raise exc.in_hook(f"{cls.__name__}.{_SECTION_ATTRS[exc.section]}") from None
