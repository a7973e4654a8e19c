"""The scene node (executable ``selector_node``): the policy node running a library of
policies, switched by scene.

It is the policy node of :mod:`.node` (same inputs, outputs, services, safety and
diagnostics) whose runtime is a :class:`~.switcher.PolicySwitcher` over every policy in the
package's ``share/<pkg>/library``, plus two subscriptions:

* ``selector.image_topic`` (``sensor_msgs/Image``, rgb8/bgr8/rgba8/bgra8/mono8): the scene;
* ``selector.instruction_topic`` (``std_msgs/String``): the operator's sentence. Each one runs
  the offline scene selector (the scene-classifier bundle, onnxruntime or numpy) on it and
  the freshest image.

The chosen policy becomes active only while the vehicle is READY or FALLBACK, never while a
policy flies (ACTIVE); it must still be enabled through ``~/enable``. ``~/active_policy``
(``std_msgs/String``, transient local) announces every change.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .node import PolicyNode, _share_dir, spin
from .switcher import PolicySwitcher, load_switcher

#: Selector parameters: name -> (default, description).
SELECTOR_PARAMETERS: dict[str, tuple[Any, str]] = {
    "selector.library_dir": ("", "Library folder; empty: the package's share/<pkg>/library."),
    "selector.active": ("", "Policy active at start; empty: the first by name."),
    "selector.image_topic": ("/camera/image_raw", "sensor_msgs/Image topic of the scene."),
    "selector.instruction_topic": ("~/instruction", "std_msgs/String topic of instructions."),
    "selector.image_max_age_s": (2.0, "Images older than this are not used."),
    "selector.select_on_image": (False, "Also select on every image, not only instructions."),
}


class SelectorNode:
    """Builds the policy node and puts a :class:`PolicySwitcher` in its runtime's place."""

    def __init__(self) -> None:
        from rclpy.qos import DurabilityPolicy, QoSProfile
        from sensor_msgs.msg import Image
        from std_msgs.msg import String

        self.policy = PolicyNode()
        node = self.policy.node
        for name, (default, _) in SELECTOR_PARAMETERS.items():
            node.declare_parameter(name, default)

        def param(name: str) -> Any:
            return node.get_parameter(name).value

        package = __name__.split(".")[0]
        library = param("selector.library_dir") or str(_share_dir(package) / "library")
        goal = list(node.get_parameter("goal").value)
        switcher = load_switcher(
            Path(library),
            self.policy.profile,
            active=param("selector.active") or None,
            goal=goal if len(goal) == 3 else None,
            backend=node.get_parameter("backend").value,
        )
        switcher.image_max_age_s = float(param("selector.image_max_age_s"))
        switcher.select_on_image = bool(param("selector.select_on_image"))
        self.switcher: PolicySwitcher = switcher
        # The policy node reads self.rt on every callback, so the switcher takes over here.
        self.policy.rt = switcher  # type: ignore[assignment]
        latched = QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL)
        self._active_pub = node.create_publisher(String, "~/active_policy", latched)
        self._string = String
        self._announced = ""
        node.create_subscription(Image, param("selector.image_topic"), self._on_image, 1)
        node.create_subscription(
            String, param("selector.instruction_topic"), self._on_instruction, 10
        )
        node.create_timer(0.1, self._announce)
        node.get_logger().info(
            f"selector over {list(switcher.runtimes)}; active {switcher.active}; "
            f"instructions on {param('selector.instruction_topic')}"
        )

    def _now(self) -> float:
        return self.policy._now()

    def _on_image(self, msg: Any) -> None:
        try:
            self.switcher.on_image(msg, self._now())
        except ValueError as exc:  # an unusable encoding: say so, keep the last good image
            self.policy.node.get_logger().error(str(exc), throttle_duration_sec=10.0)

    def _on_instruction(self, msg: Any) -> None:
        sel = self.switcher.on_instruction(str(msg.data), self._now())
        log = self.policy.node.get_logger()
        if sel is None:
            log.error("instruction ignored: no selector or no image/sentence to select on")
            return
        pending = self.switcher.pending
        tail = f"; waiting for READY/FALLBACK to switch to {pending.target}" if pending else ""
        log.info(f"{msg.data!r}: " + " | ".join(sel.reasons) + tail)

    def _announce(self) -> None:
        if self.switcher.active != self._announced:
            self._announced = self.switcher.active
            self._active_pub.publish(self._string(data=self._announced))
            self.policy.node.get_logger().info(f"active policy: {self._announced}")


def main(args: list[str] | None = None) -> None:
    """Console-script entry point: ``ros2 run <package> selector_node``."""
    spin(lambda: SelectorNode().policy.node, args)


__all__ = ["SELECTOR_PARAMETERS", "SelectorNode", "main"]

if __name__ == "__main__":
    main()
