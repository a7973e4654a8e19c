def compute_reward(state, action, prev_state, task):
    """DroneHover reference: reach the goal point, then hold it level and still.

    Every step pays a bounded, positive reward for being near the goal, so staying in the
    air is always worth more than crashing (crash, flip and out-of-bounds end the episode
    early, and hover success is judged at the time limit). A sharper bonus inside the
    success tolerance teaches precision; progress toward the goal speeds up the approach.
    Small penalties on speed near the goal, tilt, body rates and action changes make the
    hold calm, which is what the success criterion (last 2 s within 0.1 m, tilt < 10 deg)
    asks for.
    """
    goal_rel = state["goal_rel"]
    dist = terms.norm(goal_rel)
    near = terms.closeness(dist, 0.5)
    tol = task["pos_tolerance"]
    return {
        "near_goal": near,
        "on_target": terms.tolerance(dist, 0.0, 0.5 * tol, margin=tol),
        "progress": 5.0 * terms.progress(goal_rel, prev_state["goal_rel"]),
        # damp motion where it matters: close to the goal, not on the way there
        "speed": -0.3 * near * terms.velocity_penalty(state["vel"]),
        "tilt": -0.5 * terms.tilt_penalty(state["tilt"]),
        "spin": -0.02 * terms.angular_velocity_penalty(state["ang_vel"]),
        "action_rate": -0.1 * terms.action_rate(action, prev_state["last_action"]),
    }
