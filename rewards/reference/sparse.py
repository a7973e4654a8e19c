def compute_reward(state, action, prev_state, task):
    """Sparse floor: 1.0 on steps where the state meets the task's success condition, else 0.

    No shaping at all: the floor every designed reward must beat. One program serves every
    built-in task by looking at which state fields and constants the task declares (optional
    fields are read with ``state.get(name, None)``). Success is judged from the state alone,
    so conditions that need history (hover held for 2 s, tracking RMSE over the episode) are
    checked per step.
    """
    ok = False
    object_rel_goal = state.get("object_rel_goal", None)
    goal_rel = state.get("goal_rel", None)
    if object_rel_goal is not None:  # arm push and pick-and-place: cube at the goal
        ok = terms.norm(object_rel_goal) <= task.get("goal_tolerance", 0.05)
    elif state.get("gates_passed", None) is not None:  # gates: every gate crossed
        ok = state.get("gates_passed", 0.0) >= task.get("n_gates", 1.0)
    elif state.get("rest_time", None) is not None:  # wall landing: resting on the pad
        ok = state.get("rest_time", 0.0) > 0.0
    elif state.get("radius_error", None) is not None:  # orbit: all three errors in tolerance
        ok = (
            abs(state.get("radius_error", 1.0)) <= task.get("radius_tolerance", 0.1)
            and abs(state.get("speed_error", 1.0)) <= task.get("speed_tolerance", 0.15)
            and abs(state.get("heading_error", 1.0)) <= task.get("heading_tolerance", 0.26)
        )
    elif state.get("ref_rel", None) is not None:  # trajectory: on the reference point
        ok = terms.norm(state.get("ref_rel", None)) <= task.get("rmse_tolerance", 0.15)
    elif goal_rel is not None:  # hover, obstacles, reach: at the goal (level, for drones)
        tol = task.get("pos_tolerance", task.get("goal_tolerance", 0.1))
        level = state.get("tilt", 0.0) <= task.get("tilt_tolerance", math.pi)
        ok = terms.norm(goal_rel) <= tol and level
    return {"success": 1.0 if ok else 0.0}
