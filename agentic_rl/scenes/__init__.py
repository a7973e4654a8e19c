"""Scenario selection: the right library policy for a camera image and an instruction.

>>> from agentic_rl.library import Library
>>> from agentic_rl.scenes import load_image, make_selector
>>> selector = make_selector("offline", Library("policy_library"))
>>> sel = selector.select(load_image("scene.png"), "fly through the gates")
>>> sel.choice, sel.unsure, sel.reasons

The offline backend runs the exported scene-classifier bundle through the robot's own
selection core (``ros_bridge.scene_choice``, the one the ROS scene node runs), reached through
:mod:`agentic_rl.export.scenes`; training (torch) is :mod:`agentic_rl.scenes.classifier`. The
shared types (:class:`Selection`, :class:`Ranked`, :class:`Thresholds`) are defined once, in
``ros_bridge.scene_types``.
"""

from agentic_rl.export.scenes import Ranked, Selection, Thresholds
from agentic_rl.scenes.base import SELECTORS, Selector, SelectorError, load_image, make_selector

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
