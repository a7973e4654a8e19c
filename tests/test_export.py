"""PolicyBundle export: ONNX graph (normalization and clip inside), numpy twin, golden pairs."""

from __future__ import annotations

import json
import re

import numpy as np
import onnx
import onnxruntime as ort
import pytest

import sims
from agentic_rl.export import ExportError, export_bundle, urdf_chain
from agentic_rl.export.onnx_export import torch_actions
from agentic_rl.ppo import load_policy
from ros_bridge import load_bundle
from ros_bridge.bundle import BundleError
from tests.test_ros_fixtures import arm_bundle, hover_bundle, hover_run, random_policy

__all__ = ["arm_bundle", "hover_bundle", "hover_run"]  # fixtures used here


def test_bundle_has_the_documented_files_and_metadata(hover_bundle):
    names = {p.name for p in hover_bundle.iterdir()}
    assert {"policy.onnx", "weights.npz", "golden.npz", "bundle.json", "reward.py"} <= names
    meta = json.loads((hover_bundle / "bundle.json").read_text())
    spec = sims.get_spec("DroneHover")
    assert meta["task"]["id"] == "agentic_rl/DroneHover-v0"
    assert meta["task"]["control_hz"] == spec.control_hz
    fields = meta["observation"]["fields"]
    assert [f["name"] for f in fields] == list(spec.field_names)
    assert [f["unit"] for f in fields] == [f.unit for f in spec.state_fields]
    assert fields[-1]["offset"] + fields[-1]["size"] == spec.obs_size == meta["observation"]["size"]
    assert meta["action"]["mode"] == "velocity" and meta["command"]["kind"] == "velocity"
    assert meta["command"]["scale"] == [1.0, 1.0, 1.0, pytest.approx(np.pi / 2)]
    assert meta["reward"]["sha256"] and (hover_bundle / "reward.py").read_text() == "# reward\n"
    assert meta["train_config"]["task_id"] == "agentic_rl/DroneHover-v0"  # from the run folder
    assert {"torch", "onnx", "numpy"} <= set(meta["versions"])


def test_onnx_graph_matches_torch_and_numpy(hover_run, hover_bundle):
    model = onnx.load(str(hover_bundle / "policy.onnx"))
    onnx.checker.check_model(model, full_check=True)
    policy = load_policy(hover_run)
    rng = np.random.default_rng(0)
    # Far-out observations exercise the observation clip, large ones the action clip.
    obs = np.concatenate(
        [
            rng.normal(0, 1, (64, policy.obs_mean.size)),
            rng.normal(0, 1e3, (8, policy.obs_mean.size)),
        ]
    )
    sess = ort.InferenceSession(
        str(hover_bundle / "policy.onnx"), providers=["CPUExecutionProvider"]
    )
    got = sess.run(None, {"obs": obs})[0]
    np.testing.assert_allclose(got, torch_actions(policy, obs), atol=1e-5, rtol=0)
    np.testing.assert_allclose(got, policy.act(obs), atol=1e-9, rtol=0)
    assert np.all(got <= 1.0) and np.all(got >= -1.0)


def test_action_clip_is_inside_the_graph(tmp_path):
    spec = sims.get_spec("DroneHover")
    policy = random_policy(spec.obs_size, 4, seed=0, scale=50.0)  # saturating outputs
    out = export_bundle(policy, "DroneHover", tmp_path / "b", golden_episodes=1)
    sess = ort.InferenceSession(str(out / "policy.onnx"), providers=["CPUExecutionProvider"])
    obs = np.random.default_rng(1).normal(0, 3, (32, spec.obs_size))
    got = sess.run(None, {"obs": obs})[0]
    assert np.abs(got).max() == pytest.approx(1.0)  # clipped, not the raw MLP output
    np.testing.assert_allclose(got, policy.act(obs), atol=1e-9)


def test_golden_pairs_are_simulated_observations_and_policy_actions(hover_run, hover_bundle):
    bundle = load_bundle(hover_bundle)
    policy = load_policy(hover_run)
    np.testing.assert_allclose(bundle.golden_action, policy.act(bundle.golden_obs), atol=1e-12)
    # The first golden observation is the reset state of the first golden seed.
    env = sims.make("DroneHover")
    obs, _ = env.reset(seed=bundle.meta.golden.seeds[0])
    env.close()
    np.testing.assert_array_equal(bundle.golden_obs[0], obs)
    assert 1 < bundle.golden_obs.shape[0] <= 256


def test_numpy_fallback_equals_onnxruntime(hover_bundle):
    bundle = load_bundle(hover_bundle)
    fast, slow = bundle.make_policy("onnxruntime"), bundle.make_policy("numpy")
    assert fast.backend == "onnxruntime" and slow.backend == "numpy"
    np.testing.assert_allclose(fast(bundle.golden_obs), slow(bundle.golden_obs), atol=1e-12)
    np.testing.assert_allclose(slow(bundle.golden_obs[3]), bundle.golden_action[3], atol=1e-12)


