"""Franka Emika Panda: the robot wrapper shared by the arm tasks.

The model is ``franka_panda/panda.urdf`` from ``pybullet_data``, set up as in panda-gym
(Gallouedec et al. 2021): fixed base at (-0.6, 0, 0) on the table, neutral pose
``(0, 0.41, 0, -1.85, 0, 2.26, 0.79)``, end effector = the ``panda_grasptarget`` link (the point
between the fingertips), joints driven by PyBullet's position controller with panda-gym's
force limits. One :class:`Panda` lives in one PyBullet client; every call names that client.

Joint and link indices of this URDF: arm joints 0..6 (``panda_joint1..7``), 7 and 8 fixed
(flange and hand), 9 and 10 the prismatic fingers (0..0.04 m each), 11 the grasp target.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import numpy as np
import pybullet as p
import pybullet_data

URDF = str(Path(pybullet_data.getDataPath()) / "franka_panda" / "panda.urdf")

BASE_POSITION = (-0.6, 0.0, 0.0)
ARM_JOINTS = (0, 1, 2, 3, 4, 5, 6)
FINGER_JOINTS = (9, 10)
EE_LINK = 11
#: Links whose collisions with the table can never matter (the base stands on it): skipping
#: those pairs saves the contact solver work at every tick.
BASE_LINKS = (-1, 0, 1)
NEUTRAL_ARM = (0.0, 0.41, 0.0, -1.85, 0.0, 2.26, 0.79)
#: Largest motor force/torque per joint (panda-gym's values), N m for the arm, N per finger.
ARM_FORCES = (87.0, 87.0, 87.0, 87.0, 12.0, 120.0, 120.0)
FINGER_FORCE = 170.0
#: Widest gap between the fingers, m (two fingers of 0.04 m travel each).
MAX_GRIPPER_WIDTH = 0.08
#: Gains of PyBullet's position controller (kp on position error, kd on velocity error). kp is
#: the share of the position error corrected per physics tick. 0.2 over the 10 ticks of a 25 Hz
#: step at 250 Hz closed ~90% of a step's error, as PyBullet's default 0.1 does over panda-gym's
#: 20 ticks at 500 Hz. At 125 Hz (5 ticks) the first-order match (1 - kp)^5 = 0.8^10 gives
#: 0.36; 0.34 matches the measured response better: the end effector's progress 1..4 steps
#: after a full ee_delta action is within 3% (1 step) and 1% (2..4 steps) of 250 Hz with 0.2.
POSITION_GAIN = 0.34
VELOCITY_GAIN = 1.0
#: Viscous damping of each arm joint at nominal physics, N m s/rad (the URDF has none; a real
#: Panda's joints are damped, and randomizing this needs a nonzero nominal to scale).
JOINT_DAMPING = 1.0
#: Friction coefficients of the fingertips (panda-gym: lateral 1.0, spinning 0.001).
FINGER_LATERAL_FRICTION = 1.0
FINGER_SPINNING_FRICTION = 0.001
#: Gripper pointing straight down (x, y, z, w): the hand's z axis along world -z, fingers
#: closing along world y.
EE_DOWN = (1.0, 0.0, 0.0, 0.0)
#: Damping of the end-effector step's least squares, m (or rad): bounds the joint step near a
#: singularity; 0.01 changes a regular step's solution by well under 1% (DLS with 0.01 or 0
#: lands equally close to 5 cm targets; 0.05 about 5% farther).
IK_DAMPING = 0.01
_DAMPING_EYE = IK_DAMPING**2 * np.eye(6)
#: Joint velocities and accelerations handed to calculateJacobian (they do not enter the
#: Jacobian of a point; the call wants one value per degree of freedom, fingers included).
_ZERO_DOFS = [0.0] * 9


class PandaState(NamedTuple):
    """One reading of the robot's sensors (all in SI units; world frame for the end effector)."""

    joint_pos: np.ndarray  #: arm joint angles, rad (7)
    joint_vel: np.ndarray  #: arm joint velocities, rad/s (7)
    gripper_width: float  #: gap between the fingers, m
    ee_pos: tuple[float, float, float]  #: grasp point position, m
    ee_quat: tuple[float, float, float, float]  #: grasp frame orientation (x, y, z, w)
    ee_vel: tuple[float, float, float]  #: grasp point linear velocity, m/s


