# How far past the wall's near face and above its top the crossing waypoint lies, m.
CROSS_AHEAD = 0.35
CROSS_ABOVE = 0.3
# Highest approach height above the pad, m, and how fast it shrinks as the drone centres.
FUNNEL_TOP = 0.6
FUNNEL_SLOPE = 3.0
# Radius of the funnel's bottom as a share of the landing tolerance: straight down within it.
FUNNEL_CORE = 0.3
# Paid over a full rest, step by step, and taken back at once if the drone lifts off.
REST_PAY = 100.0
# Paid at touchdown, the more the nearer the pad's centre (closeness at CENTRE_SCALE, m), and
# taken back at once if the drone lifts off.
TOUCHDOWN_PAY = 50.0
CENTRE_SCALE = 0.05
# Paid in the step the rest completes (the success step).
LANDED_BONUS = 100.0
# Cost per metre flown below the funnel once over the wall.
BELOW_FUNNEL = 1.0
# Height above the pad below which sinking faster than 0.25 m/s costs, m: enough to slow
# from the funnel's descent to a soft touchdown, and no more (see compute_reward).
SOFT_ZONE = 0.15


def _funnel(pad, task):
    """The funnel's height above the pad at the drone's horizontal distance from its centre:
    it keeps the drone high until it is above the pad and brings it down onto it. Its
    bottom is FUNNEL_CORE of the landing tolerance wide: a funnel that closed to a point
    asked for a centring far finer than success does (1 cm off the centre its target was
    still 3 cm up: a policy hovered 1.3 cm over the pad, 1.4 cm off centre, to the time
    limit), and one half the tolerance wide set it down near the tolerance's edge (37 of
    100 missed pads)."""
    horizontal = math.hypot(pad[0], pad[1])
    core = FUNNEL_CORE * task["landing_tolerance"]
    return min(FUNNEL_TOP, FUNNEL_SLOPE * max(0.0, horizontal - core))


def _centred(state):
    """Closeness (1 at the centre, 0.14 at the landing tolerance) of the drone's horizontal
    position to the pad's centre."""
    pad = state["pad_rel"]
    return terms.closeness(math.hypot(float(pad[0]), float(pad[1])), CENTRE_SCALE)


def _target(state, task):
    """Vector from the drone to its current target, and which stage it belongs to.

    Stage 0 (before crossing): a waypoint just past the wall, above its top. Stage 1: the
    funnel's point above the pad centre.
    """
    if float(state["crossed"]) < 0.5:
        wall = state["wall_rel"]
        ahead = task["wall_thickness"] + CROSS_AHEAD
        return (wall[0] + ahead, wall[1], wall[2] + CROSS_ABOVE), 0
    pad = state["pad_rel"]
    return (pad[0], pad[1], pad[2] + float(_funnel(pad, task))), 1


def compute_reward(state, action, prev_state, task):
    """DroneWallLanding reference: climb over the wall, then land softly on the pad and stay.

    Progress toward a staged target drives the flight (a waypoint over the wall, then a
    funnel down onto the pad), with a bonus for crossing and a bounded closeness to the
    funnel's target once over the wall (progress alone pays nothing for standing still).
    Flying below the funnel costs its depth: the funnel's target comes down as the drone
    closes in, so without it skimming low towards the pad paid as much progress as coming
    down from above and touched the pad at its rim (a missed pad). Sinking faster than
    0.25 m/s in the last SOFT_ZONE above the pad costs, since touching down faster than
    0.4 m/s is a hard landing; over the 0.4 m it used to cover, the cost of the exploration
    noise alone held policies hovering at the zone's edge, centring slowly, for most of
    their training.

    The rest is paid as progress (REST_PAY over the rest_seconds success needs) and taken
    back whole when the drone lifts off, plus LANDED_BONUS in the step the rest completes.
    Success ends the episode, so a flat per-step resting bonus paid more for resting almost
    long enough and hopping (the counter restarts, the pay goes on until the time limit)
    than for finishing: the policy learned exactly that (timeouts after 40-odd of the 48
    rest steps). Here hopping forfeits what the rest earned, and finishing is worth more than
    hovering near the pad until the time limit (closeness <= 1 per step, ~100 discounted).

    Touching down pays up to TOUCHDOWN_PAY, the more the nearer the pad's centre (closeness
    at CENTRE_SCALE: 50 at the centre, 12 at 7 cm, 7 at the 10 cm tolerance), taken back
    like the rest if the drone lifts off. Success or a missed pad was the only word on where
    the drone touched down, and the funnel's pull is weak in the last centimetres: policies
    carried their speed from the wall over the centre and settled beyond it (seed 1 at 1M:
    7 cm past the centre on average, 23 of 100 held-out episodes missed the pad).
    """
    target, stage = _target(state, task)
    prev_target, prev_stage = _target(prev_state, task)
    progress = terms.progress(target, prev_target) if stage == prev_stage else 0.0
    crossed = float(state["crossed"])
    height = -float(state["pad_rel"][2])  # drone centre above the pad surface
    funnel = float(_funnel(state["pad_rel"], task))
    sink_rate = -float(state["vel"][2])
    rest, prev_rest = float(state["rest_time"]), float(prev_state["rest_time"])
    landed = rest >= task["rest_seconds"] > prev_rest
    on_ground = 1.0 if rest > 0.0 else 0.0
    was_on_ground = 1.0 if prev_rest > 0.0 else 0.0
    return {
        "progress": 10.0 * progress,
        "near_target": crossed * terms.closeness(math.hypot(*target), 0.3),
        "below_funnel": -BELOW_FUNNEL * crossed * max(0.0, funnel - height),
        "crossed": 5.0 * float(state["crossed"] - prev_state["crossed"]),
        "resting": REST_PAY * (rest - prev_rest) / task["rest_seconds"],
        "landed": LANDED_BONUS if landed else 0.0,
        "touchdown": TOUCHDOWN_PAY
        * (on_ground * float(_centred(state)) - was_on_ground * float(_centred(prev_state))),
        "soft_landing": -5.0
        * crossed
        * terms.landing_softness(sink_rate, height, safe_speed=0.25, zone=SOFT_ZONE),
        "tilt": -0.2 * terms.tilt_penalty(state["tilt"]),
        "spin": -0.01 * terms.angular_velocity_penalty(state["ang_vel"]),
        "action_rate": -0.05 * terms.action_rate(action, prev_state["last_action"]),
    }
