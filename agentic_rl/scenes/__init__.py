"""Scenario selection: the right library policy for a camera image and an instruction.

>>> from agentic_rl.library import Library
>>> from agentic_rl.scenes import load_image, make_selector
>>> selector = make_selector("offline", Library("policy_library"))
>>> sel = selector.select(load_image("scene.png"), "fly through the gates")
>>> sel.choice, sel.unsure, sel.reasons

The offline backend's inference core is :mod:`ros_bridge.scene_choice` (numpy only), shared with
the ROS selector node; training (torch) is :mod:`agentic_rl.scenes.classifier`.
"""

from agentic_rl.scenes.base import SELECTORS, Selector, SelectorError, load_image, make_selector
from ros_bridge.scene_types import Ranked, Selection, Thresholds

__all__ = [
    "SELECTORS",
    "Ranked",
    "Selection",
    "Selector",
    "SelectorError",
    "Thresholds",
    "load_image",
    "make_selector",
]
