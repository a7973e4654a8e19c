"""The TaskSpec of the Panda tasks: constants, state fields, actions, endings, randomization.

Everything a reward designer reads about the arm tasks is assembled here by :func:`arm_spec`
from two facts about a task (does it have the cube, does the policy drive the gripper); the
physics in :mod:`sims.arm.base` uses the same constants.

Frames: ``world`` has its origin at the centre of the table top, x pointing away from the
robot (whose base is at x = -0.6 m), z up. ``joint`` fields are Panda joint coordinates in the
order panda_joint1..7.
"""

from __future__ import annotations

from sims.arm import panda
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

CONTROL_HZ = 25.0
#: 5 physics ticks per control step: the tick is most of an arm step's cost, and 125 Hz keeps
#: grasps and pushes as reliable as 250 Hz did; see panda.POSITION_GAIN for how tracking per
#: control step matches 250 Hz and panda-gym's 500 Hz.
PHYSICS_HZ = 125.0
MAX_EPISODE_STEPS = 50
GOAL_TOLERANCE = 0.05
OBJECT_SIZE = 0.04
#: Nominal cube mass, kg (panda-gym's value).
OBJECT_MASS = 1.0
#: Nominal lateral friction of the cube and the table top (PyBullet's default).
SURFACE_FRICTION = 0.5
#: Largest end-effector displacement per step in ``ee_delta`` mode, m.
EE_STEP = 0.05
#: Largest joint angle change per step in ``joint_delta`` mode, rad.
JOINT_STEP = 0.05
#: Largest change of the commanded finger gap per step, m (a full close or open in one step).
GRIPPER_STEP = panda.MAX_GRIPPER_WIDTH
#: A new goal is at least this far from where the end effector / cube starts, so no episode
#: begins already solved.
MIN_GOAL_DISTANCE = 0.1
TABLE_HALF_EXTENTS = (0.55, 0.35, 0.2)
TABLE_CENTER = (-0.3, 0.0, -0.2)
#: The end effector must stay inside this box (world frame, m): the table's width, from just
#: in front of the robot's base to past the goal region, up to 0.6 m.
WORKSPACE_LOW = (-0.45, -0.35, -0.05)
WORKSPACE_HIGH = (0.3, 0.35, 0.6)
#: A cube whose centre is below the table top has left it (resting, even on an edge, the
#: centre is at least 0.014 m above the top).
DROP_Z = 0.0
#: Velocities are observed with this many times the position noise (a position error of sigma
#: differentiated over ~0.1 s).
VELOCITY_NOISE_FACTOR = 10.0

ROBOT_PARAMS = (
    RandomParam(
        name="joint_damping",
        kind="scale",
        nominal=1.0,
        low=0.5,
        high=2.0,
        hard_low=0.0,
        # Bullet integrates joint damping explicitly: near 10x the light wrist links blow up at
        # the 8 ms physics step (8x measured stable).
        hard_high=5.0,
        description=f"Factor on the arm joints' viscous damping (nominal {panda.JOINT_DAMPING} "
        "N m s/rad).",
    ),
    RandomParam(
        name="controller_gain",
        kind="scale",
        nominal=1.0,
        low=0.7,
        high=1.3,
        hard_low=0.2,
        hard_high=2.0,
        description=f"Factor on the joint position controller's position gain (nominal "
        f"{panda.POSITION_GAIN}): stiffer or softer tracking of the commanded joint targets.",
    ),
    RandomParam(
        name="action_latency",
        kind="absolute",
        nominal=0.0,
        low=0.0,
        high=0.04,
        unit="s",
        hard_low=0.0,
        hard_high=0.2,
        description="Delay between an action and the moment the robot starts executing it "
        "(resolved to the physics tick).",
    ),
    RandomParam(
        name="sensor_noise",
        kind="absolute",
        nominal=0.0,
        low=0.0,
        high=0.002,
        unit="m",
        hard_low=0.0,
        hard_high=0.05,
        description="Std of Gaussian noise on observed positions (m) and joint angles (rad); "
        f"velocities get {VELOCITY_NOISE_FACTOR:g}x this std (m/s, rad/s); goals are exact. "
        "Affects the observation only, not the state handed to rewards.",
    ),
)

OBJECT_PARAMS = (
    RandomParam(
        name="friction",
        kind="scale",
        nominal=1.0,
        low=0.5,
        high=1.5,
        hard_low=0.05,
        hard_high=5.0,
        description=f"Factor on the lateral friction of the cube and table (nominal "
        f"{SURFACE_FRICTION}) and of the fingertips (nominal {panda.FINGER_LATERAL_FRICTION}).",
    ),
    RandomParam(
        name="object_mass",
        kind="scale",
        nominal=1.0,
        low=0.5,
        high=2.0,
        hard_low=0.01,
        hard_high=10.0,
        description=f"Factor on the cube's mass (nominal {OBJECT_MASS} kg).",
    ),
)

