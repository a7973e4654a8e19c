"""Warm start (refinement continues the parent's policy): the PPO hook and its exact resume."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from agentic_rl.ppo import CheckpointError, load_checkpoint, make_config, train
from agentic_rl.ppo.trainer import PPO

TASK = "agentic_rl/DroneHover-v0"


def _config(**kw):
    base = dict(
        task_id="DroneHover",
        total_steps=1024,
        num_envs=4,
        num_steps=64,
        update_epochs=1,
        tensorboard=False,
        eval_episodes=0,
        progress=False,
    )
    return make_config(**{**base, **kw})


@pytest.fixture(scope="module")
def parent(tmp_path_factory):
    out = tmp_path_factory.mktemp("parent")
    train(_config(seed=1), TASK, reward="reference", out_dir=out)
    return out / "checkpoint.pt"


def test_warm_start_takes_policy_and_obs_stats_not_optimizer_or_reward_scale(parent):
    state = load_checkpoint(parent)
    trainer = PPO(_config(seed=2), TASK)
    try:
        trainer.warm_start(state)
        for name, tensor in trainer.model.state_dict().items():
            assert torch.equal(tensor, state["model"][name]), name
        assert np.array_equal(trainer.obs_norm.rms.mean, state["obs_norm"]["rms"]["mean"])
        assert trainer.obs_norm.rms.count == state["obs_norm"]["rms"]["count"]
        # new reward: its scale is learned afresh, and the optimizer and schedule start over
        assert trainer.reward_scaler.rms.count < 1.0
        assert state["reward_scaler"]["rms"]["count"] > 100
        assert trainer.optimizer.state_dict()["step"] == 0
        assert not trainer.optimizer.state_dict()["exp_avg"].any()
        assert trainer.global_step == 0 and trainer.update_idx == 0
    finally:
        trainer.close()


def test_warm_start_refuses_other_networks(parent, tmp_path):
    with pytest.raises(CheckpointError, match="other shapes"):
        train(
            _config(hidden_sizes=[16]),
            TASK,
            reward="sparse",
            out_dir=tmp_path,
            init_from=parent,
        )


def test_warm_started_run_resumes_exactly(parent, tmp_path):
    whole = train(_config(seed=5), TASK, reward="sparse", out_dir=tmp_path / "a", init_from=parent)

    def stop_after_two(trainer, row):
        return trainer.update_idx < 2

    first = train(
        _config(seed=5),
        TASK,
        reward="sparse",
        out_dir=tmp_path / "b",
        init_from=parent,
        callback=stop_after_two,
    )
    assert first.interrupted and first.steps == 512
    resumed = train(
        _config(seed=5),
        TASK,
        reward="sparse",
        out_dir=tmp_path / "b",
        init_from=parent,
        resume=True,
    )
    a, b = load_checkpoint(whole.checkpoint), load_checkpoint(resumed.checkpoint)
    assert resumed.steps == whole.steps == 1024
    for name, tensor in a["model"].items():
        assert torch.equal(tensor, b["model"][name]), name
    # and the warm start did start from the parent: a cold run with the same seed differs
    cold = train(_config(seed=5), TASK, reward="sparse", out_dir=tmp_path / "c")
    c = load_checkpoint(cold.checkpoint)
    assert not torch.equal(a["model"]["actor.0.weight"], c["model"]["actor.0.weight"])
