# Height above the resting position at which the cube counts as fully lifted, m.
LIFT_HEIGHT = 0.05


def _phases(state, task):
    """Progress measures of the four phases: reach, grasp, lift and carry."""
    to_cube = state["object_rel_ee"]
    reach = -terms.norm(to_cube)
    # fingers closed on the cube: the opening cannot shrink below the cube's width
    held = terms.grasp(
        to_cube, state["gripper_width"], reach_scale=0.02, closed_width=task["object_size"] + 0.005
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
        "reach": 5.0 * (reach - p_reach),
        "grasp": 2.0 * (held - p_held),
        "lift": 2.0 * (lifted - p_lifted),
        "carry": 20.0 * (carry - p_carry),
        "placed": 10.0 * terms.success_bonus(-carry, task["goal_tolerance"]),
        "effort": -0.01 * terms.action_magnitude(action[:3]),
    }
