def compute_reward(state, action, prev_state, task):
    """DroneObstacles reference: reach the goal through the pillar field without contact.

    Progress toward the goal drives the flight, a bonus pays reaching it (success ends the
    episode), and a penalty grows as the clearance to the nearest pillar falls below
    0.15 m, so the policy keeps a margin instead of grazing pillars (contact ends the
    episode).
    """
    goal_rel = state["goal_rel"]
    dist = terms.norm(goal_rel)
    clearance = float(state["clearance"])
    return {
        "progress": 10.0 * terms.progress(goal_rel, prev_state["goal_rel"]),
        "goal": 10.0 * terms.success_bonus(dist, task["goal_tolerance"]),
        "clearance": -1.0 * (1.0 - terms.tolerance(clearance, 0.15, 100.0, margin=0.1)),
        "tilt": -0.2 * terms.tilt_penalty(state["tilt"]),
        "spin": -0.01 * terms.angular_velocity_penalty(state["ang_vel"]),
        "action_rate": -0.05 * terms.action_rate(action, prev_state["last_action"]),
    }
