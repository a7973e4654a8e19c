"""PPO trainer: GAE, first-minibatch ratio, truncation bootstrap, determinism, exact resume,
logs, config, policy export and a short learning run on DroneHover."""

from __future__ import annotations

import csv
import json
import math
import pickle
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch

from agentic_rl.ppo import (
    PPO,
    CheckpointError,
    Policy,
    evaluate,
    load_policy,
    make_config,
    train,
)
from agentic_rl.ppo.buffer import iterate_minibatches
from agentic_rl.ppo.config import PPOConfig, parse_overrides
from agentic_rl.ppo.gae import compute_gae
from agentic_rl.ppo.normalize import RewardScaler, RunningMeanStd

HOVER = "agentic_rl/DroneHover-v0"


# --------------------------------------------------------------------------- a tiny test env
class Countdown(gym.Env):
    """Reward 1 per step; the episode ends after 5 steps, by termination or by time limit.

    The two variants see identical observations, rewards and actions, so any difference in
    what the trainer stores can only come from how it treats the ending.
    """

    def __init__(self, truncate: bool = False) -> None:
        self.truncate = truncate
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, (2,), np.float64)
        self.action_space = gym.spaces.Box(-1.0, 1.0, (1,), np.float32)
        self.t = 0

    def _obs(self) -> np.ndarray:
        return np.array([self.t / 5.0, 1.0])

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return self._obs(), {}

    def step(self, action):
        self.t += 1
        end = self.t >= 5
        return self._obs(), 1.0, end and not self.truncate, end and self.truncate, {}


gym.register("ppo_test/CountdownTerminate-v0", entry_point=Countdown, kwargs={"truncate": False})
gym.register("ppo_test/CountdownTruncate-v0", entry_point=Countdown, kwargs={"truncate": True})


def smoke(**overrides) -> PPOConfig:
    return make_config("smoke", **overrides)


# --------------------------------------------------------------------------- GAE
def test_gae_matches_hand_computed_values():
    rewards = np.array([[1.0], [2.0], [3.0]])
    values = np.array([[0.5], [1.0], [1.5]])
    dones = np.array([[False], [True], [False]])
    adv, ret = compute_gae(rewards, values, dones, np.array([2.0]), gamma=0.9, gae_lambda=0.8)
    # t=2: 3 + 0.9*2.0 - 1.5 = 3.3
    # t=1: episode ends here, so no bootstrap and no propagation: 2 - 1.0 = 1.0
    # t=0: delta = 1 + 0.9*1.0 - 0.5 = 1.4; A = 1.4 + 0.9*0.8*1.0 = 2.12
    np.testing.assert_allclose(adv[:, 0], [2.12, 1.0, 3.3])
    np.testing.assert_allclose(ret[:, 0], [2.62, 2.0, 4.8])


def test_gae_with_lambda_one_gives_discounted_returns():
    rng = np.random.default_rng(0)
    rewards = rng.normal(size=(6, 3))
    values = rng.normal(size=(6, 3))
    last = rng.normal(size=3)
    _, ret = compute_gae(rewards, values, np.zeros((6, 3), bool), last, gamma=0.95, gae_lambda=1.0)
    expected = last.copy()
    for t in reversed(range(6)):
        expected = rewards[t] + 0.95 * expected
        np.testing.assert_allclose(ret[t], expected)


# --------------------------------------------------------------------------- update
def test_ratio_is_one_on_the_first_minibatch():
    trainer = PPO(smoke(), "Pendulum-v1")
    try:
        trainer.collect_rollout()
        rng = np.random.default_rng(0)
        mb = next(iterate_minibatches(trainer.buffer.as_tensors(), 2, rng))
        with torch.no_grad():
            logprob, _, value = trainer.model.evaluate_actions(mb.obs, mb.actions)
        ratio = (logprob - mb.logprobs).exp()
        # the numpy rollout and the torch update compute the same policy and value
        np.testing.assert_allclose(ratio.numpy(), 1.0, atol=1e-5)
        np.testing.assert_allclose(value.numpy(), mb.values.numpy(), rtol=1e-4, atol=1e-5)
        stats = trainer.update()
        assert stats["train/approx_kl"] > 0.0  # and the update does move the policy
    finally:
        trainer.close()


