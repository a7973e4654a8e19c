# Clearance (m) from which the pillar terms start to warn: at full speed (1.5 m/s) the drone
# needs ~0.5 s and ~0.8 m of forward flight to move 0.26 m sideways (measured in the env).
WARN = 0.4
# Scale (m) of the weight on the closing speed toward the nearest pillar.
APPROACH_SCALE = 0.3


# Weight and scale (m) of the closeness-to-goal potential (see compute_reward).
HOMING = 10.0
HOMING_SCALE = 0.5


def _homing(dist):
    """Closeness to the goal: 1 at it, 0.37 at HOMING_SCALE."""
    return terms.closeness(dist, HOMING_SCALE)


def _safe(clearance):
    """1 at a clearance of WARN or more, 0.56 at 0.25 m, 0.1 at 0.1 m, ~0.02 at contact."""
    return terms.tolerance(clearance, WARN, 100.0, margin=0.3)


def compute_reward(state, action, prev_state, task):
    """DroneObstacles reference: reach the goal through the pillar field without contact.

    Progress toward the goal drives the flight and a bonus pays reaching it (success ends the
    episode). Progress toward the goal's height pays again, so the drone levels off at it
    early: with 3-D progress alone a height error counts little until the goal is near, and
    policies flew past goals they missed by ~0.2 m in height at 1.5-2 m/s. Closeness to the
    goal (HOMING_SCALE) is paid as a potential, HOMING at the goal and taken back on leaving
    it, so the last half metre pays about twice the progress alone: policies that went round
    the pillar field came back toward the goal from the side and ended 0.3-1 m from it, some
    slowing to a stop there (seed 0 at 1M: 9 timeouts and 2 fly-pasts in 100 held-out
    episodes); as a potential it pays nothing for lingering near the goal.

    Near a pillar two terms keep the drone off it. Clearance is shaped as a potential: closing
    to within WARN of the nearest pillar costs up to 5, paid back on moving away, so a drone
    near a pillar gains nothing by ending the episode against it (a per-step penalty for being
    near, the earlier form, made contact the cheapest way out: one seed's policies ground
    along pillars and hit them in ~60% of episodes at 0.4M steps). The other charges the
    speed at which the drone closes in on the nearest pillar, weighted by how near it is
    (``closeness`` at APPROACH_SCALE), so the policy learns to sidestep early instead of
    braking at the last moment.

    Both warn from ~0.4 m out, about the distance a sidestep takes at full speed. At 0.15 m
    (the earlier scale of both) the warning came after a crash could still be avoided, so
    flying fast and straight through the field cost little more than it earned in progress
    before the crash, and on some seeds PPO settled there within ~50k steps and never left
    (seed 0 at 1M: 14% held-out, 52 collisions). With the earlier warning collisions ended at most
    11% of training episodes from ~150k steps on, seeds 0-3 (300k-step runs; 1-4% at 300k).

    Touching a pillar and leaving the flight box end the episode, and each costs a one-off
    penalty: without one, ending the episode was the cheapest way out of a bad spot (a drone
    pinned near a pillar pays up to 1 per step in clearance penalty, one that overshot the
    goal loses progress every step it flies back), and PPO learned to fly into the first
    pillar or off past the goal (seed 1 at 1M steps: 55 collisions and 27 out of bounds in
    100 held-out episodes, 13% success). The rows of this reward: benchmarks/RESULTS.md.
    """
    goal_rel = state["goal_rel"]
    dist = terms.norm(goal_rel)
    clearance = float(state["clearance"])
    # closing speed toward the nearest pillar's axis (m/s, positive when approaching)
    nearest = state["obstacle_rel"][0]
    dx = float(nearest[0])
    dy = float(nearest[1])
    vx = float(state["vel"][0])
    vy = float(state["vel"][1])
    closing = (vx * dx + vy * dy) / max(math.hypot(dx, dy), 1e-6)
    pos = state["pos"]
    x = float(pos[0])
    y = float(pos[1])
    z = float(pos[2])
    inside = (
        task["x_min"] < x < task["x_max"]
        and task["y_min"] < y < task["y_max"]
        and z < task["z_max"]
    )
    return {
        "progress": 10.0 * terms.progress(goal_rel, prev_state["goal_rel"]),
        "height": 10.0 * terms.progress(goal_rel[2], prev_state["goal_rel"][2]),
        "goal": 10.0 * terms.success_bonus(dist, task["goal_tolerance"]),
        "homing": HOMING
        * (float(_homing(dist)) - float(_homing(terms.norm(prev_state["goal_rel"])))),
        "clearance": 5.0 * (_safe(clearance) - _safe(float(prev_state["clearance"]))),
        "approach": -1.0 * terms.closeness(max(clearance, 0.0), APPROACH_SCALE) * max(closing, 0.0),
        # PyBullet reports contact from ~4 mm clearance (its contact margin)
        "collision": -10.0 * (1.0 if clearance < 0.005 else 0.0),
        "out_of_bounds": -10.0 * (0.0 if inside else 1.0),
        "tilt": -0.2 * terms.tilt_penalty(state["tilt"]),
        "spin": -0.01 * terms.angular_velocity_penalty(state["ang_vel"]),
        "action_rate": -0.05 * terms.action_rate(action, prev_state["last_action"]),
    }
