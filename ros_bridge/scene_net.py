"""The scene classifier (a small CNN) evaluated with numpy, from the weights
``agentic-rl library train-selector`` wrote."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np


class SceneNet:
    """The scene classifier evaluated with numpy (the torch twin is in ``agentic_rl.scenes``).

    Args:
        weights: ``conv{i}.weight`` (out, in, 3, 3), ``conv{i}.bias``, ``fc.weight``
            (classes, 2 x channels), ``fc.bias``.
        layers: (stride, pool) of each convolution: padding is always 1, and ``pool`` > 1
            max-pools the ReLU output over ``pool`` x ``pool`` blocks.
    """

    def __init__(self, weights: Mapping[str, np.ndarray], layers: Sequence[Sequence[int]]) -> None:
        self.convs = [
            (
                np.asarray(weights[f"conv{i}.weight"], np.float32),
                np.asarray(weights[f"conv{i}.bias"], np.float32),
                int(stride),
                int(pool),
            )
            for i, (stride, pool) in enumerate(layers)
        ]
        self.fc_w = np.asarray(weights["fc.weight"], np.float32)
        self.fc_b = np.asarray(weights["fc.bias"], np.float32)

    def logits(self, x: np.ndarray) -> np.ndarray:
        """Class logits for a batch (N, 3, S, S) or one image (3, S, S)."""
        with _one_blas_thread():
            return self._logits(x)

    def _logits(self, x: np.ndarray) -> np.ndarray:
        single = x.ndim == 3
        h = np.asarray(x, np.float32)[None] if single else np.asarray(x, np.float32)
        h = np.ascontiguousarray(h.transpose(0, 2, 3, 1))  # NHWC: channels last for im2col
        for w, b, s, pool in self.convs:
            n = h.shape[0]
            padded = np.pad(h, ((0, 0), (1, 1), (1, 1), (0, 0)))
            # im2col: (N, H', W', C, 3, 3) windows at the stride -> rows of C*9, one BLAS
            # matrix product with the kernels (an einsum over the 6-D view is ~5x slower)
            win = np.lib.stride_tricks.sliding_window_view(padded, (3, 3), axis=(1, 2))
            win = win[:, ::s, ::s]
            hh, ww = win.shape[1], win.shape[2]
            cols = win.reshape(n * hh * ww, -1)
            h = (cols @ w.reshape(w.shape[0], -1).T + b).reshape(n, hh, ww, w.shape[0])
            np.maximum(h, 0.0, out=h)
            if pool > 1:  # floor division of odd sizes, as torch's max_pool2d does
                hh, ww = hh // pool * pool, ww // pool * pool
                h = h[:, :hh, :ww].reshape(n, hh // pool, pool, ww // pool, pool, -1)
                h = h.max(axis=(2, 4))
        pooled = np.concatenate([h.max(axis=(1, 2)), h.mean(axis=(1, 2))], axis=1)
        out = pooled @ self.fc_w.T + self.fc_b
        return out[0] if single else out


_BLAS: list[Any] = []


def _one_blas_thread() -> Any:
    """A context in which numpy's BLAS uses one thread (threadpoolctl, when installed).

    The products here are small: on a busy machine a multi-threaded BLAS spends more time
    waiting for its threads to get a core than computing (3x the latency, measured)."""
    if not _BLAS:
        try:
            from threadpoolctl import ThreadpoolController

            _BLAS.append(ThreadpoolController())
        except ImportError:  # the robot may not have it: numpy's default threading then
            _BLAS.append(None)
    ctl = _BLAS[0]
    return ctl.limit(limits=1, user_api="blas") if ctl is not None else contextlib.nullcontext()


def softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - np.max(z, axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)