def _autograd_loss(model, mb, clip_coef, ent_coef, vf_coef, clip_vloss, bounds=None):
    """The PPO loss written with autograd, as CleanRL writes it (plus rl_games' bounds loss
    when ``bounds`` = (soft_low, soft_high, coef)): the reference for fused.py."""
    obs, actions = (torch.from_numpy(a) for a in mb[:2])
    logprob, entropy, value = model.evaluate_actions(obs, actions)
    old_lp, adv, ret, old_v = (torch.from_numpy(a) for a in mb[2:])
    ratio = (logprob - old_lp).exp()
    adv = (adv - adv.mean()) / (adv.std() + 1e-8)
    pg = torch.max(-adv * ratio, -adv * ratio.clamp(1 - clip_coef, 1 + clip_coef)).mean()
    if clip_vloss:
        v_c = old_v + (value - old_v).clamp(-clip_coef, clip_coef)
        v_loss = 0.5 * torch.max((value - ret) ** 2, (v_c - ret) ** 2).mean()
    else:
        v_loss = 0.5 * ((value - ret) ** 2).mean()
    loss = pg - ent_coef * entropy.mean() + vf_coef * v_loss
    if bounds is not None:
        mean = model.actor(obs)
        low, high, coef = bounds
        beyond = (mean - high).clamp_min(0.0) ** 2 + (mean - low).clamp_max(0.0) ** 2
        loss = loss + coef * beyond.sum(-1).mean()
    return loss, pg, v_loss


@pytest.mark.parametrize(
    ("activation", "clip_vloss", "bounds_coef"),
    [("tanh", False, 0.0), ("relu", True, 0.0), ("tanh", False, 0.5)],
)
def test_fused_gradient_matches_autograd(activation, clip_vloss, bounds_coef):
    from agentic_rl.ppo.fused import FlatParams, FusedPPOLoss
    from agentic_rl.ppo.networks import ActorCritic

    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    model = ActorCritic(7, 3, (16, 8), activation, init_log_std=-0.3)
    with torch.no_grad():  # a policy away from its near-zero init, so clipping happens
        for p in model.parameters():
            p.add_(0.3 * torch.randn_like(p))
    flat = FlatParams(model)
    n = 64
    obs = rng.normal(size=(n, 7)).astype(np.float32)
    actions = rng.normal(size=(n, 3)).astype(np.float32)
    with torch.no_grad():
        lp, _, v = model.evaluate_actions(torch.from_numpy(obs), torch.from_numpy(actions))
    old_lp = (lp.numpy() + rng.normal(0, 0.3, n)).astype(np.float32)  # ratios beyond 1 +- 0.2
    adv = rng.normal(size=n).astype(np.float32)
    ret = rng.normal(size=n).astype(np.float32)
    old_v = (v.numpy() + rng.normal(0, 0.3, n)).astype(np.float32)
    mb = (obs, actions, old_lp, adv, ret, old_v)
    # narrow bounds, so part of the batch's means lie beyond them on either side
    low, high = np.full(3, -0.1), np.full(3, 0.1)
    fused = FusedPPOLoss(
        model, flat, 0.2, 0.01, 0.5, clip_vloss, norm_adv=True, bounds=(low, high, bounds_coef)
    )
    pg, v_loss, *_ = fused(*mb)
    soft = (torch.tensor(-0.11), torch.tensor(0.11), bounds_coef)  # 5% of the range outside
    loss, pg_ref, v_ref = _autograd_loss(
        model, mb, 0.2, 0.01, 0.5, clip_vloss, bounds=soft if bounds_coef else None
    )
    model.zero_grad()
    loss.backward()
    assert pg == pytest.approx(pg_ref.item(), rel=1e-5)
    assert v_loss == pytest.approx(v_ref.item(), rel=1e-5)
    expected = torch.cat([p.grad.ravel() for p in model.parameters()]).numpy()
    np.testing.assert_allclose(flat.grad, expected, rtol=1e-4, atol=1e-6)


