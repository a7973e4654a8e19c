def compute_reward(state, action, prev_state, task):
    """DroneOrbit reference: circle the centre at the commanded radius, speed and altitude,
    nose pointing at the centre.

    Success is judged over the last 5 s from the mean radius, speed and heading errors, so
    each error gets its own bounded, positive closeness term, plus an altitude term and the
    usual calm-flight penalties. Speed and heading carry full weight with scales near their
    start errors (the drone starts at rest, 0.4-0.9 m/s below the commanded speed, and at a
    random yaw): with half and a third of the weight and tighter scales, holding the radius
    at rest paid almost as well as orbiting, and policies never picked up speed.
    """
    return {
        "radius": terms.closeness(abs(float(state["radius_error"])), 0.2),
        "speed": terms.closeness(abs(float(state["speed_error"])), 0.5),
        "heading": terms.closeness(abs(float(state["heading_error"])), 0.7),
        "altitude": 0.3 * terms.closeness(abs(float(state["center_rel"][2])), 0.2),
        "tilt": -0.2 * terms.tilt_penalty(state["tilt"]),
        "spin": -0.01 * terms.angular_velocity_penalty(state["ang_vel"]),
        "action_rate": -0.05 * terms.action_rate(action, prev_state["last_action"]),
    }
