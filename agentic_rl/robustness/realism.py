"""Latency and noise realism: how the simulator's delay, noise and lag parameters correspond
to what a policy meets on a robot through the ROS 2 runtime (``ros_bridge``).

The drone tasks model four effects (``sims/drone/base.py``); each has a counterpart on the
deployed stack, and the simulator resolves it on a grid that matters when reading a sweep:

* ``obs_delay``: the age of the state the policy acts on. On the robot, the node ticks on a
  timer at ``control_hz`` and uses the latest odometry sample, whose age is the estimator's
  and transport's latency (mocap -> crazyflie_server -> /odom, PX4 uXRCE-DDS) plus up to one
  tick of waiting. The simulator keeps a history of control-step states, so the delay is
  **rounded to whole control steps** (1/48 s = 20.8 ms): values below 10.4 ms act as none.
* ``action_delay``: dead time between the node publishing a command and the flight controller
  using it (DDS, the Crazyradio link, setpoint handling). Queued per physics tick, so it is
  resolved to **4.17 ms** (1/240 s).
* ``sensor_noise``: white Gaussian noise on the observation (not on the state rewards see):
  at 1.0, 5 mm position, 0.02 m/s velocity, 0.05 rad/s gyro, 0.01 rad tilt and 0.005 on
  quaternion components, the spread of an onboard estimate. Real estimates also drift and
  are correlated in time; white noise is the optimistic case.
* ``motor_lag``: the first-order time constant of the rotors (brushed Crazyflie motors:
  about 30 ms), exact per physics tick.

The runtime's action filter (clip, then a slew-rate limit of 20 normalized units per second,
0.42 per 48 Hz tick) is not part of the simulator; the transfer check's ``ros_filter``
configuration puts it in the loop.
"""

from __future__ import annotations

from dataclasses import dataclass

from sims.spec import TaskSpec


@dataclass(frozen=True)
class Realism:
    """How one simulator parameter maps to the deployed robot."""

    param: str
    simulated_as: str
    on_the_robot: str
    resolution: str


DRONE_REALISM: tuple[Realism, ...] = (
    Realism(
        "obs_delay",
        "the policy sees the state of k control steps ago, k = round(delay x control_hz)",
        "odometry age at the node's tick: estimator + transport latency + up to one tick",
        "one control step (1/control_hz)",
    ),
    Realism(
        "action_delay",
        "commands reach the flight controller after round(delay x physics_hz) ticks",
        "publish -> DDS / radio link -> firmware setpoint handling",
        "one physics tick (1/physics_hz)",
    ),
    Realism(
        "sensor_noise",
        "white Gaussian noise on the observation, per field unit",
        "onboard state-estimate noise in /odom (pose and twist)",
        "continuous",
    ),
    Realism(
        "motor_lag",
        "first-order rotor-speed lag with this time constant",
        "motor + ESC response (brushed Crazyflie motors ~30 ms)",
        "exact per physics tick",
    ),
)


def quantized(spec: TaskSpec, name: str, value: float) -> float:
    """The value the simulator actually applies for a delay parameter (others unchanged).

    ``obs_delay`` is rounded to control steps and ``action_delay`` to physics ticks, as the
    drone tasks do; a sweep's breaking point is only meaningful up to that grid.
    """
    if name == "obs_delay":
        return round(value * spec.control_hz) / spec.control_hz
    if name == "action_delay":
        return round(value * spec.physics_hz) / spec.physics_hz
    return value


def realism_table(spec: TaskSpec) -> list[dict[str, str]]:
    """The correspondence rows for the parameters this task has (empty for other robots)."""
    names = {p.name for p in spec.randomization}
    if spec.robot != "crazyflie2x":
        return []
    return [
        {
            "param": r.param,
            "simulated_as": r.simulated_as,
            "on_the_robot": r.on_the_robot,
            "resolution": r.resolution,
        }
        for r in DRONE_REALISM
        if r.param in names
    ]