def test_flat_adam_matches_torch_adam():
    from agentic_rl.ppo.fused import FlatAdam, FlatParams
    from agentic_rl.ppo.networks import ActorCritic

    torch.manual_seed(0)
    ours, ref = ActorCritic(5, 2, (8,)), ActorCritic(5, 2, (8,))
    ref.load_state_dict(ours.state_dict())
    flat = FlatParams(ours)
    adam = FlatAdam(flat, lr=1e-2, eps=1e-5)
    torch_adam = torch.optim.Adam(ref.parameters(), lr=1e-2, eps=1e-5)
    rng = np.random.default_rng(0)
    for _ in range(5):
        flat.grad[:] = rng.normal(size=flat.size)
        offset = 0
        for p in ref.parameters():
            p.grad = torch.from_numpy(flat.grad[offset : offset + p.numel()].copy()).view_as(p)
            offset += p.numel()
        adam.step()
        torch_adam.step()
    for a, b in zip(ours.parameters(), ref.parameters(), strict=True):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-5, atol=1e-7)
    # a checkpoint of torch's Adam (older runs) loads into the flat one
    again = FlatAdam(flat, lr=1e-2, eps=1e-5)
    again.load_state_dict(torch_adam.state_dict())
    np.testing.assert_allclose(again.exp_avg_sq, adam.exp_avg_sq, rtol=1e-5, atol=1e-12)
    assert again.step_count == 5


def test_warm_start_and_resume_write_through_to_the_flat_update_buffer():
    # The fused update trains a flat buffer that the module's parameters view; loading a
    # state (warm start, resume) must land in that buffer, or training would silently
    # continue from the old weights.
    parent, child = PPO(smoke(), "Pendulum-v1"), PPO(smoke(seed=1), "Pendulum-v1")
    try:
        parent.collect_rollout()
        parent.update()
        child.warm_start(parent.state_dict())
        np.testing.assert_array_equal(child.flat.theta, parent.flat.theta)
        assert child.policy().act(np.zeros(3)) == pytest.approx(parent.policy().act(np.zeros(3)))
        child.collect_rollout()
        child.update()  # trains from the parent's weights
        assert not np.array_equal(child.flat.theta, parent.flat.theta)
        for a, b in zip(child.model.parameters(), child.flat.values, strict=True):
            np.testing.assert_array_equal(a.detach().numpy(), b)
    finally:
        parent.close()
        child.close()


def test_time_limit_truncation_is_bootstrapped_and_termination_is_not():
    cfg = smoke(norm_obs=False, num_envs=2, num_steps=12, num_minibatches=2)
    buffers = {}
    for kind in ("Terminate", "Truncate"):
        trainer = PPO(cfg, f"ppo_test/Countdown{kind}-v0")
        trainer.collect_rollout()
        buffers[kind] = (trainer.buffer, trainer.model.numpy())
        trainer.close()
    term, _ = buffers["Terminate"]
    trunc, net = buffers["Truncate"]
    np.testing.assert_array_equal(term.dones, trunc.dones)
    ends = term.dones
    assert ends.sum() == 4  # two episodes of 5 steps in each of 2 envs within 12 steps
    diff = trunc.rewards - term.rewards
    np.testing.assert_allclose(diff[~ends], 0.0)
    # at a time limit the reward carries gamma * V(final observation), t/5 = 1.0
    bootstrap = cfg.gamma * net.value(np.array([[1.0, 1.0]]))[0]
    assert abs(bootstrap) > 1e-6
    np.testing.assert_allclose(diff[ends], bootstrap, rtol=1e-6)


