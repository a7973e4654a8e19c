"""Frame helpers (ENU/NED, FLU/FRD, quaternion orders) and the arm's forward kinematics."""

from __future__ import annotations

import math

import numpy as np
import pybullet as p
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import sims
from agentic_rl.export import urdf_chain
from ros_bridge import frames
from ros_bridge.kinematics import SerialChain

finite = st.floats(-10, 10, allow_nan=False)
vectors = st.tuples(finite, finite, finite).map(np.array)
unit = st.floats(-1, 1, allow_nan=False)
quats = (
    st.tuples(unit, unit, unit, unit)
    .filter(lambda q: sum(c * c for c in q) > 0.1)
    .map(lambda q: np.array(q) / np.linalg.norm(q))
)


def test_enu_ned_and_flu_frd_axes():
    # east 1, north 2, up 3  ->  north 2, east 1, down -3
    np.testing.assert_array_equal(frames.enu_to_ned([1, 2, 3]), [2, 1, -3])
    np.testing.assert_array_equal(frames.ned_to_enu([2, 1, -3]), [1, 2, 3])
    # forward 1, left 2, up 3  ->  forward 1, right -2, down -3
    np.testing.assert_array_equal(frames.flu_to_frd([1, 2, 3]), [1, -2, -3])


def test_quaternion_orders():
    q = [0.1, 0.2, 0.3, 0.9]
    np.testing.assert_array_equal(frames.xyzw_to_wxyz(q), [0.9, 0.1, 0.2, 0.3])
    np.testing.assert_array_equal(frames.wxyz_to_xyzw(frames.xyzw_to_wxyz(q)), q)


def test_level_drone_facing_north_in_px4():
    # ROS: yaw +90 deg = facing north (ENU). PX4: facing north is yaw 0, identity attitude.
    q_enu = frames.yaw_to_quat(math.pi / 2)
    q_ned = frames.quat_enu_flu_to_ned_frd(q_enu)
    assert abs(abs(q_ned[0]) - 1.0) < 1e-12  # (w, x, y, z) = (+-1, 0, 0, 0)


@settings(max_examples=200, deadline=None)
@given(quats, vectors)
def test_px4_attitude_rotates_the_same_physical_vectors(q, v_body_flu):
    q_ned = frames.quat_enu_flu_to_ned_frd(q)
    r_ned = frames.quat_to_matrix(frames.wxyz_to_xyzw(q_ned))
    # a body vector seen in the world must agree whichever convention carried it
    world_enu = frames.rotate(q, v_body_flu)
    world_ned = r_ned @ frames.flu_to_frd(v_body_flu)
    np.testing.assert_allclose(frames.ned_to_enu(world_ned), world_enu, atol=1e-9)
    # and the conversion is exactly undone, sign included (the policy sees the sign)
    np.testing.assert_allclose(frames.quat_ned_frd_to_enu_flu(q_ned), q, atol=1e-12)


@settings(max_examples=200, deadline=None)
@given(quats)
def test_quaternion_matrix_round_trip_and_pybullet_agreement(q):
    m = frames.quat_to_matrix(q)
    np.testing.assert_allclose(
        np.asarray(p.getMatrixFromQuaternion(q.tolist())).reshape(3, 3), m, atol=1e-6
    )
    back = frames.matrix_to_quat(m)
    assert back[3] >= 0
    np.testing.assert_allclose(frames.same_hemisphere(back, q), q, atol=1e-9)
    np.testing.assert_allclose(
        frames.quat_multiply(q, frames.quat_conjugate(q)), [0, 0, 0, 1], atol=1e-12
    )


@settings(max_examples=100, deadline=None)
@given(quats)
def test_tilt_and_yaw_match_the_simulator(q):
    r = np.asarray(p.getMatrixFromQuaternion(q.tolist()))
    assert frames.tilt(q) == pytest.approx(math.acos(np.clip(r[8], -1, 1)), abs=1e-6)
    _, pitch, yaw = p.getEulerFromQuaternion(q.tolist())
    assert frames.yaw(q) == pytest.approx(yaw, abs=1e-6) or abs(abs(pitch) - math.pi / 2) < 1e-3


def test_heading_frame_rotates_by_yaw_only():
    v = frames.world_to_heading([1.0, 0.0, 0.5], math.pi / 2)  # facing north, moving east
    np.testing.assert_allclose(v, [0.0, -1.0, 0.5], atol=1e-12)  # to the right


def test_arm_forward_kinematics_and_velocity_match_pybullet():
    from sims.arm import panda

    chain = SerialChain(urdf_chain(panda.URDF, "panda_grasptarget"), panda.BASE_POSITION)
    env = sims.make("ArmReach", action_mode="joint_delta")
    env.reset(seed=4)
    rng = np.random.default_rng(0)
    try:
        for _ in range(15):
            _, _, term, trunc, info = env.step(rng.uniform(-1, 1, 7))
            s = info["state"]
            pos, quat, vel = chain.tip_state(s["joint_pos"], s["joint_vel"])
            np.testing.assert_allclose(pos, s["ee_pos"], atol=1e-6)
            np.testing.assert_allclose(
                frames.same_hemisphere(quat, s["ee_quat"]), s["ee_quat"], atol=1e-6
            )
            np.testing.assert_allclose(vel, s["ee_vel"], atol=1e-9)
            if term or trunc:
                break
    finally:
        env.close()


def test_ik_step_reaches_a_nearby_point():
    from sims.arm import panda

    chain = SerialChain(urdf_chain(panda.URDF, "panda_grasptarget"), panda.BASE_POSITION)
    q0 = np.array(panda.NEUTRAL_ARM)
    start, _, _, _ = chain.forward(q0)
    target = start + np.array([0.03, -0.02, 0.04])
    q = chain.ik_step(q0, target)
    np.testing.assert_allclose(chain.forward(q)[0], target, atol=1e-4)
    assert np.abs(q - q0).max() < 0.3  # a small, continuous joint step


def test_bullet_sign_is_the_sign_pybullet_reports():
    """A body turned in any way reports the quaternion sign frames.bullet_sign gives."""
    cid = p.connect(p.DIRECT)
    try:
        body = p.createMultiBody(1.0, p.createCollisionShape(p.GEOM_SPHERE, radius=0.1,
                                                             physicsClientId=cid),
                                 physicsClientId=cid)  # fmt: skip
        rng = np.random.default_rng(0)
        flips = 0
        for _ in range(500):
            q = rng.normal(size=4)
            q /= np.linalg.norm(q)
            p.resetBasePositionAndOrientation(body, (0, 0, 1), q.tolist(), physicsClientId=cid)
            p.stepSimulation(physicsClientId=cid)  # the orientation goes through Bullet's matrix
            _, got = p.getBasePositionAndOrientation(body, physicsClientId=cid)
            got = np.asarray(got)
            if abs(abs(float(np.dot(got, q))) - 1.0) > 1e-3:
                continue  # turned during the step: compare only what Bullet reports
            flips += bool(got[3] < 0)
            np.testing.assert_array_equal(np.sign(frames.bullet_sign(-got)), np.sign(got))
            np.testing.assert_array_equal(np.sign(frames.bullet_sign(got)), np.sign(got))
        assert flips > 10  # Bullet reports w < 0 often: "w >= 0" would be the wrong rule
    finally:
        p.disconnect(cid)
