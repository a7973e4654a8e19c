# Height above the resting position at which the cube counts as fully lifted, m.
LIFT_HEIGHT = 0.05
# Distance of the grasp point from the cube's centre at which closing pays 1/e of a grasp, m:
# closing pays more than staying open within ~1.8 cm (terms.grasp); a held cube sits
# 0.3-2 cm from the grasp point, shifting in the fingers as the arm moves.
GRASP_RANGE = 0.015
# Height above the cube's centre at which the fingers travel until they are over it, m.
APPROACH_HEIGHT = 0.05


def _reach(to_cube):
    """How far the grasp point still is from the cube along a funnel: over it, then down.

    The target height above the cube's centre falls with the distance on the table plane
    (twice it, at most APPROACH_HEIGHT) and reaches the centre once the fingers are right
    over the cube: the open fingers straddle it only from above; coming in low beside it,
    a finger lands on the cube's side and blocks the way.
    """
    flat = math.hypot(float(to_cube[0]), float(to_cube[1]))
    above = -float(to_cube[2])
    want = min(APPROACH_HEIGHT, 2.0 * flat)
    return math.hypot(flat, above - want)


def _phases(state, task):
    """Progress measures of the four phases: reach, grasp, lift and carry."""
    to_cube = state["object_rel_ee"]
    reach = -_reach(to_cube)
    # fingers closed on the cube: the opening cannot shrink below the cube's width
    held = terms.grasp(
        to_cube,
        state["gripper_width"],
        reach_scale=GRASP_RANGE,
        closed_width=task["object_size"] + 0.005,
        open_width=task["gripper_max_width"],
    )
    rest = task["table_top_z"] + 0.5 * task["object_size"]
    lifted = terms.lift(state["object_pos"][2], rest, rest + LIFT_HEIGHT)
    carry = -terms.norm(state["object_rel_goal"])
    return reach, held, lifted, carry


def compute_reward(state, action, prev_state, task):
    """ArmPickPlace reference: grasp the cube, lift it and bring it to the goal.

    Each phase has a potential (closeness to the cube, grasp quality, lift fraction, and
    closeness of the cube to the goal); the reward is each potential's change this step,
    so the terms telescope and no phase can be farmed by hovering in it. A one-time bonus
    pays the success step (it ends the episode).
    """
    reach, held, lifted, carry = _phases(state, task)
    p_reach, p_held, p_lifted, p_carry = _phases(prev_state, task)
    return {
        "reach": 20.0 * (reach - p_reach),
        "grasp": 6.0 * (held - p_held),
        "lift": 8.0 * (lifted - p_lifted),
        "carry": 20.0 * (carry - p_carry),
        "placed": 10.0 * terms.success_bonus(-carry, task["goal_tolerance"]),
        "effort": -0.01 * terms.action_magnitude(action[:3]),
    }
