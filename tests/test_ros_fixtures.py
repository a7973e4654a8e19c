"""Shared, session-cached artifacts of the export and ROS bridge tests (no tests here).

A tiny DroneHover policy (2,048 PPO steps: it need not fly well to test export and parity) and
the bundles made from it are built once per test session in pytest's session temp folder, so
every ``test_export*.py`` / ``test_ros_*.py`` module reuses them. Modules import the fixtures
they need from here.
"""

from __future__ import annotations

import fcntl
import itertools
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest


def _cached(factory: pytest.TempPathFactory, name: str, build: Callable[[Path], None]) -> Path:
    """``basetemp/ros_cache/<name>``, built by ``build(path)`` the first time it is asked for."""
    root = factory.getbasetemp() / "ros_cache"
    root.mkdir(exist_ok=True)
    path = root / name
    with open(root / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (root / f"{name}.done").exists():
            build(path)
            (root / f"{name}.done").touch()
    return path


@pytest.fixture(scope="session")
def hover_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A training run folder of a tiny DroneHover policy (checkpoint, policy.npz, config)."""

    def build(path: Path) -> None:
        from agentic_rl.ppo import make_config, train

        cfg = make_config("smoke", task_id="DroneHover", total_steps=2048, eval_episodes=0, seed=1)
        train(cfg, "DroneHover", reward=None, out_dir=path)

    return _cached(tmp_path_factory, "hover_run", build)


@pytest.fixture(scope="session")
def hover_bundle(tmp_path_factory: pytest.TempPathFactory, hover_run: Path) -> Path:
    """The PolicyBundle of :func:`hover_run`."""

    def build(path: Path) -> None:
        from agentic_rl.export import export_bundle

        export_bundle(hover_run, "DroneHover", path, reward_source="# reward\n", golden_episodes=2)

    return _cached(tmp_path_factory, "hover_bundle", build)


def random_policy(obs_size: int, act_size: int, seed: int, scale: float = 0.3):
    """A deterministic policy with random weights (for tasks whose training is too slow here)."""
    from agentic_rl.ppo.networks import Policy

    rng = np.random.default_rng(seed)
    sizes = [obs_size, 32, 32, act_size]
    actor = [
        (rng.normal(0, scale / np.sqrt(a), (a, b)), rng.normal(0, 0.01, b))
        for a, b in itertools.pairwise(sizes)
    ]
    return Policy(
        actor,
        "tanh",
        np.zeros(obs_size),
        np.ones(obs_size),
        10.0,
        -np.ones(act_size),
        np.ones(act_size),
    )


@pytest.fixture(scope="session")
def arm_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An ArmReach joint_delta PolicyBundle with a random-weight policy."""

    def build(path: Path) -> None:
        import sims
        from agentic_rl.export import export_bundle

        spec = sims.get_spec("ArmReach", "joint_delta")
        policy = random_policy(spec.obs_size, spec.action.shape[0], seed=3)
        export_bundle(policy, "ArmReach", path, golden_episodes=1, action_mode="joint_delta")

    return _cached(tmp_path_factory, "arm_bundle", build)


def const_policy(obs_size: int, action: list[float]):
    """A policy that outputs ``action`` whatever it observes (zero weights, output bias)."""
    from agentic_rl.ppo.networks import Policy

    act = np.asarray(action, np.float64)
    actor = [(np.zeros((obs_size, 8)), np.zeros(8)), (np.zeros((8, act.size)), act)]
    return Policy(
        actor,
        "tanh",
        np.zeros(obs_size),
        np.ones(obs_size),
        10.0,
        -np.ones(act.size),
        np.ones(act.size),
    )


def const_bundle(
    factory: pytest.TempPathFactory, task: str, action: list[float], mode: str | None = None
) -> Path:
    """A cached bundle of :func:`const_policy` for ``task``."""
    import sims

    name = f"const_{task}_{mode}_{'_'.join(f'{a:g}' for a in action)}".replace("-", "m")

    def build(path: Path) -> None:
        from agentic_rl.export import export_bundle

        spec = sims.get_spec(task, mode)
        export_bundle(
            const_policy(spec.obs_size, action), task, path, golden_episodes=1, action_mode=mode
        )

    return _cached(factory, name, build)