def test_reward_scaler_makes_scale_irrelevant():
    scaled = []
    for scale in (1e-3, 1.0, 1e3):
        scaler = RewardScaler(num_envs=1, gamma=0.99, clip=1e9)
        rng = np.random.default_rng(1)
        out = [scaler(scale * rng.normal(size=1), np.array([False]))[0] for _ in range(2000)]
        scaled.append(np.std(out[1000:]))
    np.testing.assert_allclose(scaled, scaled[1], rtol=0.05)


def test_running_mean_std_matches_numpy():
    rng = np.random.default_rng(2)
    data = rng.normal(3.0, 2.0, size=(500, 4))
    rms = RunningMeanStd((4,), epsilon=0.0 + 1e-12)
    for chunk in np.array_split(data, 7):
        rms.update(chunk)
    np.testing.assert_allclose(rms.mean, data.mean(0), rtol=1e-9)
    np.testing.assert_allclose(rms.var, data.var(0), rtol=1e-6)


# --------------------------------------------------------------------------- determinism, resume
def _weights(result_dir: Path) -> dict[str, np.ndarray]:
    return dict(np.load(result_dir / "policy.npz"))


def test_same_seed_same_run_other_seed_other_run(tmp_path):
    cfg = smoke(total_steps=1024, eval_episodes=0)
    a = train(cfg, HOVER, out_dir=tmp_path / "a")
    b = train(cfg, HOVER, out_dir=tmp_path / "b")
    c = train(cfg.model_copy(update={"seed": 1}), HOVER, out_dir=tmp_path / "c")
    wa, wb, wc = (_weights(Path(r.out_dir)) for r in (a, b, c))
    for key in wa:
        np.testing.assert_array_equal(wa[key], wb[key])
    assert not np.array_equal(wa["W0"], wc["W0"])
    assert a.steps == 1024 and a.updates == 4


def test_interrupted_run_resumes_to_the_same_result(tmp_path):
    cfg = smoke(total_steps=6 * 256, eval_episodes=0, checkpoint_every=100)
    full = train(cfg, HOVER, out_dir=tmp_path / "full")
    # stop after 3 updates; the callback plays the role of a crash right after a checkpoint
    cut = train(cfg, HOVER, out_dir=tmp_path / "cut", callback=lambda t, row: t.update_idx < 3)
    assert cut.interrupted and cut.updates == 3
    resumed = train(cfg, HOVER, out_dir=tmp_path / "cut", resume=True)
    assert resumed.updates == 6 and resumed.steps == full.steps
    w_full, w_res = _weights(Path(full.out_dir)), _weights(Path(resumed.out_dir))
    for key in w_full:
        np.testing.assert_array_equal(w_full[key], w_res[key])
    rows_full = list(csv.DictReader((tmp_path / "full" / "train.csv").open()))
    rows_res = list(csv.DictReader((tmp_path / "cut" / "train.csv").open()))
    assert len(rows_res) == len(rows_full) == 6
    for r_full, r_res in zip(rows_full, rows_res, strict=True):
        for key in ("train/approx_kl", "rollout/ep_return_mean", "train/reward_scale"):
            assert r_full.get(key) == r_res.get(key), key


def test_crash_between_checkpoints_resumes_from_the_last_one(tmp_path):
    cfg = smoke(total_steps=5 * 256, eval_episodes=0, checkpoint_every=2)
    full = train(cfg, HOVER, out_dir=tmp_path / "full")

    def crash(trainer, row):
        if trainer.update_idx == 3:  # one update after the checkpoint at update 2
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(cfg, HOVER, out_dir=tmp_path / "crash", callback=crash)
    # the log already holds update 3, which the resumed run redoes
    assert len((tmp_path / "crash" / "train.csv").read_text().splitlines()) == 1 + 3
    resumed = train(cfg, HOVER, out_dir=tmp_path / "crash", resume=True)
    assert resumed.updates == 5
    w_full, w_res = _weights(Path(full.out_dir)), _weights(Path(resumed.out_dir))
    for key in w_full:
        np.testing.assert_array_equal(w_full[key], w_res[key])
    steps = [
        r["time/total_steps"] for r in csv.DictReader((tmp_path / "crash" / "train.csv").open())
    ]
    assert steps == [str(float(256 * k)) for k in range(1, 6)]


