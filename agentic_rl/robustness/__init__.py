"""Sim-to-real robustness: how fragile a policy is, before it flies.

>>> from agentic_rl.robustness import build_report, load_policy_source, write_report
>>> policy = load_policy_source("runs/DroneHover-v0/<run>/best")
>>> write_report(build_report(policy), "runs/DroneHover-v0/<run>/best/robustness")

* :mod:`.sweep`: per-parameter bisection for the range over which the policy keeps its
  success, then joint randomization at those ranges;
* :mod:`.transfer`: the policy in physics configurations it was not trained in (motor
  constants, mass, drag, ground effect, the ROS action filter) and the gap to nominal;
* :mod:`.ranges`: the rule-based widening behind ``refine --randomize auto``;
* :mod:`.auto`: :func:`auto_randomization`, what the refinement loop calls per iteration;
* :mod:`.realism`: how simulated latency, noise and motor lag correspond to the robot;
* :mod:`.report`: ``robustness.json``, plots and an HTML fragment for the run report.
"""

from agentic_rl.robustness.auto import auto_randomization, outcomes_from_history
from agentic_rl.robustness.ranges import (
    RangeOutcome,
    bounds_for,
    clamp_to_bounds,
    propose_ranges,
    propose_with_reasons,
)
from agentic_rl.robustness.realism import quantized, realism_table
from agentic_rl.robustness.report import (
    REPORT_DIR,
    RobustnessReport,
    build_report,
    html_fragment,
    load_report,
    summary,
    sweep_table_text,
    write_report,
)
from agentic_rl.robustness.rollout import (
    EpisodeRunner,
    PolicyUnderTest,
    RobustnessError,
    joint_sampler,
    load_policy_source,
)
from agentic_rl.robustness.sweep import SweepResult, SweepSettings, sweep
from agentic_rl.robustness.transfer import (
    DRONE_CONFIGS,
    PhysicsConfig,
    TransferResult,
    default_configs,
    transfer_check,
)

__all__ = [
    "DRONE_CONFIGS",
    "REPORT_DIR",
    "EpisodeRunner",
    "PhysicsConfig",
    "PolicyUnderTest",
    "RangeOutcome",
    "RobustnessError",
    "RobustnessReport",
    "SweepResult",
    "SweepSettings",
    "TransferResult",
    "auto_randomization",
    "bounds_for",
    "build_report",
    "clamp_to_bounds",
    "default_configs",
    "html_fragment",
    "joint_sampler",
    "load_policy_source",
    "load_report",
    "outcomes_from_history",
    "propose_ranges",
    "propose_with_reasons",
    "quantized",
    "realism_table",
    "summary",
    "sweep",
    "sweep_table_text",
    "transfer_check",
    "write_report",
]
