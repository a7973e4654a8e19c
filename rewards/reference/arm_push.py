# Where the fingertips should be before pushing: this far behind the cube's centre, on the
# side away from the goal, m (half the cube plus a margin).
STANDOFF = 0.05


def _distances(state):
    """(fingertips to the push point behind the cube, cube to goal), both in m."""
    cube_from_goal = state["object_rel_goal"]
    to_goal = terms.norm(cube_from_goal)
    behind = state["object_rel_ee"] + cube_from_goal * (STANDOFF / max(to_goal, 1e-6))
    return terms.norm(behind), to_goal


def compute_reward(state, action, prev_state, task):
    """ArmPush reference: push the cube along the table onto the goal.

    Two telescoping progress terms: the fingertips toward a push point behind the cube
    (opposite the goal), and the cube toward the goal (weighted higher, so pushing pays
    more than positioning). A one-time bonus pays the success step (it ends the episode).
    """
    behind, to_goal = _distances(state)
    prev_behind, prev_to_goal = _distances(prev_state)
    return {
        "approach": 5.0 * (prev_behind - behind),
        "push": 20.0 * (prev_to_goal - to_goal),
        "placed": 10.0 * terms.success_bonus(to_goal, task["goal_tolerance"]),
        "effort": -0.01 * terms.action_magnitude(action),
    }