def test_resume_refuses_a_different_config(tmp_path):
    cfg = smoke(total_steps=256, eval_episodes=0)
    train(cfg, HOVER, out_dir=tmp_path)
    with pytest.raises(CheckpointError, match="learning_rate"):
        train(cfg.model_copy(update={"learning_rate": 1e-3}), HOVER, out_dir=tmp_path, resume=True)
    with pytest.raises(CheckpointError, match="randomize"):
        train(cfg, HOVER, out_dir=tmp_path, resume=True, randomize=True)
    # a fresh run never clobbers an existing one by accident
    with pytest.raises(FileExistsError, match="--resume"):
        train(cfg, HOVER, out_dir=tmp_path)
    assert train(cfg, HOVER, out_dir=tmp_path, overwrite=True).steps == 256


def test_missing_checkpoint_says_what_to_pass(tmp_path):
    with pytest.raises(CheckpointError, match=r"checkpoint\.pt"):
        load_policy(tmp_path)


# --------------------------------------------------------------------------- logs and outputs
def test_run_folder_has_config_logs_policy_and_eval(tmp_path):
    cfg = smoke(total_steps=512, eval_episodes=2, tensorboard=True)
    result = train(cfg, HOVER, out_dir=tmp_path)
    saved = json.loads((tmp_path / "config.json").read_text())
    assert saved["ppo"]["total_steps"] == 512 and saved["task_id"] == HOVER
    header = next(csv.reader((tmp_path / "train.csv").open()))
    for key in (
        "train/approx_kl",
        "train/old_approx_kl",
        "train/clip_fraction",
        "train/explained_variance",
        "train/entropy",
        "train/learning_rate",
        "time/fps",
    ):
        assert key in header
    assert list((tmp_path / "tb").glob("events.out.tfevents.*"))
    assert result.eval is not None and len(result.eval["seeds"]) == 2
    assert 0.0 <= result.success_rate <= 1.0
    # a process pool sends the result back by pickling it
    assert pickle.loads(pickle.dumps(result)) == result
    # the exported policy is the same function as the checkpoint's
    a = load_policy(tmp_path / "policy.npz")
    b = load_policy(tmp_path)
    obs = np.random.default_rng(0).normal(size=(5, a.obs_mean.size))
    np.testing.assert_allclose(a.act(obs), b.act(obs))


def test_reward_terms_and_task_metrics_are_logged_separately(tmp_path):
    def terms(state, action, prev_state, task):
        return {"near": -float(np.linalg.norm(state["goal_rel"])), "alive": 0.1}

    cfg = smoke(total_steps=2 * 4 * 384, num_steps=384, eval_episodes=0)
    train(cfg, HOVER, reward=terms, out_dir=tmp_path)
    rows = list(csv.DictReader((tmp_path / "train.csv").open()))
    last = rows[-1]
    assert float(last["reward/alive"]) == pytest.approx(0.1 * 384, rel=1e-6)
    assert float(last["reward/near"]) < 0.0
    assert "metrics/final_distance" in last and "rollout/success_rate" in last


# --------------------------------------------------------------------------- config
def test_config_rejects_uneven_minibatches_with_the_numbers():
    with pytest.raises(ValueError, match="not divisible"):
        PPOConfig(num_envs=3, num_steps=10, num_minibatches=4)


