"""Offline scenario selector: held-out accuracy and selection latency (issue 10 targets).

Targets: >= 95% top-1 accuracy on held-out rendered scenes across the six drone tasks, and
selection under 50 ms on the CPU.

In one run:

* builds a policy library of the six drone tasks (zero-action policies: selection never looks
  at the weights) in a temporary folder, or uses ``--library``;
* trains the offline selector exactly as ``agentic-rl library train-selector`` does and takes
  its held-out top-1 accuracy (image only; scenes from a seed range training never saw, at
  the classifier's render size);
* renders ``--deploy`` further scenes per task at full camera size (320x240 style, random
  aspect) and measures, through the public ``select()`` path: image-only accuracy, accuracy
  with a paraphrased instruction, and the latency of one selection (resize + CNN + text),
  with the exported ONNX graph on onnxruntime (what ``select`` and the robot run) and with its
  numpy fallback (what a robot without onnxruntime runs), and how often the two agree;
* reports wall time and this process's CPU time per selection (on a shared machine the wall
  time includes waiting for a core; numpy's BLAS threads count in the CPU time);
* measures the baseline in the same run: decoding the same scene from a PNG file (what
  ``agentic-rl select --image`` does before selecting). Latency is reported as a ratio to it.

Usage: ``python benchmarks/selector.py [--json] [--per-class 250] [--held-out 50]
[--epochs 25] [--input-size 128] [--deploy 20] [--library DIR]``
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

import sims
from agentic_rl.export import export_bundle
from agentic_rl.library import Library
from agentic_rl.ppo.networks import Policy
from agentic_rl.scenes import load_image, make_selector
from agentic_rl.scenes.offline import TrainSettings, train_offline_selector
from agentic_rl.scenes.render import SceneRandomizer
from agentic_rl.seeds import SCENE_HELD_OUT

TASKS = (
    "DroneHover",
    "DroneGates",
    "DroneObstacles",
    "DroneWallLanding",
    "DroneTrajectory",
    "DroneOrbit",
)
#: An instruction per task, worded unlike its description (the text matcher's synonyms).
SAYINGS = {
    "DroneHover": "take off and hold still over the marker",
    "DroneGates": "go through the hoops",
    "DroneObstacles": "dodge the poles and reach the goal",
    "DroneWallLanding": "get over the barrier and touch down on the platform",
    "DroneTrajectory": "track the figure eight path",
    "DroneOrbit": "circle around the red point",
}
TARGET_ACCURACY = 0.95
TARGET_MS = 50.0


def zero_library(root: Path) -> Library:
    """A library with one zero-action policy per drone task."""
    lib = Library(root)
    for task in TASKS:
        spec = sims.get_spec(task)
        n, m = spec.obs_size, spec.action.shape[0]
        policy = Policy(
            [(np.zeros((n, 8)), np.zeros(8)), (np.zeros((8, m)), np.zeros(m))],
            "tanh",
            np.zeros(n),
            np.ones(n),
            10.0,
            -np.ones(m),
            np.ones(m),
        )
        bundle = export_bundle(policy, task, root.parent / "bundles" / task, golden_episodes=1)
        lib.add(bundle, scene_images=0)
    return lib


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true", help="print results as JSON")
    ap.add_argument("--library", type=Path, help="existing library (default: build one)")
    ap.add_argument("--per-class", type=int, default=TrainSettings.per_class)
    ap.add_argument("--held-out", type=int, default=TrainSettings.held_out)
    ap.add_argument("--epochs", type=int, default=TrainSettings.epochs)
    ap.add_argument("--input-size", type=int, default=TrainSettings.input_size)
    ap.add_argument("--deploy", type=int, default=20, help="full-size scenes per task")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    log = (lambda m: None) if args.json else (lambda m: print(m, flush=True))

    with tempfile.TemporaryDirectory() as tmp:
        lib = Library(args.library) if args.library else zero_library(Path(tmp) / "library")
        settings = TrainSettings(
            args.per_class, args.held_out, args.input_size, args.epochs, args.seed
        )
        t0 = time.perf_counter()
        summary = train_offline_selector(lib, settings, log=log)
        train_wall = time.perf_counter() - t0
        selector = make_selector("offline", lib)  # the exported graph on onnxruntime
        fallback = make_selector("offline", lib, backend="numpy")  # the robot's numpy twin
        by_task = {e.task_id: e.name for e in lib.entries()}
        image_ok = both_ok = unsure = agree = 0
        select_ms, decode_ms, select_cpu_ms, numpy_ms, numpy_cpu_ms = [], [], [], [], []
        total = 0
        png = Path(tmp) / "scene.png"
        from PIL import Image

        for k, task in enumerate(TASKS):
            task_id = sims.resolve(task)[0]
            with SceneRandomizer(task_id, render_scale=1) as r:
                for i in range(args.deploy):
                    rng = np.random.default_rng((SCENE_HELD_OUT + 7, args.seed, k, i))
                    img = r.render(rng, 240)
                    Image.fromarray(img).save(png)
                    t = time.perf_counter()
                    decoded = load_image(png)
                    decode_ms.append((time.perf_counter() - t) * 1e3)
                    c, t = time.process_time(), time.perf_counter()
                    sel = selector.select(decoded)
                    select_ms.append((time.perf_counter() - t) * 1e3)
                    select_cpu_ms.append((time.process_time() - c) * 1e3)
                    c, t = time.process_time(), time.perf_counter()
                    same = fallback.select(decoded)
                    numpy_ms.append((time.perf_counter() - t) * 1e3)
                    numpy_cpu_ms.append((time.process_time() - c) * 1e3)
                    agree += same.ranking[0].name == sel.ranking[0].name
                    image_ok += sel.ranking[0].name == by_task[task_id]
                    sel2 = selector.select(decoded, SAYINGS[task])
                    both_ok += sel2.choice == by_task[task_id]
                    unsure += sel2.unsure
                    total += 1
    conf = np.asarray(summary.confusion)
    tasks = [i for i, c in enumerate(summary.classes) if c != "none"]
    # the six drone tasks alone (a scene called "none" counts as wrong)
    task_acc = float(conf[tasks, tasks].sum() / conf[tasks].sum())
    sel_med = statistics.median(select_ms)
    dec_med = statistics.median(decode_ms)
    result = {
        "held_out_accuracy": summary.held_out_accuracy,
        "held_out_images": summary.held_out_images,
        "held_out_accuracy_six_tasks": task_acc,
        "confusion": summary.confusion,
        "classes": summary.classes,
        "per_class_accuracy": summary.per_class_accuracy,
        "train_accuracy": summary.train_accuracy,
        "deploy_images": total,
        "deploy_image_only_top1": image_ok / total,
        "deploy_with_sentence_correct": both_ok / total,
        "deploy_with_sentence_unsure": unsure / total,
        "select_ms_median": sel_med,
        "select_ms_p95": float(np.percentile(select_ms, 95)),
        "select_cpu_ms_median": statistics.median(select_cpu_ms),
        "select_numpy_ms_median": statistics.median(numpy_ms),
        "select_numpy_cpu_ms_median": statistics.median(numpy_cpu_ms),
        "numpy_agrees_top1": agree / total,
        "png_decode_ms_median": dec_med,
        "select_over_decode": sel_med / dec_med if dec_med > 0 else None,
        "render_s": summary.render_s,
        "train_s": summary.train_s,
        "train_selector_wall_s": train_wall,
        "settings": summary.settings,
        "targets": {"accuracy": TARGET_ACCURACY, "select_ms": TARGET_MS},
        "met": {
            "accuracy": task_acc >= TARGET_ACCURACY,
            "select_ms": sel_med < TARGET_MS,
        },
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(
        f"held-out top-1 accuracy   {summary.held_out_accuracy:.1%} "
        f"({summary.held_out_images} scenes with the none class); six drone tasks "
        f"{task_acc:.1%} (target {TARGET_ACCURACY:.0%})"
    )
    for cls, acc in summary.per_class_accuracy.items():
        print(f"  {cls:34s} {acc:.1%}")
    print(
        f"full-size scenes ({total}): image only {image_ok / total:.1%}, with a sentence "
        f"{both_ok / total:.1%} correct, {unsure / total:.1%} unsure"
    )
    print(
        f"selection {sel_med:.1f} ms median (CPU {result['select_cpu_ms_median']:.1f} ms), "
        f"p95 {result['select_ms_p95']:.1f} ms "
        f"(target {TARGET_MS:.0f} ms); PNG decode {dec_med:.1f} ms; "
        f"ratio {result['select_over_decode']:.2f}x decode"
    )
    print(
        f"numpy fallback: selection {result['select_numpy_ms_median']:.1f} ms median (CPU "
        f"{result['select_numpy_cpu_ms_median']:.1f} ms); same top-1 as onnxruntime on "
        f"{result['numpy_agrees_top1']:.0%} of the scenes"
    )
    print(
        f"train-selector {train_wall:.0f} s (render {summary.render_s:.0f} s, "
        f"train {summary.train_s:.0f} s)"
    )


if __name__ == "__main__":
    main()
