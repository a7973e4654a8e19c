"""Robot adapters: how each profile's messages become robot state and commands become messages.

One module per robot stack: :mod:`.drone` (the shared drone state, a generic driver, MAVROS),
:mod:`.px4`, :mod:`.crazyflie`, :mod:`.arm` (ros2_control), :mod:`.joints` (any robot driven
joint by joint through ros2_control); :mod:`.base` holds the interface.
"""

from __future__ import annotations

from ..bundle import PolicyBundle
from ..profiles import Profile
from .arm import ArmAdapter, ArmForwardAdapter, ArmJtcAdapter
from .base import Adapter, AdapterError
from .crazyflie import CrazyflieAdapter
from .drone import DroneAdapter, GenericDroneAdapter, MavrosAdapter
from .joints import JointGroupAdapter
from .px4 import Px4Adapter

ADAPTERS: dict[str, type[Adapter]] = {
    "px4": Px4Adapter,
    "mavros": MavrosAdapter,
    "crazyflie": CrazyflieAdapter,
    "generic_drone": GenericDroneAdapter,
    "arm_jtc": ArmJtcAdapter,
    "arm_forward": ArmForwardAdapter,
    "joint_group": JointGroupAdapter,
}


def make_adapter(profile: Profile, bundle: PolicyBundle) -> Adapter:
    """The adapter a profile names, checked against the bundle.

    Raises:
        AdapterError: for an unknown adapter name or a bundle the profile cannot drive.
    """
    try:
        cls = ADAPTERS[profile.adapter]
    except KeyError:
        raise AdapterError(
            f"profile {profile.name!r} names adapter {profile.adapter!r}; known adapters: "
            f"{sorted(ADAPTERS)}"
        ) from None
    return cls(profile, bundle)


__all__ = [
    "ADAPTERS",
    "Adapter",
    "AdapterError",
    "ArmAdapter",
    "ArmForwardAdapter",
    "ArmJtcAdapter",
    "CrazyflieAdapter",
    "DroneAdapter",
    "GenericDroneAdapter",
    "JointGroupAdapter",
    "MavrosAdapter",
    "Px4Adapter",
    "make_adapter",
]
