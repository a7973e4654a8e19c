# The push point: this far behind the cube's centre, on the side away from the goal, m. It is
# also the radius of the circle the way there keeps out of: half the cube's diagonal (0.028)
# plus the closed fingers' reach; driven round a 0.05 m circle the fingers dragged the cube
# along, round 0.06 m they cleared it. Pushing, the fingertips sit ~0.04 m behind the centre.
STANDOFF = 0.065
# Pay per radian of the fingertips' bearing from the cube toward the push line (the side away
# from the goal). In contact it steers: the cube goes where the fingertips push it, so 1 cm
# off the line behind the cube (~0.25 rad) costs more than 1 cm of the cube's progress pays
# (2 vs 20 per m). Without it, policies pushed the cube 5-10 cm past the goal's side and lost
# it (17 of 23 failures of a 3M seed-0 policy); at 5 per radian, PPO learned slower.
AIM_WEIGHT = 2.0


def _approach(state, task):
    """How far the fingertips still are from the push point: (on the table plane, in height,
    and in bearing round the cube, rad).

    On the table plane it is the shortest way that keeps out of the circle of radius
    STANDOFF round the cube (the push point lies on it): straight where the push point is in
    sight, else along a tangent and then the circle. From the goal side a straight line runs
    through the cube and would push it away from the goal. Inside the circle (in contact)
    it is the way out to the circle and round it. In height, the offset from the cube's
    mid-height. The bearing is the angle at the cube between the fingertips and the push
    point.
    """
    rel = state["object_rel_goal"]
    bx = float(rel[0])
    by = float(rel[1])
    b = max(math.hypot(bx, by), 1e-6)
    to_cube = state["object_rel_ee"]
    ex = -float(to_cube[0])
    ey = -float(to_cube[1])
    rho = max(math.hypot(ex, ey), 1e-9)
    cos = max(-1.0, min(1.0, (ex * bx + ey * by) / (rho * b)))
    angle = math.acos(cos)
    r = STANDOFF
    if rho < r:
        flat = (r - rho) + r * angle
    elif angle <= math.acos(r / rho):
        flat = math.sqrt(max(rho * rho + r * r - 2.0 * rho * r * cos, 0.0))
    else:
        flat = math.sqrt(rho * rho - r * r) + r * (angle - math.acos(r / rho))
    low = task["table_top_z"] + 0.5 * task["object_size"]
    return flat, abs(float(state["ee_pos"][2]) - low), angle


def compute_reward(state, action, prev_state, task):
    """ArmPush reference: push the cube along the table onto the goal.

    Three telescoping progress terms (each the change of a potential, so holding any pose
    pays nothing and no pose can be farmed): the fingertips to the push point behind the
    cube (opposite the goal, at the cube's mid-height), their bearing round the cube toward
    the push line (which steers the cube while pushing), and the cube toward the goal
    (weighted most, so pushing pays more than positioning). The way to the push point goes
    round the cube on the table plane and down to mid-height; both combine into one
    distance, so going down pays little while the fingertips are far from the push point
    on the table plane (travelling high keeps clear of the cube) and nearly as much as
    going round once they are above it. A one-time bonus pays the success step (it ends
    the episode).
    """
    flat, height, bearing = _approach(state, task)
    prev_flat, prev_height, prev_bearing = _approach(prev_state, task)
    to_go = math.hypot(flat, height)
    prev_to_go = math.hypot(prev_flat, prev_height)
    to_goal = terms.norm(state["object_rel_goal"])
    prev_to_goal = terms.norm(prev_state["object_rel_goal"])
    return {
        "approach": 10.0 * (prev_to_go - to_go),
        "push": 20.0 * (prev_to_goal - to_goal),
        "aim": AIM_WEIGHT * (prev_bearing - bearing),
        "placed": 10.0 * terms.success_bonus(to_goal, task["goal_tolerance"]),
        "effort": -0.01 * terms.action_magnitude(action),
    }
