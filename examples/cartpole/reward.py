"""A reward program for the cart-pole example (agentic-rl reward program format)."""


def compute_reward(state, action, prev_state, task):
    cart = abs(state["cart_error"]) / task["cart_tolerance"]
    pole = abs(state["pole_error"]) / task["pole_tolerance"]
    return {
        "alive": 1.0,
        "cart": -0.1 * cart,
        "pole": -0.5 * pole,
        "effort": -0.01 * float(action[0]) ** 2,
    }
