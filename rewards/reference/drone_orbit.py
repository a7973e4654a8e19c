def compute_reward(state, action, prev_state, task):
    """DroneOrbit reference: circle the centre at the commanded radius, speed and altitude,
    nose pointing at the centre.

    Success is judged over the last 5 s from the mean radius, speed and heading errors, so
    each error gets its own bounded, positive closeness term (weights in order of
    difficulty), plus an altitude term and the usual calm-flight penalties.
    """
    return {
        "radius": terms.closeness(abs(float(state["radius_error"])), 0.2),
        "speed": 0.5 * terms.closeness(abs(float(state["speed_error"])), 0.3),
        "heading": 0.3 * terms.closeness(abs(float(state["heading_error"])), 0.5),
        "altitude": 0.3 * terms.closeness(abs(float(state["center_rel"][2])), 0.2),
        "tilt": -0.2 * terms.tilt_penalty(state["tilt"]),
        "spin": -0.01 * terms.angular_velocity_penalty(state["ang_vel"]),
        "action_rate": -0.05 * terms.action_rate(action, prev_state["last_action"]),
    }
