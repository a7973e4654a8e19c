"""Definitions of the robot-specific messages the profiles use that are not in ROS's core set.

``px4_msgs`` (PX4 v1.14+) and ``crazyflie_interfaces`` (Crazyswarm2) are not released as Python
wheels, so the bag tools register these definitions with the rosbags typestore to read and
write them. They must match the robot's own package: the bag stores them, so a mismatch shows
up when ``ros2 bag play`` or the robot rejects the type hash.
"""

from __future__ import annotations

PX4_MSGS: dict[str, str] = {
    "px4_msgs/msg/VehicleOdometry": """
uint64 timestamp
uint64 timestamp_sample
uint8 POSE_FRAME_UNKNOWN = 0
uint8 POSE_FRAME_NED = 1
uint8 POSE_FRAME_FRD = 2
uint8 pose_frame
float32[3] position
float32[4] q
uint8 VELOCITY_FRAME_UNKNOWN = 0
uint8 VELOCITY_FRAME_NED = 1
uint8 VELOCITY_FRAME_FRD = 2
uint8 VELOCITY_FRAME_BODY_FRD = 3
uint8 velocity_frame
float32[3] velocity
float32[3] angular_velocity
float32[3] position_variance
float32[3] orientation_variance
float32[3] velocity_variance
uint8 reset_counter
int8 quality
""",
    "px4_msgs/msg/OffboardControlMode": """
uint64 timestamp
bool position
bool velocity
bool acceleration
bool attitude
bool body_rate
bool thrust_and_torque
bool direct_actuator
""",
    "px4_msgs/msg/TrajectorySetpoint": """
uint64 timestamp
float32[3] position
float32[3] velocity
float32[3] acceleration
float32[3] jerk
float32 yaw
float32 yawspeed
""",
}

CRAZYFLIE_MSGS: dict[str, str] = {
    "crazyflie_interfaces/msg/FullState": """
std_msgs/Header header
geometry_msgs/Pose pose
geometry_msgs/Twist twist
geometry_msgs/Vector3 acc
""",
    "crazyflie_interfaces/msg/Hover": """
std_msgs/Header header
float32 vx
float32 vy
float32 yaw_rate
float32 z_distance
""",
    # Service requests, recorded in bags as messages on '<service>/_request'.
    "crazyflie_interfaces/srv/Land_Request": """
uint8 group_mask
float32 height
builtin_interfaces/Duration duration
""",
    "crazyflie_interfaces/srv/NotifySetpointsStop_Request": """
uint8 group_mask
uint32 remain_valid_millisecs
""",
}

EXTRA_MSGS: dict[str, str] = {**PX4_MSGS, **CRAZYFLIE_MSGS}
