"""Reward program for the example plugin task (agentic-rl reward program format)."""


def compute_reward(state, action, prev_state, task):
    err = abs(state["altitude_error"])
    return {
        "altitude": -err,
        "hold": 1.0 if err < task["tolerance"] else 0.0,
        "tilt": -0.2 * state["tilt"],
        "spin": -0.01 * float(np.sum(state["ang_vel"] ** 2)),
    }