def test_overrides_parse_json_and_hint_unknown_keys():
    assert parse_overrides(["learning_rate=1e-3", "hidden_sizes=[32, 32]"]) == {
        "learning_rate": 1e-3,
        "hidden_sizes": [32, 32],
    }
    with pytest.raises(ValueError, match="Did you mean 'learning_rate'"):
        parse_overrides(["learning_rat=1"])


def test_presets_by_task_family():
    assert make_config(task_id=HOVER).num_envs == 16
    assert make_config(task_id="agentic_rl/ArmReach-v0").learning_rate == 5e-4
    with pytest.raises(KeyError, match="smoke"):
        make_config("nope")


def test_a_task_setting_applies_over_its_preset_and_overrides_win():
    pick = "agentic_rl/ArmPickPlace-v0"
    assert make_config(task_id=pick).bounds_coef > 0.0  # its gripper mean needs the bound
    assert make_config(task_id=pick).learning_rate == 5e-4  # the rest is the arm preset
    assert make_config(task_id="agentic_rl/ArmReach-v0").bounds_coef == 0.0
    assert make_config(task_id=pick, bounds_coef=0.0).bounds_coef == 0.0


def test_the_bounds_loss_pulls_a_mean_beyond_the_bounds_back():
    """Where every sample is clipped the same, only the bounds loss moves the mean."""
    from agentic_rl.ppo.fused import FlatParams, FusedPPOLoss
    from agentic_rl.ppo.networks import ActorCritic

    model = ActorCritic(2, 1, (8,), "tanh", init_log_std=-1.0)
    with torch.no_grad():
        model.actor[-1].bias.fill_(2.0)  # mean ~2, far past the bound at 1
    flat = FlatParams(model)
    n = 32
    obs = np.zeros((n, 2), np.float32)
    actions = np.full((n, 1), 2.0, np.float32)
    zeros = np.zeros(n, np.float32)
    with torch.no_grad():
        lp, _, _ = model.evaluate_actions(torch.from_numpy(obs), torch.from_numpy(actions))
    mb = (obs, actions, lp.numpy(), zeros, zeros, zeros)
    bias = flat.by_name["actor.2.bias"][1]
    FusedPPOLoss(model, flat, 0.2, 0.0, 0.5, False, False, bounds=(-1.0, 1.0, 0.01))(*mb)
    assert bias[0] > 0.0  # gradient descent lowers the mean toward the bound
    FusedPPOLoss(model, flat, 0.2, 0.0, 0.5, False, False)(*mb)
    assert bias[0] == 0.0  # without it, nothing does


# --------------------------------------------------------------------------- learning
def _hover_reward():
    """The reference reward once the rewards package provides it; else a small shaped one."""
    try:
        import rewards

        rewards.load_reward  # noqa: B018
        return "reference"
    except (ImportError, AttributeError):

        def shaped(state, action, prev_state, task):
            d = float(np.linalg.norm(state["goal_rel"]))
            return {
                "near": math.exp(-2.0 * d),
                "tilt": -0.2 * float(state["tilt"]),
                "speed": -0.05 * float(np.linalg.norm(state["vel"])),
            }

        return shaped


@pytest.mark.slow
def test_short_hover_run_clearly_beats_a_random_policy(tmp_path):
    cfg = make_config(
        task_id=HOVER, total_steps=100_000, progress=False, tensorboard=False, eval_episodes=0
    )
    result = train(cfg, HOVER, reward=_hover_reward(), out_dir=tmp_path)
    seeds = range(500, 520)
    trained = evaluate(Policy.load(result.policy), HOVER, seeds=seeds)
    rng = np.random.default_rng(0)
    random_policy = evaluate(lambda obs: rng.uniform(-1, 1, 4), HOVER, seeds=seeds)
    d_trained = trained.mean_metrics()["final_distance"]
    d_random = random_policy.mean_metrics()["final_distance"]
    assert d_trained < 0.5 * d_random, (d_trained, d_random)
    assert trained.success_rate >= random_policy.success_rate
