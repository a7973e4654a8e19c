def compute_reward(state, action, prev_state, task):
    """ArmReach reference: move the end effector to the goal.

    Reaching the goal ends the episode, so a per-step bonus for being close would teach
    the arm to hover next to the goal; instead progress (the decrease in distance, which
    telescopes) drives the motion and a one-time bonus pays the success step. Small
    penalties keep the motion smooth.
    """
    goal_rel = state["goal_rel"]
    dist = terms.norm(goal_rel)
    return {
        "progress": 20.0 * terms.progress(goal_rel, prev_state["goal_rel"]),
        "reached": 10.0 * terms.success_bonus(dist, task["goal_tolerance"]),
        "effort": -0.01 * terms.action_magnitude(action),
        "joint_speed": -0.001 * terms.velocity_penalty(state["joint_vel"]),
    }
