"""PPO for continuous control on CPU: correct, fast, resumable.

>>> from agentic_rl.ppo import make_config, train
>>> result = train(make_config(task_id="DroneHover"), "DroneHover", reward="reference")
>>> result.success_rate

See :mod:`agentic_rl.ppo.trainer` for the algorithm and its implementation details,
:mod:`agentic_rl.ppo.fused` for the hand-derived update and :mod:`agentic_rl.ppo.run` for
the run folder around it.
"""

from agentic_rl.ppo.checkpoint import CheckpointError, load_checkpoint
from agentic_rl.ppo.config import DEFAULT_BUDGETS, PRESETS, PPOConfig, make_config, preset_for
from agentic_rl.ppo.evaluate import EvalResult, evaluate, load_policy, record_video
from agentic_rl.ppo.networks import ActorCritic, Policy
from agentic_rl.ppo.run import TrainResult, train
from agentic_rl.ppo.trainer import PPO, policy_from_checkpoint

__all__ = [
    "DEFAULT_BUDGETS",
    "PPO",
    "PRESETS",
    "ActorCritic",
    "CheckpointError",
    "EvalResult",
    "PPOConfig",
    "Policy",
    "TrainResult",
    "evaluate",
    "load_checkpoint",
    "load_policy",
    "make_config",
    "policy_from_checkpoint",
    "preset_for",
    "record_video",
    "train",
]
