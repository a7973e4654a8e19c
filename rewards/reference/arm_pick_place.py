# Height above the resting position at which the cube counts as fully lifted, m.
LIFT_HEIGHT = 0.05
# Distance of the grasp point from the cube's centre at which a closed grip pays 1/e of a
# grasp, m; a held cube sits 0.3-2 cm from the grasp point, shifting as the arm moves.
GRASP_RANGE = 0.02
# A finger gap below this has nothing between the fingers, m: a held 4 cm cube reads 2.7-4
# cm as the fingers press into it, fingers shut beside or on top of the cube read ~0.
SHUT_WIDTH = 0.01
# Pay per step of each stage at its best (the four sum to 1), and of the success step. The
# bonus is above what the stages can pay over the rest of an episode (50 steps x 1, less
# with discounting), so ending it by placing the cube beats holding it near the goal.
REACH = 0.2
GRASP = 0.3
LIFT = 0.2
CARRY = 0.3
PLACED = 50.0


def compute_reward(state, action, prev_state, task):
    """ArmPickPlace reference: reach the cube, close on it, lift it, bring it to the goal.

    A staged reward paid every step (as robosuite's): nearness of the grasp point to the
    cube, then a grip with the cube between the fingers, then lift and closeness to the
    goal, both only while gripped. Being further along pays more every step, so a policy
    that has found the cube stays there long enough to discover closing on it (a
    change-of-potential reward paid reaching once and the policies hovered 7 cm away); a
    bonus pays the success step, which ends the episode.
    """
    d = float(terms.norm(state["object_rel_ee"]))
    width, size = float(state["gripper_width"]), task["object_size"]
    closed = (task["gripper_max_width"] - width) / (task["gripper_max_width"] - size)
    closed = 0.0 if closed < 0.0 else (1.0 if closed > 1.0 else closed)
    between = (width - SHUT_WIDTH) / SHUT_WIDTH
    between = 0.0 if between < 0.0 else (1.0 if between > 1.0 else between)
    grasped = closed * between * float(terms.closeness(d, GRASP_RANGE))
    rest = task["table_top_z"] + 0.5 * size
    lifted = float(terms.lift(state["object_pos"][2], rest, rest + LIFT_HEIGHT))
    to_goal = float(terms.norm(state["object_rel_goal"]))
    return {
        "reach": REACH * (1.0 - math.tanh(10.0 * d)),
        "grasp": GRASP * grasped,
        "lift": LIFT * grasped * lifted,
        "carry": CARRY * grasped * (1.0 - math.tanh(10.0 * to_goal)),
        "placed": PLACED * float(terms.success_bonus(to_goal, task["goal_tolerance"])),
        "effort": -0.01 * float(terms.action_magnitude(action[:3])),
    }
