"""ONNX export of a deterministic :class:`~agentic_rl.ppo.networks.Policy`.

The graph holds everything a robot needs between the raw observation and the action:
observation normalization with the training statistics (and its clip), the actor MLP, and the
clip to the action bounds. It is built in float64, so onnxruntime on a robot reproduces the
numpy policy used in simulation to ~1e-12 rather than float32's ~1e-6.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from agentic_rl.ppo.networks import Policy

#: Names of the graph's input and output, read by ``ros_bridge`` from ``bundle.json``.
INPUT_NAME = "obs"
OUTPUT_NAME = "action"
#: ONNX opset: 17 is supported by every onnxruntime since 1.13 (Humble-era robots included).
OPSET = 17
#: Largest allowed difference between the exported ONNX graph and the torch policy.
ONNX_ATOL = 1e-5


class DeployActor(nn.Module):
    """normalize -> clip -> MLP -> clip, as one torch module (float64) for export.

    Args:
        policy: the deterministic policy whose arrays are copied (not shared).
    """

    def __init__(self, policy: Policy) -> None:
        super().__init__()
        size = policy.obs_mean.size
        self.register_buffer("mean", torch.from_numpy(policy.obs_mean.astype(np.float64)))
        # An infinite clip (normalization disabled) cannot be a finite tensor constant that
        # Clip accepts on every runtime; use the largest double instead, the same no-op.
        clip = policy.clip_obs if np.isfinite(policy.clip_obs) else np.finfo(np.float64).max
        self.register_buffer("std", torch.from_numpy(policy.obs_std.astype(np.float64)))
        self.register_buffer("clip_obs", torch.tensor(float(clip), dtype=torch.float64))
        self.register_buffer("low", torch.from_numpy(policy.action_low.astype(np.float64)))
        self.register_buffer("high", torch.from_numpy(policy.action_high.astype(np.float64)))
        act = nn.Tanh if policy.activation == "tanh" else nn.ReLU
        layers: list[nn.Module] = []
        n_in = size
        for i, (w, b) in enumerate(policy.actor):
            lin = nn.Linear(n_in, w.shape[1], dtype=torch.float64)
            with torch.no_grad():
                lin.weight.copy_(torch.from_numpy(w.T.copy()))
                lin.bias.copy_(torch.from_numpy(b.copy()))
            layers.append(lin)
            if i < len(policy.actor) - 1:
                layers.append(act())
            n_in = w.shape[1]
        self.mlp = nn.Sequential(*layers)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        x = (obs - self.mean) / self.std
        x = torch.clamp(x, -self.clip_obs, self.clip_obs)
        return torch.clamp(self.mlp(x), self.low, self.high)


def export_onnx(policy: Policy, path: str | Path) -> Path:
    """Write ``policy`` as an ONNX graph with a dynamic batch axis and check it.

    Args:
        policy: the policy to export.
        path: output ``.onnx`` file.

    Returns:
        The path written.

    Raises:
        onnx.checker.ValidationError: if the exported graph is malformed.
    """
    import onnx

    path = Path(path)
    module = DeployActor(policy).eval()
    example = torch.zeros(1, policy.obs_mean.size, dtype=torch.float64)
    with warnings.catch_warnings():
        # torch >= 2.9 flags the TorchScript exporter as legacy; it is still the one that
        # needs no onnxscript and gives a single-file graph, so its deprecation notes are noise.
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(
            module,
            (example,),
            str(path),
            input_names=[INPUT_NAME],
            output_names=[OUTPUT_NAME],
            dynamic_axes={INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}},
            opset_version=OPSET,
            dynamo=False,
        )
    onnx.checker.check_model(onnx.load(str(path)), full_check=True)
    return path


def torch_actions(policy: Policy, obs: np.ndarray) -> np.ndarray:
    """Actions of the export module in torch (the reference the ONNX graph is checked against)."""
    module = DeployActor(policy).eval()
    with torch.no_grad():
        return module(torch.from_numpy(np.asarray(obs, np.float64))).numpy()


def check_onnx_against_torch(bundle: Path, policy_path: Path) -> float:
    """Run the bundle's ONNX graph (onnxruntime) and the torch policy on the bundle's golden
    observations; raise if they disagree by more than :data:`ONNX_ATOL`."""
    import onnxruntime

    from agentic_rl.ppo import load_policy

    obs = np.load(bundle / "golden.npz")["obs"]
    session = onnxruntime.InferenceSession(str(bundle / "policy.onnx"))
    onnx_out = session.run(None, {session.get_inputs()[0].name: obs})[0]
    error = float(np.max(np.abs(onnx_out - torch_actions(load_policy(policy_path), obs))))
    if not error <= ONNX_ATOL:
        raise RuntimeError(
            f"exported ONNX policy differs from the torch policy by {error:.2e} "
            f"(> {ONNX_ATOL:g}) on the golden observations; the bundle was not installed"
        )
    return error
