"""Robustness: the sweep brackets a known breaking point, the widening rules, the transfer
check, the latency/noise model the sweep relies on, the report files, the CLI, the loop hook,
and (slow) a policy trained under randomization beating a nominal one on the same budget."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import sims
from agentic_rl.cli import app
from agentic_rl.export import export_bundle
from agentic_rl.ppo import Policy
from agentic_rl.records import CandidateRecord, IterationRecord, Proposal
from agentic_rl.robustness import (
    DRONE_CONFIGS,
    REPORT_DIR,
    EpisodeRunner,
    PhysicsConfig,
    PolicyUnderTest,
    RangeOutcome,
    RobustnessError,
    SweepSettings,
    auto_randomization,
    bounds_for,
    build_report,
    clamp_to_bounds,
    default_configs,
    joint_sampler,
    load_policy_source,
    load_report,
    outcomes_from_history,
    propose_ranges,
    propose_with_reasons,
    quantized,
    sweep,
    sweep_table_text,
    transfer_check,
    write_report,
)
from agentic_rl.robustness.sweep import required_successes
from sims.drone import model
from sims.drone.control import FlightController
from sims.drone.hover import POS_TOL
from sims.randomization import resolve_ranges
from tests import scripted

HOVER = sims.get_spec("DroneHover")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
#: The scripted hover pilot's position gain (velocity setpoint = GAIN x goal_rel), 1/s.
GAIN = 2.0


def hover_mass_limits() -> tuple[float, float]:
    """The masses (x nominal) beyond which the scripted hover pilot cannot hold the goal.

    The onboard controller computes thrust for the nominal mass. Hovering in place with mass
    scale m needs a commanded vertical acceleration of (m - 1) g. The velocity loop supplies
    at most its integrator's clamp ``I_LIMIT`` plus ``KVZ`` times the velocity setpoint, and
    the pilot's setpoint is GAIN x the height error, which success keeps under POS_TOL. So the
    hover holds exactly while |m - 1| g <= I_LIMIT + KVZ x GAIN x POS_TOL.
    """
    a = FlightController.I_LIMIT + FlightController.KVZ * GAIN * POS_TOL
    return 1.0 - a / model.GRAVITY, 1.0 + a / model.GRAVITY


def scripted_hover() -> tuple[PolicyUnderTest, EpisodeRunner]:
    """The scripted pilot as a policy under test (it reads the true state of the runner's env)."""
    policy = PolicyUnderTest(act=lambda obs: obs, task_id=HOVER.id)
    runner = EpisodeRunner(policy)
    env = runner.env
    policy.act = lambda obs: scripted.hover(env, env.state)
    return policy, runner


def linear_hover_policy() -> Policy:
    """The scripted hover pilot written as a one-layer policy network on the observation
    (velocity setpoint = GAIN x goal_rel), so it exports to a real PolicyBundle."""
    size = HOVER.obs_size
    w = np.zeros((size, 4))
    w[_field("goal_rel"), :3] = GAIN * np.eye(3)
    return Policy(
        [(w, np.zeros(4))],
        "tanh",
        np.zeros(size),
        np.ones(size),
        10.0,
        np.array(HOVER.action.low),
        np.array(HOVER.action.high),
    )


@pytest.fixture(scope="module")
def hover_bundle(tmp_path_factory) -> Path:
    return export_bundle(
        linear_hover_policy(), HOVER.id, tmp_path_factory.mktemp("bundle"), golden_episodes=1
    )


# ------------------------------------------------------------------------------ the sweep
def test_sweep_brackets_the_known_mass_breaking_points_of_a_scripted_pilot():
    low_break, high_break = hover_mass_limits()
    policy, runner = scripted_hover()
    with runner:
        result = sweep(
            policy,
            SweepSettings(episodes=4, iterations=5, params=("mass", "action_delay")),
            runner=runner,
        )
    assert result.nominal_success == 1.0
    mass = result.param("mass")
    # bisection on each side: the analytic breaking point lies between the last value that
    # kept success and the first that did not, 1/32 of the searched interval apart
    assert mass.high.safe < high_break < mass.high.broke_at
    assert mass.high.broke_at - mass.high.safe == pytest.approx((2.0 - 1.0) / 32)
    assert mass.low.broke_at < low_break < mass.low.safe
    assert mass.low.safe - mass.low.broke_at == pytest.approx((1.0 - 0.5) / 32)
    # the pilot's slow position loop does not mind dead time: kept up to the hard limits
    delay = result.param("action_delay")
    assert delay.high.broke_at is None and delay.high.safe == HOVER.param("action_delay").hard_high
    assert delay.safe_range == (0.0, 0.2)
    # jointly, inside both safe ranges, success is kept at the first try
    assert result.joint[0].scale == 1.0 and result.joint[0].keeps
    assert result.joint_ranges["mass"] == mass.safe_range
    text = sweep_table_text(result)
    assert "mass [1] | 1 | [" in text and "never" in text


def test_sweep_shrinks_joint_ranges_until_success_is_kept():
    policy, runner = scripted_hover()
    settings = SweepSettings(episodes=4, iterations=3, params=("mass", "motor_thrust"))
    with runner:
        result = sweep(policy, settings, runner=runner)
    # heavy and weak motors at once exceed what either allows alone
    first = result.joint[0]
    assert not first.keeps and first.success_rate < 0.9
    assert result.joint[-1].keeps and result.joint[-1].scale < 1.0
    lo, hi = result.joint_ranges["mass"]
    safe_lo, safe_hi = result.param("mass").safe_range
    assert safe_lo < lo < 1.0 < hi < safe_hi


def test_sweep_refuses_a_policy_without_nominal_success_and_unknown_params():
    idle = PolicyUnderTest(act=lambda obs: np.zeros(4), task_id=HOVER.id)
    with pytest.raises(RobustnessError, match="no success to keep"):
        sweep(idle, SweepSettings(episodes=2, params=("mass",)))
    with pytest.raises(RobustnessError, match=r"no randomization parameters \['mas'\]"):
        sweep(idle, SweepSettings(episodes=1, params=("mas",)))


@pytest.mark.parametrize(
    ("threshold", "episodes", "need"), [(0.9, 20, 18), (0.9 * 0.95, 20, 18), (0.0, 5, 0), (1, 3, 3)]
)
def test_required_successes(threshold, episodes, need):
    assert required_successes(threshold, episodes) == need


# ------------------------------------------------------------------------------ ranges
def _sweep_json(safe: dict[str, tuple[float, float]]) -> dict:
    """A minimal SweepResult JSON with the given per-parameter safe ranges."""
    params = []
    for p in HOVER.randomization:
        lo, hi = safe.get(p.name, (p.nominal, p.nominal))
        side = lambda s, v, lim: {"side": s, "limit": lim, "safe": v, "points": []}  # noqa: E731
        params.append(
            {
                "name": p.name,
                "kind": p.kind,
                "unit": p.unit,
                "nominal": p.nominal,
                "spec_low": p.low,
                "spec_high": p.high,
                "low": side("low", lo, p.hard_low) if p.hard_low < p.nominal else None,
                "high": side("high", hi, p.hard_high) if p.hard_high > p.nominal else None,
            }
        )
    return {
        "task_id": HOVER.id,
        "settings": {},
        "nominal_success": 1.0,
        "threshold": 0.9,
        "params": params,
    }


def test_ranges_start_narrow_inside_the_spec_ranges():
    ranges, why = propose_with_reasons(HOVER, None, [])
    assert "start narrow" in why[0]
    assert set(ranges) == {p.name for p in HOVER.randomization}
    mass = ranges["mass"]
    assert mass == pytest.approx((1 - 0.25 * 0.2, 1 + 0.25 * 0.2))
    resolve_ranges(HOVER.randomization, ranges, HOVER.id)  # valid for sims.make


def test_ranges_widen_when_randomized_success_holds_and_reach_the_sweep_bounds():
    sweep_json = _sweep_json({"mass": (0.6, 1.4), "action_delay": (0.0, 0.09)})
    bounds = bounds_for(HOVER, sweep_json)
    assert bounds["mass"] == (0.6, 1.4) and bounds["drag"] == (1.0, 1.0)
    ranges = propose_ranges(HOVER, sweep_json, [])
    widths = []
    for _ in range(8):
        history = [RangeOutcome(ranges=ranges, nominal_success=1.0, randomized_success=0.95)]
        ranges, why = propose_with_reasons(HOVER, sweep_json, history)
        assert why[0].startswith("widen")
        widths.append(ranges["mass"][1] - ranges["mass"][0])
    assert widths == sorted(widths)
    assert ranges["mass"] == (0.6, 1.4) and ranges["action_delay"] == (0.0, 0.09)
    assert "at the bounds" in why[0]


def test_ranges_shrink_on_collapse_and_keep_in_between():
    wide = {"mass": (0.6, 1.4), "motor_lag": (0.02, 0.08)}
    collapsed = [RangeOutcome(ranges=wide, nominal_success=0.9, randomized_success=0.3)]
    shrunk, why = propose_with_reasons(HOVER, None, collapsed)
    assert why[0].startswith("shrink")
    # clipped into the spec bounds first (0.8..1.2), then halved toward nominal
    assert shrunk["mass"] == pytest.approx((0.9, 1.1))
    middling = [RangeOutcome(ranges=wide, nominal_success=1.0, randomized_success=0.75)]
    kept, why = propose_with_reasons(HOVER, None, middling)
    assert why[0].startswith("keep") and kept["mass"] == (0.8, 1.2)
    # nominal success falling far below the best seen means randomization is too hard
    history = [
        RangeOutcome(ranges=wide, nominal_success=1.0, randomized_success=1.0),
        RangeOutcome(ranges=wide, nominal_success=0.4, randomized_success=0.4),
    ]
    _, why = propose_with_reasons(HOVER, None, history)
    assert "nominal success fell" in why[0]
    _, why = propose_with_reasons(HOVER, None, [RangeOutcome(ranges=wide, nominal_success=0.0)])
    assert "no signal" in why[0]


outcome = st.builds(
    RangeOutcome,
    ranges=st.dictionaries(
        st.sampled_from(["mass", "motor_lag", "wind", "sensor_noise"]),
        st.tuples(st.floats(0.0, 1.0), st.floats(1.0, 2.0)),
    ),
    nominal_success=st.one_of(st.none(), st.floats(0, 1)),
    randomized_success=st.one_of(st.none(), st.floats(0, 1)),
)


@settings(max_examples=60, deadline=None)
@given(
    history=st.lists(outcome, max_size=4),
    safe_high=st.floats(1.0, 2.0),
    with_sweep=st.booleans(),
)
def test_proposed_ranges_are_always_valid_and_inside_the_bounds(history, safe_high, with_sweep):
    sweep_json = (
        _sweep_json({"mass": (0.7, safe_high), "wind": (0.0, 0.05)}) if with_sweep else None
    )
    ranges = propose_ranges(HOVER, sweep_json, history)
    bounds = bounds_for(HOVER, sweep_json)
    resolve_ranges(HOVER.randomization, ranges, HOVER.id)
    for name, (lo, hi) in ranges.items():
        nominal = HOVER.param(name).nominal
        assert bounds[name][0] <= lo <= nominal <= hi <= bounds[name][1]
    assert propose_ranges(HOVER, sweep_json, history) == ranges  # pure


def test_llm_ranges_are_clamped_to_the_sweep_bounds():
    sweep_json = _sweep_json({"mass": (0.7, 1.3)})
    ranges, notes = clamp_to_bounds(
        HOVER, {"mass": (1.5, 0.5), "drag": (0.5, 2.0), "gravity": (1, 2)}, sweep_json
    )
    assert ranges == {"mass": (0.7, 1.3), "drag": (1.0, 1.0)}
    assert any("gravity" in n for n in notes) and any(n.startswith("mass") for n in notes)


# ------------------------------------------------------------------------------ transfer
def test_transfer_check_reports_the_gap_in_configurations_not_trained_in():
    policy = PolicyUnderTest(act=linear_hover_policy().act, task_id=HOVER.id)
    heavy = PhysicsConfig(name="heavy", description="+35% mass", params={"mass": 1.35})
    configs = [c for c in DRONE_CONFIGS if c.name in ("payload", "ground_effect")] + [heavy]
    result = transfer_check(policy, configs, episodes=4)
    rows = {r.config.name: r for r in result.rows}
    assert result.nominal_success == 1.0
    assert rows["payload"].success_rate == 1.0 and rows["payload"].gap == 0.0  # 1.25 < 1.285
    assert rows["heavy"].success_rate == 0.0 and rows["heavy"].gap == 1.0
    assert rows["heavy"].termination_reasons == {"timeout": 4}
    assert rows["ground_effect"].config.env_kwargs == {"ground_effect": True}
    assert all(r.in_training_ranges is None for r in result.rows)  # a callable: unknown
    assert result.worst.config.name == "heavy"


def test_default_transfer_configs():
    assert default_configs(HOVER) == list(DRONE_CONFIGS)
    arm = sims.get_spec("ArmPush")
    configs = default_configs(arm)
    assert configs[-1].action_filter
    for c in configs[:-1]:
        ((name, value),) = c.params.items()
        p = arm.param(name)
        assert p.hard_low <= value <= p.hard_high and not p.low <= value <= p.high


# ------------------------------------------------------------------ latency and noise model
def _episode(params: dict[str, float], actions: np.ndarray, seed: int = 0):
    env = sims.make("DroneHover")
    try:
        obs, info = env.reset(seed=seed, options={"params": params})
        assert info["state"]["pos"][2] > 0.3  # an airborne start: a still hover
        observed, true = (
            [obs.copy()],
            [np.concatenate([np.ravel(v) for v in info["state"].values()])],
        )
        for a in actions:
            obs, _, _, _, info = env.step(a)
            observed.append(obs.copy())
            true.append(np.concatenate([np.ravel(v) for v in info["state"].values()]))
        return np.array(observed), np.array(true)
    finally:
        env.close()


PULSE = np.array([[0.0, 0.0, 1.0 if 3 <= t < 8 else 0.0, 0.0] for t in range(30)])


def test_action_delay_of_one_control_period_shifts_the_response_by_one_step():
    _, prompt = _episode({"action_delay": 0.0}, PULSE)
    _, late = _episode({"action_delay": 1 / HOVER.control_hz}, PULSE)
    pos = slice(0, 3)
    assert np.abs(late[1:, pos] - prompt[:-1, pos]).max() < 1e-9
    assert np.abs(late[:, pos] - prompt[:, pos]).max() > 1e-3


def test_obs_delay_shows_the_state_of_earlier_control_steps():
    observed, true = _episode({"obs_delay": 2 / HOVER.control_hz}, PULSE)
    assert np.array_equal(observed[2:], true[:-2])
    # 10 ms rounds to no delay at all: the simulator resolves obs_delay to control steps
    observed, true = _episode({"obs_delay": 0.01}, PULSE)
    assert np.array_equal(observed, true)
    assert quantized(HOVER, "obs_delay", 0.01) == 0.0
    assert quantized(HOVER, "obs_delay", 0.02) == pytest.approx(1 / 48)
    assert quantized(HOVER, "action_delay", 0.02) == pytest.approx(5 / 240)


def test_sensor_noise_has_the_documented_spread():
    observed, true = _episode({"sensor_noise": 1.0}, np.zeros((200, 4)))
    err = observed - true
    assert np.std(err[:, _field("pos")]) == pytest.approx(0.005, rel=0.15)
    assert np.std(err[:, _field("vel")]) == pytest.approx(0.02, rel=0.15)
    assert np.std(err[:, _field("ang_vel")]) == pytest.approx(0.05, rel=0.15)
    assert np.all(err[:, _field("last_action")] == 0.0)  # what the policy sent: exact


def _field(name: str) -> slice:
    start = sum(f.size for f in HOVER.state_fields[: HOVER.field_names.index(name)])
    return slice(start, start + HOVER.field(name).size)


# ------------------------------------------------------------------ report, CLI, bundle
def test_bundle_policy_matches_the_scripted_pilot_and_knows_its_task(hover_bundle):
    policy = load_policy_source(hover_bundle)
    assert policy.task_id == HOVER.id and policy.action_mode == "velocity"
    assert policy.train_randomize is None and policy.sha256
    with pytest.raises(RobustnessError, match="trained on agentic_rl/DroneHover-v0, not"):
        load_policy_source(hover_bundle, "DroneGates")
    with pytest.raises(RobustnessError, match="no policy at"):
        load_policy_source(hover_bundle / "missing")


def test_report_files_round_trip(hover_bundle, tmp_path):
    policy = load_policy_source(hover_bundle)
    settings = SweepSettings(episodes=2, iterations=2, params=("mass", "obs_delay"))
    configs_before = len(DRONE_CONFIGS)
    report = build_report(policy, settings, transfer=True, transfer_episodes=1)
    assert len(report.transfer.rows) == configs_before
    path = write_report(report, tmp_path)
    assert path.name == "robustness.json"
    for name in ("robustness_sweep.png", "robustness_transfer.png"):
        assert (tmp_path / name).read_bytes()[:8] == PNG_MAGIC
    html = (tmp_path / "robustness.html").read_text()
    assert html.startswith('<section class="robustness">') and "obs_delay" in html
    assert 'src="robustness_sweep.png"' in html and "simulated as" in html
    again = load_report(path)
    assert again == report
    data = json.loads(path.read_text())
    data["version"] = "0"
    path.write_text(json.dumps(data))
    with pytest.raises(ValueError, match="run `agentic-rl robustness` again"):
        load_report(path)


def test_cli_sweeps_a_bundle(hover_bundle, tmp_path):
    runner = CliRunner()
    out = tmp_path / "rob"
    args = ["robustness", "--bundle", str(hover_bundle), "--task", "DroneHover"]
    args += ["--episodes", "3", "--iterations", "5", "--params", "mass", "--no-transfer"]
    result = runner.invoke(app, [*args, "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    (row,) = summary["sweep"]
    low_break, high_break = hover_mass_limits()
    # the same breaking points through the exported ONNX policy as through the scripted pilot
    assert row["safe_high"] < high_break < row["broke_high"]
    assert row["broke_low"] < low_break < row["safe_low"]
    assert Path(summary["report"]) == out / "robustness.json"
    assert (out / "robustness_sweep.png").exists() and summary["transfer"] is None
    bad = runner.invoke(app, [*args, "--task", "DroneGates"])
    assert bad.exit_code == 2 and "not agentic_rl/DroneGates-v0" in bad.output
    bad = runner.invoke(app, [*args, "--params", "mass,gravity"])
    assert bad.exit_code != 0 and "gravity" in bad.output


def test_cli_default_output_is_inside_the_bundle(hover_bundle):
    result = CliRunner().invoke(
        app,
        [
            "robustness",
            "--bundle",
            str(hover_bundle),
            "--episodes",
            "1",
            "--iterations",
            "0",
            "--params",
            "wind",
            "--no-transfer",
            "--no-plots",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "wind [N]" in result.output and "joint randomization" in result.output
    assert (hover_bundle / REPORT_DIR / "robustness.json").is_file()


# ------------------------------------------------------------------------------ the loop hook
def _iteration(tmp_path: Path, i: int, randomize, nominal: float, randomized: float):
    run = tmp_path / f"i{i}"
    run.mkdir()
    (run / "config.json").write_text(json.dumps({"task_id": HOVER.id, "randomize": randomize}))
    cand = CandidateRecord(
        iteration=i,
        index=0,
        proposal=Proposal(response="", designer="offline"),
        status="trained",
        success_rate=nominal,
        randomized_success_rate=randomized,
        run_dir=str(run),
    )
    return IterationRecord(iteration=i, candidates=[cand], best_index=0)


def test_history_outcomes_come_from_the_candidates_training_configs(tmp_path):
    history = [
        _iteration(tmp_path, 0, False, 0.5, 0.4),
        _iteration(tmp_path, 1, {"mass": [0.9, 1.1]}, 1.0, 0.95),
        _iteration(tmp_path, 2, True, 0.8, None),
        IterationRecord(iteration=3, candidates=[]),
    ]
    outcomes = outcomes_from_history(HOVER, history)
    assert [o.iteration for o in outcomes] == [0, 1, 2]
    assert outcomes[0].ranges == {} and outcomes[1].ranges == {"mass": (0.9, 1.1)}
    assert outcomes[2].ranges["motor_lag"] == (0.02, 0.05)  # True: the spec's ranges
    ranges, record = auto_randomization(HOVER, None, history[:2], episodes=2, seed=0)
    assert record["decisions"][0].startswith("widen") and record["sweep"] is None
    assert ranges["mass"] == pytest.approx((0.85, 1.15))  # halfway from (0.9, 1.1) to (0.8, 1.2)
    json.dumps(record)


def test_auto_randomization_sweeps_the_best_bundle_once(hover_bundle, tmp_path):
    bundle = tmp_path / "best"
    bundle.mkdir()
    for f in hover_bundle.iterdir():
        if f.is_file():
            (bundle / f.name).write_bytes(f.read_bytes())
    ranges, record = auto_randomization(HOVER, bundle, [], episodes=1, seed=3)
    report = bundle / REPORT_DIR / "robustness.json"
    assert record["report"] == str(report) and report.is_file()
    low_break, high_break = hover_mass_limits()
    mass_row = next(r for r in record["sweep"] if r["param"] == "mass")
    assert mass_row["safe_low"] > low_break and mass_row["safe_high"] < high_break
    # the first ranges start narrow inside the sweep's bounds
    for row in record["sweep"]:
        lo, hi = ranges[row["param"]]
        assert row["safe_low"] <= lo <= row["nominal"] <= hi <= row["safe_high"]
    stamp = report.stat().st_mtime_ns
    again, record2 = auto_randomization(HOVER, bundle, [], episodes=1, seed=3)
    assert again == ranges and report.stat().st_mtime_ns == stamp  # cached, not swept again
    assert record2["sweep"] == record["sweep"]
    json.dumps(record)


# ------------------------------------------------------------------ randomized vs nominal
@pytest.mark.slow
def test_a_policy_trained_under_randomization_is_more_robust_on_the_same_budget(tmp_path):
    """Observation delay, the classic sim-to-real gap: trained on nominal physics, PPO's hover
    policy uses feedback gains that go unstable once the state it sees is ~3 control steps
    (60 ms) old; trained with ``obs_delay`` randomized over 0-100 ms on the same budget and
    seed, it learns gains that tolerate it. Both are compared on the same seeds and draws."""
    from agentic_rl.ppo import make_config, train

    steps, delay = 200_000, (0.07, 0.1)
    policies = {}
    for name, randomize in (("nominal", False), ("randomized", {"obs_delay": (0.0, 0.1)})):
        cfg = make_config(
            task_id=HOVER.id,
            total_steps=steps,
            seed=0,
            progress=False,
            tensorboard=False,
            eval_episodes=0,
        )
        result = train(cfg, HOVER.id, "reference", tmp_path / name, randomize=randomize)
        policies[name] = load_policy_source(result.out_dir)
    assert policies["randomized"].train_ranges() == {"obs_delay": (0.0, 0.1)}
    seeds = range(40_000_000, 40_000_030)
    late = {}
    for name, policy in policies.items():
        with EpisodeRunner(policy) as runner:
            late[name] = runner.run(seeds, joint_sampler(HOVER.id, {"obs_delay": delay}, 7))
    assert late["randomized"].success_rate >= late["nominal"].success_rate + 0.3, late
    # the sweep tells the same story: the randomized policy keeps its success further out
    settings = SweepSettings(episodes=10, iterations=3, params=("obs_delay",))
    reach = {name: sweep(p, settings).param("obs_delay").high.safe for name, p in policies.items()}
    assert reach["randomized"] > reach["nominal"], reach
