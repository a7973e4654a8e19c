"""Randomized scene renders: the training and test images of the offline selector.

A :class:`SceneRandomizer` keeps one env of a task and renders its scene as a camera would see
it, varying everything but the task's identity:

* object placement: every render is a fresh ``reset`` (the task draws its gates, pillars,
  walls, pads and goal markers per episode);
* camera pose: target, distance, yaw, pitch and field of view jittered around the task's
  overview camera, at a random aspect ratio;
* lighting: direction, colour, ambient/diffuse/specular shares and shadows;
* colours: the floor gets a random muted colour, every other body a jitter of its own colour
  (hue, saturation, brightness), so a green goal marker stays greenish and an orange gate
  orangeish; the background (sky) gets a random vertical gradient;
* sensor: Gaussian pixel noise.

Renders go through PyBullet's TinyRenderer with the env's own client (no ``sims`` change).
:func:`non_scene` draws the synthetic images of the "none" class (noise, colour fields and
blobs) that teach the classifier to say "not a library scene".
"""

from __future__ import annotations

import colorsys
import math
from dataclasses import dataclass

import numpy as np
import pybullet as p

import sims

#: How far the camera may wander from the task's overview camera.
TARGET_JITTER_M = 0.3
DISTANCE_SCALE = (0.55, 1.05)
YAW_JITTER_DEG = 30.0
PITCH_JITTER_DEG = 10.0
FOV_DEG = (50.0, 70.0)
ASPECTS = (1.0, 4.0 / 3.0, 16.0 / 9.0)
#: Hue jitter of task bodies (fraction of the colour circle): small enough to keep colour cues.
HUE_JITTER = 0.04


@dataclass(frozen=True)
class _Visual:
    body: int
    link: int
    shape: int
    rgba: tuple[float, float, float, float]


