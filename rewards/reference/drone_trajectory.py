def compute_reward(state, action, prev_state, task):
    """DroneTrajectory reference: follow the moving reference point around the laps.

    The episode runs to the time limit unless the drone loses the track, so every step pays
    a bounded, positive tracking reward (staying on track is worth more than failing), a
    sharper bonus inside the RMSE tolerance, and a penalty on the velocity error to the
    reference (feed-forward); flying toward the point half a second ahead anticipates the
    curve.
    """
    error = terms.norm(state["ref_rel"])
    tol = task["rmse_tolerance"]
    return {
        "tracking": terms.closeness(error, 0.2),
        "on_track": 0.5 * terms.tolerance(error, 0.0, 0.5 * tol, margin=tol),
        "velocity": -0.2 * terms.velocity_penalty(state["vel"], state["ref_vel"]),
        "lookahead": 0.1 * terms.alignment(state["vel"], state["ref_ahead_rel"]),
        "tilt": -0.2 * terms.tilt_penalty(state["tilt"]),
        "spin": -0.01 * terms.angular_velocity_penalty(state["ang_vel"]),
        "action_rate": -0.05 * terms.action_rate(action, prev_state["last_action"]),
    }
