"""rosbag2 tools (``rosbags``, never a ROS installation), one module per job.

* :mod:`.io`: read bags (with the definitions they embed) and write them;
* :mod:`.replay`: feed a recorded input bag to :class:`~ros_bridge.runtime.Runtime` on the
  bag's own clock and write the commands it would have sent;
* :mod:`.compare`: sim-to-real agreement between two bags (trajectory RMSE, success agreement,
  command error).
"""

from .compare import (
    Episode,
    command_of,
    command_parity,
    commands_at_ticks,
    compare,
    episodes_of,
    position_of,
)
from .io import (
    ACTION_TOPIC,
    DIAGNOSTICS_TOPIC,
    EPISODE_TOPIC,
    STORAGES,
    BagError,
    BagMessage,
    BagWriter,
    bag_topics,
    build,
    px4_version_of,
    read_bag,
    resolve_topic,
    sanitize_topic,
    typestore,
)
from .replay import ReplayResult, replay

__all__ = [
    "ACTION_TOPIC",
    "DIAGNOSTICS_TOPIC",
    "EPISODE_TOPIC",
    "STORAGES",
    "BagError",
    "BagMessage",
    "BagWriter",
    "Episode",
    "ReplayResult",
    "bag_topics",
    "build",
    "command_of",
    "command_parity",
    "commands_at_ticks",
    "compare",
    "episodes_of",
    "position_of",
    "px4_version_of",
    "read_bag",
    "replay",
    "resolve_topic",
    "sanitize_topic",
    "typestore",
]
