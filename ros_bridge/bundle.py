"""Reading a PolicyBundle folder and running its policy (onnxruntime, or numpy as a fallback).

This module needs numpy only; onnxruntime is used when it is installed. It knows nothing of
training: everything it needs is in the bundle folder written by ``agentic_rl.export``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .meta import BundleMeta, FieldMeta, MetaError

REQUIRED_FILES = ("bundle.json", "policy.onnx", "weights.npz", "golden.npz")


class BundleError(ValueError):
    """A bundle folder that is missing, incomplete or of an unknown format."""


@dataclass
class PolicyBundle:
    """A loaded bundle: metadata, policy arrays and golden pairs.

    Attributes:
        path: the bundle folder.
        meta: the parsed ``bundle.json``.
        fields: the observation's fields, in order.
        golden_obs: golden observations, shape (N, obs_size).
        golden_action: the simulator's actions for them, shape (N, act_size).
    """

    path: Path
    meta: BundleMeta
    fields: tuple[FieldMeta, ...]
    golden_obs: np.ndarray
    golden_action: np.ndarray
    weights: dict[str, np.ndarray] = field(repr=False)

    @property
    def task_id(self) -> str:
        return self.meta.task.id

    @property
    def control_hz(self) -> float:
        return float(self.meta.task.control_hz)

    @property
    def obs_size(self) -> int:
        return self.meta.observation.size

    @property
    def action_size(self) -> int:
        return int(np.prod(self.meta.action.shape))

    @property
    def action_low(self) -> np.ndarray:
        return np.asarray(self.meta.action.low, np.float64)

    @property
    def action_high(self) -> np.ndarray:
        return np.asarray(self.meta.action.high, np.float64)

    @property
    def command(self) -> dict[str, Any]:
        """How a normalized action maps to a physical command (see ``agentic_rl.export``)."""
        return dict(self.meta.command)

    @property
    def golden_atol(self) -> float:
        return float(self.meta.golden.atol)

    def field(self, name: str) -> FieldMeta:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(f"bundle has no observation field {name!r}")

    def make_policy(self, backend: str = "auto") -> InferencePolicy:
        """A callable policy for one observation: ``backend`` is auto, onnxruntime or numpy."""
        return InferencePolicy(self, backend)


def load_bundle(path: str | Path) -> PolicyBundle:
    """Load a PolicyBundle folder.

    Raises:
        BundleError: if the folder or one of its files is missing, or its format or version is
            unknown, or the weights do not match the declared observation and action sizes.
    """
    root = Path(path)
    if not root.is_dir():
        raise BundleError(
            f"no PolicyBundle at {root}: export one with `agentic-rl export` or "
            "agentic_rl.export.export_bundle(...)"
        )
    missing = [name for name in REQUIRED_FILES if not (root / name).is_file()]
    if missing:
        raise BundleError(f"PolicyBundle {root} is incomplete: missing {missing}")
    try:
        raw = json.loads((root / "bundle.json").read_text())
    except json.JSONDecodeError as exc:
        raise BundleError(f"{root / 'bundle.json'} is not valid JSON: {exc}") from None
    try:
        meta = BundleMeta.from_dict(raw, str(root / "bundle.json"))
    except MetaError as exc:
        raise BundleError(str(exc)) from None
    fields = meta.observation.fields
    try:
        with np.load(root / "weights.npz") as data:
            weights = {k: data[k] for k in data.files}
        with np.load(root / "golden.npz") as data:
            golden_obs = np.asarray(data["obs"], np.float64)
            golden_action = np.asarray(data["action"], np.float64)
    except (ValueError, OSError, KeyError, EOFError) as exc:  # truncated, corrupt, foreign
        raise BundleError(
            f"PolicyBundle {root}: weights.npz or golden.npz is unreadable ({exc}); "
            "re-export the bundle"
        ) from None
    obs_size = meta.observation.size
    if weights["obs_mean"].shape != (obs_size,) or golden_obs.shape[1:] != (obs_size,):
        raise BundleError(
            f"PolicyBundle {root}: weights or golden pairs do not match the declared "
            f"observation size {obs_size}"
        )
    return PolicyBundle(root, meta, fields, golden_obs, golden_action, weights)


class InferencePolicy:
    """The bundle's deterministic policy: observation -> clipped action.

    Uses onnxruntime on ``policy.onnx`` when available (``backend="auto"`` or
    ``"onnxruntime"``), else the numpy twin in ``weights.npz``. Both contain normalization and
    action clipping, so either gives the action the simulator would have applied.

    Args:
        bundle: the loaded bundle.
        backend: ``"auto"``, ``"onnxruntime"`` or ``"numpy"``.

    Raises:
        BundleError: for an unknown backend, or ``"onnxruntime"`` when it is not installed.
    """

    def __init__(self, bundle: PolicyBundle, backend: str = "auto") -> None:
        if backend not in ("auto", "onnxruntime", "numpy"):
            raise BundleError(f"backend must be auto, onnxruntime or numpy; got {backend!r}")
        self._session = None
        if backend in ("auto", "onnxruntime"):
            try:
                import onnxruntime as ort
            except ImportError:
                if backend == "onnxruntime":
                    raise BundleError(
                        "backend 'onnxruntime' requested but onnxruntime is not installed "
                        "(pip install onnxruntime), or use backend='numpy'"
                    ) from None
            else:
                opts = ort.SessionOptions()
                # One thread: the network is tiny and a robot's other nodes need the cores;
                # thread-pool wake-ups would cost more than the matrix products.
                opts.intra_op_num_threads = 1
                opts.inter_op_num_threads = 1
                self._session = ort.InferenceSession(
                    str(bundle.path / bundle.meta.policy.onnx),
                    sess_options=opts,
                    providers=["CPUExecutionProvider"],
                )
                self._input = bundle.meta.policy.input
        self.backend = "onnxruntime" if self._session is not None else "numpy"
        w = bundle.weights
        n = sum(1 for k in w if k.startswith("W"))
        self._layers = [(w[f"W{i}"], w[f"b{i}"]) for i in range(n)]
        self._tanh = str(w["activation"]) == "tanh"
        self._mean = w["obs_mean"]
        self._std = w["obs_std"]
        self._clip = float(w["clip_obs"])
        self._low = w["action_low"]
        self._high = w["action_high"]

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        """Action for one observation (shape (obs_size,)) or a batch (N, obs_size)."""
        x = np.asarray(obs, np.float64)
        if self._session is not None:
            batch = x if x.ndim == 2 else x[None]
            out = self._session.run(None, {self._input: batch})[0]
            return out if x.ndim == 2 else out[0]
        return self.numpy(x)

    def numpy(self, obs: np.ndarray) -> np.ndarray:
        """The numpy fallback (also used to cross-check onnxruntime in the self-test)."""
        x = np.clip((obs - self._mean) / self._std, -self._clip, self._clip)
        for w, b in self._layers[:-1]:
            x = x @ w + b
            x = np.tanh(x) if self._tanh else np.maximum(x, 0.0)
        w, b = self._layers[-1]
        return np.clip(x @ w + b, self._low, self._high)
