"""ROS 2 bridge: run a PolicyBundle on a robot, generate its ROS 2 package, check it on bags.

The runtime core (``meta`` (BundleMeta), ``bundle``, ``frames``, ``kinematics``, ``messages``,
``profiles``, ``measurement`` (the typed robot measurement adapters decode into), ``robots/``
(one adapter module per robot stack), ``plausibility``, ``taskobs`` (the task's own vendored
observe, from_measurement and tracker), ``observation``, ``safety``, ``runtime``, ``params``,
``node``) needs numpy and PyYAML only (onnxruntime when installed, rclpy in the node) and is
vendored into every generated package. ``package`` and ``readme`` (package generator),
``bags/`` (rosbag2 io, replay, compare; ``rosbags``) and ``interfaces/`` (upstream px4_msgs,
crazyflie_interfaces and mavros_msgs definitions for the bag tools) run on a development
machine. The scene selector's robot side (``scene_types``, the contract shared with the
training side; ``scene_bundle``, the ONNX scene-classifier bundle; ``scene_net``,
``scene_images``, ``scene_text``, ``scene_choice``, ``switcher``, ``scene_node``) is vendored
into packages that carry a policy library. Nothing here imports torch or ``agentic_rl``
(tests/test_import_boundaries.py).

>>> from ros_bridge import load_bundle, load_profile, Runtime
>>> rt = Runtime(load_bundle("bundle/"), load_profile("px4"), goal=[0, 0, 1])
"""

from .bundle import BundleError, PolicyBundle, load_bundle
from .messages import Output
from .profiles import Profile, ProfileError, builtin_profiles, load_profile
from .robots import AdapterError
from .runtime import Runtime
from .safety import SafetyConfig, State

__all__ = [
    "AdapterError",
    "BundleError",
    "Output",
    "PolicyBundle",
    "Profile",
    "ProfileError",
    "Runtime",
    "SafetyConfig",
    "State",
    "builtin_profiles",
    "load_bundle",
    "load_profile",
]