def test_export_refuses_a_policy_of_another_task(hover_run, tmp_path):
    with pytest.raises(ExportError, match="observation values"):
        export_bundle(hover_run, "ArmReach", tmp_path / "x")
    with pytest.raises(ExportError, match="no policy at"):
        export_bundle(tmp_path / "missing", "DroneHover", tmp_path / "y")


def test_arm_bundle_carries_the_kinematic_chain(arm_bundle):
    meta = load_bundle(arm_bundle).meta
    cmd = meta.command
    assert cmd["kind"] == "joint_delta" and cmd["joint_step"] == 0.05
    assert cmd["joints"] == [f"panda_joint{i}" for i in range(1, 8)]
    assert [j["name"] for j in cmd["chain"]][-1] == "panda_grasptarget_hand"
    assert all(lo < hi for lo, hi in zip(cmd["lower"], cmd["upper"], strict=True))


def test_urdf_chain_rejects_unknown_links():
    from sims.arm import panda

    with pytest.raises(ExportError, match="no link"):
        urdf_chain(panda.URDF, "not_a_link")


def test_load_bundle_errors_name_the_problem(tmp_path, hover_bundle):
    with pytest.raises(BundleError, match="no PolicyBundle"):
        load_bundle(tmp_path / "nothing")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "bundle.json").write_text("{}")
    with pytest.raises(BundleError, match="missing"):
        load_bundle(broken)
    import shutil

    newer = tmp_path / "newer"
    shutil.copytree(hover_bundle, newer)
    meta = json.loads((newer / "bundle.json").read_text())
    meta["version"] = 99
    (newer / "bundle.json").write_text(json.dumps(meta))
    with pytest.raises(BundleError, match="version 99 is not supported"):
        load_bundle(newer)


def test_bundle_json_round_trips_through_bundle_meta(hover_bundle, tmp_path):
    from ros_bridge.meta import BundleMeta, MetaError

    raw = json.loads((hover_bundle / "bundle.json").read_text())
    meta = BundleMeta.from_dict(raw)
    assert meta.to_dict() == raw  # one model: export writes exactly what the runtime reads
    assert meta.observation.fields[0].name == "pos" and meta.action.mode == "velocity"
    bad = {**raw, "action": {k: v for k, v in raw["action"].items() if k != "low"}}
    with pytest.raises(MetaError, match=r"action\.low"):
        BundleMeta.from_dict(bad)


def test_export_records_held_out_success_and_refuses_below_the_threshold(hover_run, tmp_path):
    from agentic_rl import seeds
    from agentic_rl.export import BelowThresholdError

    with pytest.raises(BelowThresholdError, match="held-out episodes"):
        export_bundle(hover_run, "DroneHover", tmp_path / "refused", golden_episodes=1,
                      evaluate_episodes=2, min_success=0.5)  # fmt: skip
    assert not (tmp_path / "refused").exists()  # nothing written
    out = export_bundle(hover_run, "DroneHover", tmp_path / "forced", golden_episodes=1,
                        evaluate_episodes=2, min_success=0.5, force=True)  # fmt: skip
    ev = load_bundle(out).meta.evaluation
    assert ev.forced and ev.episodes == 2 and ev.min_success == 0.5
    assert ev.seeds == tuple(seeds.TEST.seeds(2))
    assert ev.success_nominal < 0.5 and 0.0 <= ev.success_randomized <= 1.0


def test_cli_export_refuses_a_failing_policy_unless_forced(hover_run, tmp_path):
    from typer.testing import CliRunner

    from agentic_rl.cli import app

    args = ["export", "--run", str(hover_run), "--eval-episodes", "2"]
    r = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "a")])
    text = " ".join(re.sub(r"[\u2500-\u257f]", " ", r.output).split())  # without rich's box
    assert r.exit_code == 2 and "below the export threshold 50%" in text and "--force" in text
    r = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "b"), "--force"])
    assert r.exit_code == 0, r.output
    assert "held-out success" in r.output and "forced" in r.output


def test_record_evaluation_writes_a_later_verdict_into_the_bundle(hover_bundle, tmp_path):
    import shutil

    from agentic_rl.export import EvaluationMeta, ExportError, record_evaluation

    bundle = tmp_path / "bundle"
    shutil.copytree(hover_bundle, bundle)
    before = json.loads((bundle / "bundle.json").read_text())
    verdict = EvaluationMeta(
        episodes=3, seeds=(7, 8, 9), success_nominal=2 / 3, success_randomized=0.5, min_success=0.0
    )
    record_evaluation(bundle, verdict)
    after = json.loads((bundle / "bundle.json").read_text())
    assert load_bundle(bundle).meta.evaluation == verdict
    assert {k: v for k, v in after.items() if k != "evaluation"} == {
        k: v for k, v in before.items() if k != "evaluation"
    }
    (bundle / "bundle.json").write_text("{}")
    with pytest.raises(ExportError, match="cannot record the evaluation"):
        record_evaluation(bundle, verdict)
