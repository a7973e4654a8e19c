"""Camera images to classifier inputs, with numpy only: decoding ``sensor_msgs/Image``,
RGB conversion and exact area-averaging resize (training images go through the same
functions, so the robot sees what the classifier was trained on)."""

from __future__ import annotations

from typing import Any

import numpy as np

#: Per-channel normalization of the classifier input (images are in [0, 1]).
INPUT_MEAN, INPUT_STD = 0.5, 0.25


def _resize_axis(a: np.ndarray, n_out: int, axis: int) -> np.ndarray:
    """Area-average ``a`` along ``axis`` to ``n_out`` samples: output ``i`` is the mean of the
    input over [i, i + 1) * n_in / n_out, pixels weighted by their overlap. Exact, O(n), from
    the running sum evaluated at the fractional edges."""
    n_in = a.shape[axis]
    shape = list(a.shape)
    shape[axis] = 1
    cs = np.concatenate([np.zeros(shape, np.float64), np.cumsum(a, axis, dtype=np.float64)], axis)
    edges = np.linspace(0.0, n_in, n_out + 1)
    lo = np.minimum(np.floor(edges).astype(np.intp), n_in - 1)
    frac = (edges - lo).reshape([-1 if d == axis else 1 for d in range(a.ndim)])
    c0, c1 = np.take(cs, lo, axis), np.take(cs, lo + 1, axis)
    integral = c0 + frac * (c1 - c0)  # running sum at each edge (linear inside a pixel)
    upper = np.take(integral, np.arange(1, n_out + 1), axis)
    lower = np.take(integral, np.arange(n_out), axis)
    return (upper - lower) * (n_out / n_in)


def resize_area(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """Resize an (H, W, C) image by area averaging; returns float32 in the input's scale."""
    img = np.asarray(image, np.float32)
    return _resize_axis(_resize_axis(img, height, 0), width, 1).astype(np.float32)


def as_rgb(image: np.ndarray) -> np.ndarray:
    """An (H, W, 3) uint8 RGB view of a grey, RGB or RGBA image (uint8 or floats in [0, 1]).

    Raises:
        ValueError: for shapes that are not an image.
    """
    img = np.asarray(image)
    if img.ndim == 2:
        img = np.repeat(img[:, :, None], 3, axis=2)
    if img.ndim != 3 or img.shape[2] not in (1, 3, 4) or min(img.shape[:2]) < 2:
        raise ValueError(
            f"expected an image of shape (H, W), (H, W, 3) or (H, W, 4), got {img.shape}"
        )
    if img.shape[2] == 1:
        img = np.repeat(img, 3, axis=2)
    img = img[:, :, :3]
    if img.dtype != np.uint8:
        img = np.clip(np.round(np.asarray(img, np.float64) * 255.0), 0, 255).astype(np.uint8)
    return img


def to_input(image: np.ndarray, size: int) -> np.ndarray:
    """The classifier input for one image: (3, size, size) float32, normalized."""
    rgb = resize_area(as_rgb(image), size, size) / 255.0
    return ((rgb - INPUT_MEAN) / INPUT_STD).transpose(2, 0, 1).astype(np.float32)


_CHANNELS = {"rgb8": (3, (0, 1, 2)), "bgr8": (3, (2, 1, 0)), "rgba8": (4, (0, 1, 2))}
_CHANNELS.update({"bgra8": (4, (2, 1, 0)), "mono8": (1, (0, 0, 0))})


def image_from_msg(msg: Any) -> np.ndarray:
    """An (H, W, 3) uint8 RGB array from a ``sensor_msgs/Image`` (rclpy or rosbags).

    Raises:
        ValueError: for an encoding other than rgb8, bgr8, rgba8, bgra8 or mono8, or a data
            length that does not match height x step.
    """
    enc = str(msg.encoding).lower()
    if enc not in _CHANNELS:
        raise ValueError(
            f"image encoding {msg.encoding!r} is not supported; publish one of "
            f"{sorted(_CHANNELS)} (e.g. through image_proc or a republish node)"
        )
    ch, order = _CHANNELS[enc]
    h, w, step = int(msg.height), int(msg.width), int(msg.step)
    data = np.frombuffer(bytes(msg.data), np.uint8)
    if step < w * ch or data.size < h * step:
        raise ValueError(
            f"image data has {data.size} bytes; {h} rows x step {step} (width {w} x {ch} "
            "channels) do not fit"
        )
    rows = data[: h * step].reshape(h, step)[:, : w * ch].reshape(h, w, ch)
    return np.ascontiguousarray(rows[:, :, list(order)])