class Panda:
    """The Panda arm in one PyBullet client: reset, read, and command it.

    Args:
        client: PyBullet physics client id.
        visuals: load the URDF's visual meshes (for videos); without them, images show the
            collision meshes (the same shapes, coarser and without the dark joint covers).
    """

    def __init__(self, client: int, *, visuals: bool = True) -> None:
        self.client = client
        # No URDF_USE_SELF_COLLISION: the arm's own links cannot reach each other under the
        # joint limits in these tasks, and self-collision doubles the cost of a tick.
        # Without visuals, the ~10 MB of visual meshes are not parsed (three quarters of an
        # env's build time, ~0.3 s); a camera then draws the arm from its collision meshes.
        self.body = p.loadURDF(
            URDF,
            BASE_POSITION,
            useFixedBase=True,
            flags=p.URDF_ENABLE_CACHED_GRAPHICS_SHAPES if visuals else p.URDF_IGNORE_VISUAL_SHAPES,
            physicsClientId=client,
        )
        self._joints = list(ARM_JOINTS + FINGER_JOINTS)
        info = [p.getJointInfo(self.body, j, physicsClientId=client) for j in ARM_JOINTS]
        self.lower = np.array([i[8] for i in info])
        self.upper = np.array([i[9] for i in info])
        self._forces = [*ARM_FORCES, FINGER_FORCE, FINGER_FORCE]
        self._kp = [POSITION_GAIN] * 9
        self._kd = [VELOCITY_GAIN] * 9
        for j in FINGER_JOINTS:
            p.changeDynamics(
                self.body,
                j,
                lateralFriction=FINGER_LATERAL_FRICTION,
                spinningFriction=FINGER_SPINNING_FRICTION,
                physicsClientId=client,
            )

    # ------------------------------------------------------------------ setup
    def ignore_collisions_with(self, body: int) -> None:
        """Skip contacts between the base links and ``body`` (the table the robot stands on)."""
        for link in BASE_LINKS:
            p.setCollisionFilterPair(self.body, body, link, -1, 0, physicsClientId=self.client)

    def set_dynamics(
        self, *, damping_scale: float, gain_scale: float, friction_scale: float
    ) -> None:
        """Apply one episode's physical parameters (all of them, so resets are deterministic).

        Args:
            damping_scale: factor on :data:`JOINT_DAMPING` of the arm joints.
            gain_scale: factor on the position controller's position gain: stiffer or softer
                tracking of the joint targets.
            friction_scale: factor on the fingertips' friction coefficients.
        """
        for j in ARM_JOINTS:
            p.changeDynamics(
                self.body,
                j,
                jointDamping=JOINT_DAMPING * damping_scale,
                physicsClientId=self.client,
            )
        for j in FINGER_JOINTS:
            p.changeDynamics(
                self.body,
                j,
                lateralFriction=FINGER_LATERAL_FRICTION * friction_scale,
                physicsClientId=self.client,
            )
        self._kp = [POSITION_GAIN * gain_scale] * 9

    def reset(self, arm: np.ndarray | tuple[float, ...] = NEUTRAL_ARM, width: float = 0.0) -> None:
        """Teleport to joint angles ``arm`` (rad) and gripper ``width`` (m), at rest, and hold."""
        for j, q in zip(ARM_JOINTS, arm, strict=True):
            p.resetJointState(self.body, j, q, 0.0, physicsClientId=self.client)
        for j in FINGER_JOINTS:
            p.resetJointState(self.body, j, width / 2.0, 0.0, physicsClientId=self.client)
        self.command(np.asarray(arm, dtype=float), width)

    # ------------------------------------------------------------------ sensing
    def read(self) -> PandaState:
        """Current joint states and end-effector pose and velocity."""
        js = p.getJointStates(self.body, self._joints, physicsClientId=self.client)
        link = p.getLinkState(
            self.body,
            EE_LINK,
            computeLinkVelocity=1,
            computeForwardKinematics=1,
            physicsClientId=self.client,
        )
        # Index 4/5 is the URDF link frame (the grasp point), 6 its linear velocity.
        return PandaState(
            joint_pos=np.fromiter((s[0] for s in js[:7]), float, 7),
            joint_vel=np.fromiter((s[1] for s in js[:7]), float, 7),
            gripper_width=js[7][0] + js[8][0],
            ee_pos=link[4],
            ee_quat=link[5],
            ee_vel=link[6],
        )

    def ee_position(self) -> np.ndarray:
        """End-effector (grasp point) position in the world frame, m."""
        link = p.getLinkState(
            self.body, EE_LINK, computeForwardKinematics=1, physicsClientId=self.client
        )
        return np.array(link[4])

    # ------------------------------------------------------------------ acting
    def ee_step(
        self,
        joint_pos: np.ndarray,
        ee_pos: tuple[float, float, float] | np.ndarray,
        ee_quat: tuple[float, float, float, float] | np.ndarray,
        ee_target: np.ndarray,
    ) -> np.ndarray:
        """Arm angles (rad) that move the grasp point from ``ee_pos`` to a nearby ``ee_target``
        with the gripper pointing down: one damped-least-squares step on the Jacobian at
        ``joint_pos`` (the robot's state now, as read at the end of the last step).

        The deployed runtime solves the same problem by damped least squares started from
        the measured joints (``ros_bridge.kinematics.SerialChain.ik_step``). For a step of
        ``EE_STEP`` (5 cm) one step lands within ~3 mm of the target (second-order error),
        closer than PyBullet's ``calculateInverseKinematics`` gets in its default 20
        iterations (~6 mm; it stops short of the target), at a third of its cost.
        """
        q = joint_pos.tolist()
        lin, ang = p.calculateJacobian(
            self.body,
            EE_LINK,
            (0.0, 0.0, 0.0),
            [*q, 0.0, 0.0],
            _ZERO_DOFS,
            _ZERO_DOFS,
            physicsClientId=self.client,
        )
        jac = np.array([*lin, *ang])[:, :7]  # the fingers' columns are zero for this point
        x, y, z, w = ee_quat
        # Orientation error: rotation vector of EE_DOWN * conj(ee_quat), with EE_DOWN =
        # (1, 0, 0, 0) written out; the sign picks the shorter way round.
        sign = 2.0 if x >= 0.0 else -2.0
        err = np.array(
            [
                ee_target[0] - ee_pos[0],
                ee_target[1] - ee_pos[1],
                ee_target[2] - ee_pos[2],
                sign * w,
                sign * z,
                -sign * y,
            ]
        )
        dq = jac.T @ np.linalg.solve(jac @ jac.T + _DAMPING_EYE, err)
        return np.clip(joint_pos + dq, self.lower, self.upper)

    def inverse_kinematics(self, ee_target: np.ndarray) -> np.ndarray:
        """Arm angles (rad) that put the grasp point at a possibly distant ``ee_target`` with
        the gripper down (PyBullet's iterative IK from the current configuration; for scripts
        and tests: a control step uses :meth:`ee_step`)."""
        sol = p.calculateInverseKinematics(
            self.body,
            EE_LINK,
            ee_target.tolist(),
            EE_DOWN,
            maxNumIterations=100,
            physicsClientId=self.client,
        )
        return np.clip(np.asarray(sol[:7]), self.lower, self.upper)

    def clip_arm(self, arm: np.ndarray) -> np.ndarray:
        """Arm angles limited to the URDF joint ranges."""
        return np.clip(arm, self.lower, self.upper)

    def command(self, arm: np.ndarray, width: float) -> None:
        """Send position targets: 7 arm angles (rad) and a gripper width (m)."""
        half = min(max(width, 0.0), MAX_GRIPPER_WIDTH) / 2.0
        p.setJointMotorControlArray(
            self.body,
            self._joints,
            p.POSITION_CONTROL,
            targetPositions=[*arm.tolist(), half, half],
            forces=self._forces,
            positionGains=self._kp,
            velocityGains=self._kd,
            physicsClientId=self.client,
        )
