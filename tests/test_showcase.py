"""Views a person judges a policy by: the follow camera and the trajectory plots."""

from __future__ import annotations

import numpy as np

import sims
from agentic_rl.showcase import save_trajectory_plot, tracks_from_states


def _red(img: np.ndarray) -> int:
    f = img.astype(int)
    return int(((f[..., 0] > 120) & (f[..., 1] < 70) & (f[..., 2] < 70)).sum())


def _green(img: np.ndarray) -> int:
    f = img.astype(int)
    return int(((f[..., 1] > 90) & (f[..., 0] < 60) & (f[..., 2] < 60)).sum())


def test_follow_camera_shows_the_drone_large_and_the_goal_in_view():
    env = sims.make("DroneHover", render_mode="rgb_array", render_size=(320, 240))
    env.reset(seed=5)
    frame = env.render()
    overview = env.unwrapped.scene_image(320, 240)
    # the drone's red rotors cover several times the pixels of the overview camera's view
    assert _red(frame) >= 3 * max(_red(overview), 1)
    assert _green(frame) > 10  # the goal marker is in the picture
    env.close()


def test_trajectory_plot_from_recorded_states(tmp_path):
    env = sims.make("DroneHover")
    spec = env.unwrapped.task_spec
    episodes = []
    for seed in (0, 1):
        _, info = env.reset(seed=seed)
        states, done = [], False
        while not done and len(states) < 60:
            _, _, term, trunc, info = env.step(np.zeros(env.action_space.shape))
            states.append(info["state"])
            done = term or trunc
        episodes.append((states, seed == 0, "timeout"))
    tracks = tracks_from_states(spec, episodes)
    assert len(tracks) == 2 and tracks[0].positions.shape == (len(episodes[0][0]), 3)
    # the goal point is the robot position plus the declared goal offset
    s0 = episodes[0][0][0]
    assert np.allclose(tracks[0].goals[0], np.asarray(s0["pos"]) + np.asarray(s0["goal_rel"]))
    path = save_trajectory_plot(tracks, "hover", tmp_path / "t.png")
    assert path is not None and path.stat().st_size > 5_000
    env.close()


def test_policy_views_land_in_the_report(tmp_path):
    """write_policy_views runs real episodes; the report shows final next to iteration 0."""
    from agentic_rl.ppo.networks import Policy
    from agentic_rl.report.page import _views_html
    from agentic_rl.showcase import write_policy_views

    spec = sims.get_spec("DroneHover")
    rng = np.random.default_rng(0)
    n_obs, n_act = spec.obs_size, spec.action.shape[0]
    policy = Policy(
        [(rng.normal(0, 0.1, (n_obs, 8)), np.zeros(8)), (rng.normal(0, 0.1, (8, n_act)), np.zeros(n_act))],
        "tanh",
        np.zeros(n_obs),
        np.ones(n_obs),
        10.0,
        -np.ones(n_act),
        np.ones(n_act),
    )  # fmt: skip
    path = policy.save(tmp_path / "policy.npz")
    for key in ("final", "initial"):
        views = write_policy_views(
            path, spec.id, tmp_path / "run" / "views" / key, [5, 6], key, size=(160, 120)
        )
        assert views.episodes == 2 and views.gif.stat().st_size > 1_000
        assert views.trajectories is not None
    html = _views_html(tmp_path / "run")
    assert html.count("image/gif") == 2 and "iteration 0's best" in html
