# How far past the wall's near face and above its top the crossing waypoint lies, m.
CROSS_AHEAD = 0.35
CROSS_ABOVE = 0.3
# Highest approach height above the pad, m, and how fast it shrinks as the drone centres.
FUNNEL_TOP = 0.6
FUNNEL_SLOPE = 3.0


def _target(state, task):
    """Vector from the drone to its current target, and which stage it belongs to.

    Stage 0 (before crossing): a waypoint just past the wall, above its top. Stage 1: a
    point above the pad whose height shrinks as the drone centres over the pad, a funnel
    that keeps it high until it is above the pad and then brings it straight down.
    """
    if float(state["crossed"]) < 0.5:
        wall = state["wall_rel"]
        ahead = task["wall_thickness"] + CROSS_AHEAD
        return (wall[0] + ahead, wall[1], wall[2] + CROSS_ABOVE), 0
    pad = state["pad_rel"]
    horizontal = math.hypot(pad[0], pad[1])
    height = min(FUNNEL_TOP, FUNNEL_SLOPE * horizontal)
    return (pad[0], pad[1], pad[2] + height), 1


def compute_reward(state, action, prev_state, task):
    """DroneWallLanding reference: climb over the wall, then land softly on the pad.

    Progress toward a staged target drives the flight (a waypoint over the wall, then a
    funnel down onto the pad), with a bonus for crossing, a bonus while resting on the pad
    (success needs 1 s of rest), and a penalty on descending faster than 0.25 m/s near
    the pad surface, since touching down faster than 0.4 m/s is a hard landing. Once over
    the wall, a bounded closeness to the funnel's target pays every step: progress alone pays
    nothing for standing still, so a policy that stopped short of the pad (hovering ~0.4 m
    off it until the time limit) lost nothing by staying there. Resting pays 5 per step:
    success ends the episode after 1 s (25 steps) of rest, and those steps must outweigh
    what hovering near the pad would collect instead (~0.85 per step, ~85 discounted).
    """
    target, stage = _target(state, task)
    prev_target, prev_stage = _target(prev_state, task)
    progress = terms.progress(target, prev_target) if stage == prev_stage else 0.0
    height = -float(state["pad_rel"][2])  # drone centre above the pad surface
    sink_rate = -float(state["vel"][2])
    resting = 1.0 if float(state["rest_time"]) > 0.0 else 0.0
    return {
        "progress": 10.0 * progress,
        "near_target": float(state["crossed"]) * terms.closeness(math.hypot(*target), 0.3),
        "crossed": 5.0 * float(state["crossed"] - prev_state["crossed"]),
        "resting": 5.0 * resting,
        "soft_landing": -5.0
        * float(state["crossed"])
        * terms.landing_softness(sink_rate, height, safe_speed=0.25, zone=0.4),
        "tilt": -0.2 * terms.tilt_penalty(state["tilt"]),
        "spin": -0.01 * terms.angular_velocity_penalty(state["ang_vel"]),
        "action_rate": -0.05 * terms.action_rate(action, prev_state["last_action"]),
    }