ACTION_MODES = ("ee_delta", "joint_delta")


#: Which fields locate the end effector (read by diagnostics and plots).
ARM_BODY = BodyFields(
    noun="the end effector", position="ee_pos", velocity="ee_vel", orientation="ee_quat"
)


def _f(
    name: str, shape: tuple[int, ...], unit: str, frame: str, text: str, role: str = "robot"
) -> StateField:
    return StateField(name=name, shape=shape, unit=unit, frame=frame, description=text, role=role)


def arm_spec(
    task_id: str,
    description: str,
    success: str,
    *,
    has_object: bool,
    uses_gripper: bool,
    action_mode: str | None = None,
) -> TaskSpec:
    """The TaskSpec of a Panda task.

    Args:
        task_id: gymnasium id, e.g. ``agentic_rl/ArmReach-v0``.
        description: the task's goal in plain language (the frame convention is appended).
        success: the success criterion in plain language.
        has_object: whether the scene has the cube that must reach the goal.
        uses_gripper: whether the policy commands the gripper (else it is held closed).
        action_mode: ``ee_delta`` (default) or ``joint_delta``.

    Raises:
        ValueError: for an unknown action mode.
    """
    mode = action_mode or ACTION_MODES[0]
    if mode not in ACTION_MODES:
        raise ValueError(f"{task_id} has no action mode {mode!r}; choose one of {ACTION_MODES}")
    return TaskSpec(
        id=task_id,
        robot="panda",
        description=description
        + " World frame: origin at the centre of the table top, x away from the robot "
        "(its base is at x = -0.6 m), z up; the table top is z = 0.",
        success=success,
        control_hz=CONTROL_HZ,
        physics_hz=PHYSICS_HZ,
        max_episode_steps=MAX_EPISODE_STEPS,
        state_fields=_state_fields(has_object, uses_gripper),
        action=_action_spec(mode, uses_gripper),
        termination_reasons=_termination_reasons(has_object),
        task_metrics=(
            TaskMetric(name="success", description="1 if the episode ended in success, else 0."),
            TaskMetric(
                name="final_distance",
                unit="m",
                higher_is_better=False,
                description=f"Distance from the {_achiever(has_object)} to the goal at the end.",
            ),
            TaskMetric(
                name="time_to_success",
                unit="s",
                higher_is_better=False,
                description="Time until success; the full episode length if never.",
            ),
        ),
        randomization=ROBOT_PARAMS + (OBJECT_PARAMS if has_object else ()),
        constants=_constants(has_object, uses_gripper),
        body=ARM_BODY,
        goal=_goal(has_object),
        success_criteria=(
            Criterion(
                name="at_goal",
                source="field",
                key="object_rel_goal" if has_object else "goal_rel",
                reduce="norm",
                compare="<",
                threshold="goal_tolerance",
                description=f"The {_achiever(has_object)} within goal_tolerance of the goal.",
            ),
        ),
        hazards=_hazards(has_object),
        landmarks=(
            (Landmark(field="object_rel_ee", label="the cube", sign=1),) if has_object else ()
        ),
    )


def _goal(has_object: bool) -> Goal:
    # goals are drawn 0.1-0.4 m from the start: 0.2 m is a typical initial distance
    if has_object:
        error = GoalError(
            field="object_rel_goal",
            sign=-1,
            subject="the cube",
            origin="object_pos",
            tolerance="goal_tolerance",
            scale=0.2,
        )
    else:
        error = GoalError(field="goal_rel", tolerance="goal_tolerance", scale=0.2)
    return Goal(errors=(error,))


def _hazards(has_object: bool) -> tuple[Hazard, ...]:
    hazards = [
        Hazard(
            reason="out_of_bounds",
            fields=("ee_pos",),
            description="End effector near the workspace box.",
        )
    ]
    if has_object:
        hazards.append(
            Hazard(
                reason="dropped_object",
                fields=("object_pos", "object_vel"),
                description="Cube near a table edge or moving fast.",
            )
        )
    return tuple(hazards)


def _achiever(has_object: bool) -> str:
    return "cube's centre" if has_object else "end effector"


