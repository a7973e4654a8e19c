"""The scene classifier: a small CNN trained with PyTorch on CPU, evaluated with numpy.

:class:`SceneCNN` is exported as an ONNX graph (:mod:`agentic_rl.export.scenes`) and mirrors
the robot's numpy fallback ``ros_bridge.scene_net.SceneNet`` layer for layer (3x3 convolutions
with padding 1, ReLU, global max and mean pooling, one linear layer), so the robot needs no
torch. Datasets come from
:mod:`agentic_rl.scenes.render`, rendered per class with their own seed range, so training
and held-out images never share a scene.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from agentic_rl.export.scenes import NONE_CLASS, to_input
from agentic_rl.scenes.render import SceneRandomizer, non_scene

#: (out_channels, stride, max_pool) of each convolution (128 px input: 128 -> 64 -> 32 -> 16). Full
#: resolution first, then max pooling: a goal marker a few pixels wide survives the pooling
#: (a strided convolution would skip over it).
DEFAULT_LAYERS: tuple[tuple[int, int, int], ...] = ((8, 1, 2), (16, 1, 2), (24, 1, 2), (32, 1, 1))


class SceneCNN(nn.Module):
    """The classifier network (the torch twin of ``ros_bridge.scene_net.SceneNet``).

    Args:
        n_classes: number of output classes.
        layers: (out_channels, stride, max_pool) per 3x3 convolution.
    """

    def __init__(
        self, n_classes: int, layers: Sequence[tuple[int, int, int]] = DEFAULT_LAYERS
    ) -> None:
        super().__init__()
        convs, c_in = [], 3
        for c_out, stride, _ in layers:
            convs.append(nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1))
            c_in = c_out
        self.convs = nn.ModuleList(convs)
        self.fc = nn.Linear(2 * c_in, n_classes)
        #: (stride, pool) per convolution, as ``SceneNet`` takes them
        self.layers = [(s, pool) for _, s, pool in layers]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for conv, (_, pool) in zip(self.convs, self.layers, strict=True):
            x = torch.relu(conv(x))
            if pool > 1:
                x = nn.functional.max_pool2d(x, pool)
        # max pooling finds a few-pixel goal marker anywhere; the mean sees large structures
        pooled = torch.cat([x.amax(dim=(2, 3)), x.mean(dim=(2, 3))], dim=1)
        return self.fc(pooled)

    def numpy_weights(self) -> dict[str, np.ndarray]:
        """The weights under the names ``SceneNet`` reads."""
        out = {}
        for i, conv in enumerate(self.convs):
            out[f"conv{i}.weight"] = conv.weight.detach().numpy().copy()
            out[f"conv{i}.bias"] = conv.bias.detach().numpy().copy()
        out["fc.weight"] = self.fc.weight.detach().numpy().copy()
        out["fc.bias"] = self.fc.bias.detach().numpy().copy()
        return out


@dataclass
class Dataset:
    """Classifier inputs (N, 3, S, S) with integer labels into ``classes``."""

    x: np.ndarray
    y: np.ndarray
    classes: list[str]

    def __len__(self) -> int:
        return len(self.y)


#: Called after each rendered image with (done, total).
Progress = Callable[[int, int], None]


def render_dataset(
    task_ids: Sequence[str],
    per_class: int,
    input_size: int,
    *,
    seed: int = 0,
    with_none: bool = True,
    progress: Progress | None = None,
) -> Dataset:
    """Render ``per_class`` randomized scenes of each task (and synthetic non-scenes).

    Args:
        task_ids: the classes, in label order (the "none" class comes last).
        per_class: images per class.
        input_size: side of the square classifier input.
        seed: first seed; image ``i`` of class ``c`` is drawn from seed ``(seed, c, i)``, so
            disjoint seed ranges give disjoint scenes.
        with_none: add the "none" class of synthetic non-scene images.
        progress: optional callback.
    """
    classes = [*task_ids, *([NONE_CLASS] if with_none else [])]
    total = per_class * len(classes)
    xs = np.empty((total, 3, input_size, input_size), np.float32)
    ys = np.empty(total, np.int64)
    k = 0
    # A render height a third above the input: the area resize then blends small markers the
    # way it blends them when a large photo is shrunk at selection time.
    render_size = input_size * 4 // 3
    for label, cls in enumerate(classes):
        randomizer = SceneRandomizer(cls, render_scale=1) if cls != NONE_CLASS else None
        try:
            for i in range(per_class):
                rng = np.random.default_rng((seed, label, i))
                img = (
                    randomizer.render(rng, render_size)
                    if randomizer is not None
                    else non_scene(rng, render_size // 2)
                )
                xs[k], ys[k] = to_input(img, input_size), label
                k += 1
                if progress is not None:
                    progress(k, total)
        finally:
            if randomizer is not None:
                randomizer.close()
    return Dataset(xs, ys, classes)


@dataclass
class TrainReport:
    """What :func:`train_classifier` measured."""

    epochs: int
    train_images: int
    train_accuracy: float
    seconds: float
    losses: list[float] = field(default_factory=list)


def train_classifier(
    data: Dataset,
    *,
    epochs: int = 16,
    batch_size: int = 32,
    lr: float = 5e-3,
    seed: int = 0,
    layers: Sequence[tuple[int, int, int]] = DEFAULT_LAYERS,
    threads: int = 1,
    progress: Callable[[int, float], None] | None = None,
) -> tuple[SceneCNN, TrainReport]:
    """Train a :class:`SceneCNN` with Adam and cross-entropy, one CPU thread by default.

    Augmentation per batch: horizontal flips (scenes have no handedness a camera could not
    see) and a random brightness/contrast change.
    """
    torch.manual_seed(seed)
    prev_threads = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        net = SceneCNN(len(data.classes), layers)
        opt = torch.optim.Adam(net.parameters(), lr=lr)
        sched = torch.optim.lr_scheduler.OneCycleLR(
            opt, max_lr=lr, total_steps=epochs * -(-len(data) // batch_size)
        )
        x_all, y_all = torch.from_numpy(data.x), torch.from_numpy(data.y)
        gen = torch.Generator().manual_seed(seed)
        losses = []
        start = time.perf_counter()
        for epoch in range(epochs):
            net.train()
            order = torch.randperm(len(data), generator=gen)
            total = 0.0
            for b in range(0, len(data), batch_size):
                idx = order[b : b + batch_size]
                x, y = x_all[idx], y_all[idx]
                flip = torch.rand(len(idx), generator=gen) < 0.5
                x = torch.where(flip[:, None, None, None], x.flip(3), x)
                gain = 1.0 + 0.2 * (torch.rand(len(idx), 1, 1, 1, generator=gen) - 0.5)
                shift = 0.3 * (torch.rand(len(idx), 1, 1, 1, generator=gen) - 0.5)
                loss = nn.functional.cross_entropy(net(x * gain + shift), y)
                opt.zero_grad()
                loss.backward()
                opt.step()
                sched.step()
                total += float(loss.detach()) * len(idx)
            losses.append(total / len(data))
            if progress is not None:
                progress(epoch + 1, losses[-1])
        seconds = time.perf_counter() - start
        acc = accuracy(net, data)
    finally:
        torch.set_num_threads(prev_threads)
    return net, TrainReport(epochs, len(data), acc, seconds, losses)


@torch.no_grad()
def predict(net: SceneCNN, x: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """Predicted labels for inputs (N, 3, S, S)."""
    net.eval()
    out = [
        net(torch.from_numpy(x[b : b + batch_size])).argmax(1).numpy()
        for b in range(0, len(x), batch_size)
    ]
    return np.concatenate(out) if out else np.empty(0, np.int64)


def accuracy(net: SceneCNN, data: Dataset) -> float:
    return float(np.mean(predict(net, data.x) == data.y)) if len(data) else float("nan")


def confusion(net: SceneCNN, data: Dataset) -> np.ndarray:
    """(true, predicted) counts."""
    n = len(data.classes)
    m = np.zeros((n, n), np.int64)
    np.add.at(m, (data.y, predict(net, data.x)), 1)
    return m