class SceneRandomizer:
    """Renders randomized scenes of one task.

    Args:
        task_id: any task name ``sims`` resolves.
        render_scale: render at this multiple of the requested size, then average down: small
            goal markers survive as blended pixels, as they do when a large photo is shrunk.

    Use as a context manager, or call :meth:`close`.
    """

    def __init__(self, task_id: str, render_scale: int = 2) -> None:
        self.task_id, _ = sims.resolve(task_id)
        self.env = sims.make(self.task_id)
        self.render_scale = int(render_scale)
        cid = self.env.client
        # The world is built once and never rebuilt, so the visual shapes found now are all
        # there will be; remember their own colours to jitter from (not from the last jitter).
        ground = getattr(self.env, "ground", None)
        self._visuals: list[_Visual] = []
        self._ground: list[_Visual] = []
        for body in range(p.getNumBodies(physicsClientId=cid)):
            uid = p.getBodyUniqueId(body, physicsClientId=cid)
            per_link: dict[int, int] = {}
            for row in p.getVisualShapeData(uid, physicsClientId=cid):
                link = int(row[1])
                idx = per_link.get(link, 0)
                per_link[link] = idx + 1
                v = _Visual(uid, link, idx, tuple(float(c) for c in row[7]))
                (self._ground if uid == ground else self._visuals).append(v)

    def __enter__(self) -> SceneRandomizer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.env.close()

    def render(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """One randomized scene: (H, W, 3) uint8 at ``render_scale`` x ``size`` rows and a
        random aspect ratio (the selector's ``to_input``, :mod:`agentic_rl.export.scenes`, squares it)."""
        env = self.env
        env.reset(seed=int(rng.integers(2**31 - 1)))
        self._recolour(rng)
        height = size * self.render_scale
        width = round(height * ASPECTS[int(rng.integers(len(ASPECTS)))])
        # The overview camera is the task's own framing of its scene (SimTask._camera); the
        # jitter below keeps the task's objects in view.
        (tx, ty, tz), dist, yaw, pitch = env.unwrapped._camera()
        target = (
            tx + rng.normal(0.0, TARGET_JITTER_M),
            ty + rng.normal(0.0, TARGET_JITTER_M),
            max(0.0, tz + rng.normal(0.0, TARGET_JITTER_M / 2)),
        )
        view = p.computeViewMatrixFromYawPitchRoll(
            target,
            dist * rng.uniform(*DISTANCE_SCALE),
            yaw + rng.uniform(-YAW_JITTER_DEG, YAW_JITTER_DEG),
            float(np.clip(pitch + rng.uniform(-PITCH_JITTER_DEG, PITCH_JITTER_DEG), -80, -8)),
            rng.normal(0.0, 2.0),  # a slightly rolled camera
            2,
        )
        proj = p.computeProjectionMatrixFOV(rng.uniform(*FOV_DEG), width / height, 0.05, 50.0)
        elevation = rng.uniform(0.3, 1.3)
        heading = rng.uniform(0.0, 2 * math.pi)
        light = [
            math.cos(heading) * math.cos(elevation),
            math.sin(heading) * math.cos(elevation),
            math.sin(elevation),
        ]
        tint = np.clip(rng.normal(1.0, 0.08, 3), 0.75, 1.0)
        _, _, rgba, _, seg = p.getCameraImage(
            width,
            height,
            view,
            proj,
            lightDirection=light,
            lightColor=tint.tolist(),
            lightDistance=10.0,
            shadow=int(rng.random() < 0.5),
            lightAmbientCoeff=rng.uniform(0.35, 0.75),
            lightDiffuseCoeff=rng.uniform(0.3, 0.7),
            lightSpecularCoeff=rng.uniform(0.0, 0.3),
            renderer=p.ER_TINY_RENDERER,
            physicsClientId=env.client,
        )
        img = np.asarray(rgba, np.uint8).reshape(height, width, 4)[:, :, :3].astype(np.float32)
        sky = np.asarray(seg).reshape(height, width) < 0
        img[sky] = _sky(rng, height)[np.nonzero(sky)[0]]
        img += rng.normal(0.0, rng.uniform(0.0, 6.0), img.shape)
        return np.clip(img, 0, 255).astype(np.uint8)

    def _recolour(self, rng: np.random.Generator) -> None:
        cid = self.env.client
        for v in self._visuals:
            _set_colour(v, _jitter(v.rgba, rng), cid)
        # floors in the wild: any hue, muted (a saturated floor would mimic a goal marker)
        floor = colorsys.hsv_to_rgb(rng.random(), rng.uniform(0.0, 0.35), rng.uniform(0.3, 0.85))
        for v in self._ground:
            _set_colour(v, (*floor, 1.0), cid)


def _set_colour(v: _Visual, rgba: tuple[float, ...], cid: int) -> None:
    p.changeVisualShape(
        v.body, v.link, shapeIndex=v.shape, rgbaColor=list(rgba), physicsClientId=cid
    )


def _jitter(rgba: tuple[float, float, float, float], rng: np.random.Generator) -> tuple[float, ...]:
    h, s, v = colorsys.rgb_to_hsv(*rgba[:3])
    h = (h + rng.uniform(-HUE_JITTER, HUE_JITTER)) % 1.0
    s = float(np.clip(s * rng.uniform(0.75, 1.15), 0.0, 1.0))
    v = float(np.clip(v * rng.uniform(0.7, 1.2), 0.05, 1.0))
    return (*colorsys.hsv_to_rgb(h, s, v), 1.0)


def _sky(rng: np.random.Generator, height: int) -> np.ndarray:
    """(height, 3) colours of a vertical background gradient (sky, wall or studio)."""
    top = np.array(colorsys.hsv_to_rgb(rng.random(), rng.uniform(0, 0.5), rng.uniform(0.5, 1)))
    bottom = top * rng.uniform(0.7, 1.1) + rng.normal(0.0, 0.05, 3)
    w = np.linspace(0.0, 1.0, height)[:, None]
    return (np.clip((1 - w) * top + w * bottom, 0, 1) * 255).astype(np.float32)


def non_scene(rng: np.random.Generator, size: int) -> np.ndarray:
    """A synthetic image that is no task scene: noise, a colour field, or blobs on one."""
    h = size * 2
    w = round(h * ASPECTS[int(rng.integers(len(ASPECTS)))])
    kind = rng.integers(3)
    if kind == 0:
        # noise of any contrast around any colour, fine or blocky: a shrunken photo of
        # static is a faint noise field, a close-up of texture a strong one
        k = int(rng.integers(1, 17)) if rng.random() < 0.5 else 1
        noise = rng.uniform(-1, 1, (h // k + 1, w // k + 1, 3))
        img = np.kron(noise, np.ones((k, k, 1)))[:h, :w]
        img = rng.uniform(0, 255, 3) + img * rng.uniform(5, 128)
    else:
        a, b = rng.uniform(0, 255, 3), rng.uniform(0, 255, 3)
        t = (
            np.linspace(0, 1, w)[None, :, None]
            if rng.random() < 0.5
            else np.linspace(0, 1, h)[:, None, None]
        )
        img = np.broadcast_to((1 - t) * a + t * b, (h, w, 3)).copy()
        if kind == 2:
            yy, xx = np.mgrid[:h, :w]
            for _ in range(int(rng.integers(1, 8))):
                cy, cx, r = rng.uniform(0, h), rng.uniform(0, w), rng.uniform(3, h / 3)
                img[(yy - cy) ** 2 + (xx - cx) ** 2 < r * r] = rng.uniform(0, 255, 3)
    img = img + rng.normal(0, rng.uniform(0, 8), img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)