def _state_fields(has_object: bool, uses_gripper: bool) -> tuple[StateField, ...]:
    fields = [
        _f(
            "ee_pos",
            (3,),
            "m",
            "world",
            "End-effector position: the point between the fingertips.",
        ),
        _f("ee_vel", (3,), "m/s", "world", "End-effector linear velocity."),
        _f(
            "ee_quat",
            (4,),
            "1",
            "world",
            "End-effector orientation quaternion (x, y, z, w); "
            "(1, 0, 0, 0) is gripper pointing straight down.",
        ),
        _f("joint_pos", (7,), "rad", "joint", "Arm joint angles, panda_joint1..7."),
        _f("joint_vel", (7,), "rad/s", "joint", "Arm joint velocities, panda_joint1..7."),
    ]
    if uses_gripper:
        fields.append(
            _f(
                "gripper_width",
                (),
                "m",
                "joint",
                f"Gap between the fingers, 0 (closed) to {panda.MAX_GRIPPER_WIDTH}.",
            )
        )
    fields.append(
        _f(
            "goal_pos",
            (3,),
            "m",
            "world",
            f"Goal position for the {_achiever(has_object)}.",
            "goal",
        )
    )
    if not has_object:
        fields.append(
            _f(
                "goal_rel",
                (3,),
                "m",
                "world",
                "goal_pos - ee_pos: where the goal is as seen from the end effector.",
                "goal",
            )
        )
        return tuple(fields)
    fields += [
        _f(
            "object_pos",
            (3,),
            "m",
            "world",
            f"Centre of the {OBJECT_SIZE} m cube; resting on "
            f"the table it is at z = {OBJECT_SIZE / 2}.",
            "object",
        ),
        _f(
            "object_quat", (4,), "1", "world", "Cube orientation quaternion (x, y, z, w).", "object"
        ),
        _f("object_vel", (3,), "m/s", "world", "Cube linear velocity.", "object"),
        _f("object_angvel", (3,), "rad/s", "world", "Cube angular velocity.", "object"),
        _f(
            "object_rel_ee",
            (3,),
            "m",
            "world",
            "object_pos - ee_pos: where the cube is as seen from the end effector.",
            "object",
        ),
        _f(
            "object_rel_goal",
            (3,),
            "m",
            "world",
            "object_pos - goal_pos: the cube's offset "
            "from the goal; its norm is the distance that decides success.",
            "goal",
        ),
    ]
    return tuple(fields)


def _action_spec(mode: str, uses_gripper: bool) -> ActionSpec:
    grip = (
        f"gripper: target finger gap = measured gap +-{GRIPPER_STEP:g} m (+ opens, - closes; "
        "hold -1 to keep squeezing a grasped cube)",
    )
    if mode == "ee_delta":
        comps = tuple(
            f"d{a}: end-effector displacement along world {a}, +-{EE_STEP} m per step"
            for a in "xyz"
        )
        text = (
            "Cartesian end-effector displacement, tracked by inverse kinematics with the "
            "gripper pointing down; targets below the table top are raised to it."
        )
    else:
        comps = tuple(
            f"dq{j}: change of panda_joint{j} angle, +-{JOINT_STEP} rad per step"
            for j in range(1, 8)
        )
        text = (
            "Joint position deltas sent to the joint position controllers (the interface "
            "ros2_control's position controllers accept)."
        )
    if uses_gripper:
        comps += grip
    else:
        text += " The fingers are held closed."
    n = len(comps)
    return ActionSpec(
        mode=mode,
        modes=ACTION_MODES,
        shape=(n,),
        low=(-1.0,) * n,
        high=(1.0,) * n,
        components=comps,
        description=text,
    )


def _termination_reasons(has_object: bool) -> tuple[TerminationReason, ...]:
    reasons = [
        TerminationReason(
            name="success",
            success=True,
            description=f"The {_achiever(has_object)} is within {GOAL_TOLERANCE} m of the goal.",
        ),
        TerminationReason(
            name="out_of_bounds",
            description=f"The end effector left the workspace box {WORKSPACE_LOW}.."
            f"{WORKSPACE_HIGH} m (world frame).",
        ),
    ]
    if has_object:
        reasons.append(
            TerminationReason(
                name="dropped_object",
                description=f"The cube fell off the table (its centre went below z = {DROP_Z} m).",
            )
        )
    reasons.append(
        TerminationReason(
            name="timeout",
            kind="truncated",
            description=f"{MAX_EPISODE_STEPS} steps ({MAX_EPISODE_STEPS / CONTROL_HZ:g} s) passed.",
        )
    )
    return tuple(reasons)


def _constants(has_object: bool, uses_gripper: bool) -> dict[str, float]:
    c = {
        "goal_tolerance": GOAL_TOLERANCE,
        "control_dt": 1.0 / CONTROL_HZ,
        "ee_step": EE_STEP,
        "joint_step": JOINT_STEP,
        "table_top_z": 0.0,
        "min_goal_distance": MIN_GOAL_DISTANCE,
    }
    c.update({f"workspace_{a}_min": v for a, v in zip("xyz", WORKSPACE_LOW, strict=True)})
    c.update({f"workspace_{a}_max": v for a, v in zip("xyz", WORKSPACE_HIGH, strict=True)})
    if uses_gripper:
        c["gripper_step"] = GRIPPER_STEP
        c["gripper_max_width"] = panda.MAX_GRIPPER_WIDTH
    if has_object:
        c["object_size"] = OBJECT_SIZE
        c["drop_z"] = DROP_Z
    return c
