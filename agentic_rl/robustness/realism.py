"""Latency and noise realism: how the simulator's delay, noise and lag parameters correspond
to what a policy meets on a robot through the ROS 2 runtime (``ros_bridge``).

Each task declares the correspondence per randomized parameter (``RandomParam.realism`` in its
spec); the drone tasks model four effects (``sims/drone/spec.py``), each with a counterpart on
the deployed stack, resolved on a grid that matters when reading a sweep:

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

from sims.spec import TaskSpec


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
    """The correspondence rows of the parameters whose spec declares their realism (empty for
    tasks that declare none)."""
    return [
        {"param": p.name, **p.realism.model_dump()}
        for p in spec.randomization
        if p.realism is not None
    ]
