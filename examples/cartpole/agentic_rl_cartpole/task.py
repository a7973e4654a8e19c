"""CartPole: a non-drone plugin task built on ``sims.SimTask`` with a robot from pybullet_data.

Keep the pole upright and bring the cart to a target on the rail; hold both for the last
second of a 5 s episode. Two goal errors (cart and pole), each with its own tolerance.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import numpy as np
import pybullet as p
import pybullet_data

from agentic_rl_cartpole.observe import from_measurement, observe_cartpole, to_measurement
from sims import SimTask
from sims.spec import (
    ActionSpec,
    BodyFields,
    Criterion,
    Goal,
    GoalError,
    Hazard,
    RandomParam,
    StateField,
    TaskMetric,
    TaskSpec,
    TerminationReason,
)

CONTROL_HZ = 50.0
PHYSICS_HZ = 250.0
EPISODE_SECONDS = 5.0
MAX_FORCE = 10.0  # N on the cart at action +-1
CART_TOL = 0.1  # m
POLE_TOL = 0.2  # rad
HOLD_SECONDS = 1.0
FALL_ANGLE = 0.8  # rad: the pole has fallen
RAIL = 2.0  # m: the cart left the rail
SLIDER, HINGE = 0, 1  # joint indices in cartpole.urdf
JOINTS = ("slider_to_cart", "cart_to_pole")  # their names (a robot's JointState uses them)


def _field(name: str, unit: str, role: str, text: str, shape: tuple[int, ...] = ()) -> StateField:
    return StateField(name=name, shape=shape, unit=unit, frame="joint", role=role, description=text)


class CartPole(SimTask):
    """Balance the pole and bring the cart to the target."""

    ACTION_MODES = ("force",)
    observe = staticmethod(observe_cartpole)
    # how a robot feeds observe (its measured joints), and back: the task deploys
    from_measurement = staticmethod(from_measurement)
    to_measurement = staticmethod(to_measurement)

    @classmethod
    def command_model(cls, action_mode: str | None = None) -> dict[str, Any]:
        """On a robot: an effort on the slider (ROS profile ``joint_group``)."""
        return {
            "robot": "joint_group",
            "kind": "effort",
            "joints": list(JOINTS),
            "commanded": [JOINTS[SLIDER]],
            "scale": [MAX_FORCE],
        }

    @classmethod
    def build_spec(cls, action_mode: str | None = None) -> TaskSpec:
        return TaskSpec(
            id="cartpole/CartPole-v0",
            robot="cartpole",
            description="Push a cart along a rail so that its hinged pole stays upright and "
            "the cart comes to rest at a target position.",
            success=f"During the last {HOLD_SECONDS:g} s of the {EPISODE_SECONDS:g} s episode "
            f"the cart is within {CART_TOL} m of the target and the pole within {POLE_TOL} rad "
            "of upright.",
            control_hz=CONTROL_HZ,
            physics_hz=PHYSICS_HZ,
            max_episode_steps=round(EPISODE_SECONDS * CONTROL_HZ),
            state_fields=(
                _field("cart_pos", "m", "robot", "Cart position along the rail."),
                _field("cart_vel", "m/s", "robot", "Cart velocity along the rail."),
                _field("pole_angle", "rad", "robot", "Pole angle, 0 upright, + towards +x."),
                _field("pole_vel", "rad/s", "robot", "Pole angular velocity."),
                _field("last_action", "1", "action", "The action applied this step.", (1,)),
                _field("cart_error", "m", "goal", "Target position minus cart position."),
                _field("pole_error", "rad", "goal", "Upright minus pole angle (wrapped)."),
            ),
            action=ActionSpec(
                mode="force",
                modes=cls.ACTION_MODES,
                shape=(1,),
                low=(-1.0,),
                high=(1.0,),
                components=(f"force on the cart, x {MAX_FORCE} N",),
                description="Horizontal force on the cart.",
            ),
            termination_reasons=(
                TerminationReason(name="fell", description=f"|pole angle| > {FALL_ANGLE} rad."),
                TerminationReason(name="off_rail", description=f"|cart position| > {RAIL} m."),
                TerminationReason(
                    name="success", kind="truncated", success=True, description="Held at the end."
                ),
                TerminationReason(name="timeout", kind="truncated", description="Not held."),
            ),
            task_metrics=(
                TaskMetric(name="success", description="1 if both were held at the end."),
                TaskMetric(
                    name="final_cart_error",
                    unit="m",
                    higher_is_better=False,
                    description="|cart_error| at the end.",
                ),
            ),
            randomization=(
                RandomParam(
                    name="pole_mass",
                    kind="scale",
                    nominal=1.0,
                    low=0.8,
                    high=1.2,
                    hard_low=0.1,
                    hard_high=5.0,
                    description="Multiplier on the 0.1 kg pole mass.",
                ),
            ),
            constants={
                "cart_tolerance": CART_TOL,
                "pole_tolerance": POLE_TOL,
                "hold_seconds": HOLD_SECONDS,
                "fall_angle": FALL_ANGLE,
                "rail": RAIL,
            },
            body=BodyFields(noun="the cart"),
            goal=Goal(
                errors=(
                    GoalError(
                        field="cart_error",
                        label="the target",
                        tolerance="cart_tolerance",
                        scale=1.0,
                    ),
                    GoalError(
                        field="pole_error", label="upright", tolerance="pole_tolerance", scale=0.3
                    ),
                )
            ),
            success_criteria=(
                Criterion(
                    name="cart_at_target",
                    source="field",
                    key="cart_error",
                    reduce="abs",
                    compare="<",
                    threshold="cart_tolerance",
                    hold="hold_seconds",
                ),
                Criterion(
                    name="pole_upright",
                    source="field",
                    key="pole_error",
                    reduce="abs",
                    compare="<",
                    threshold="pole_tolerance",
                    hold="hold_seconds",
                ),
            ),
            hazards=(
                Hazard(reason="fell", fields=("pole_angle", "pole_vel")),
                Hazard(reason="off_rail", fields=("cart_pos", "cart_vel")),
            ),
        )

    # --- the world, built once -----------------------------------------------------------
    def _build_world(self) -> None:
        urdf = os.path.join(pybullet_data.getDataPath(), "cartpole.urdf")
        self.body = p.loadURDF(urdf, physicsClientId=self.client)
        for j in (SLIDER, HINGE):  # free joints: disable the default velocity motors
            p.setJointMotorControl2(
                self.body, j, p.VELOCITY_CONTROL, force=0, physicsClientId=self.client
            )
        p.changeDynamics(
            self.body, -1, linearDamping=0, angularDamping=0, physicsClientId=self.client
        )

    def _apply_params(self, params: Mapping[str, float]) -> None:
        p.changeDynamics(
            self.body, HINGE, mass=0.1 * params["pole_mass"], physicsClientId=self.client
        )

    # --- an episode ----------------------------------------------------------------------
    def _reset_task(self) -> None:
        rng = self.np_random
        p.resetJointState(self.body, SLIDER, rng.uniform(-0.5, 0.5), physicsClientId=self.client)
        p.resetJointState(self.body, HINGE, rng.uniform(-0.1, 0.1), physicsClientId=self.client)
        self.layout = {"cart_target": float(rng.uniform(-1.0, 1.0))}
        self._last_action = (0.0,)
        self._held = 0

    def _act(self, action: np.ndarray) -> None:
        self._last_action = (float(action[0]),)
        for _ in range(self.ticks_per_step):
            p.setJointMotorControl2(
                self.body,
                SLIDER,
                p.TORQUE_CONTROL,
                force=MAX_FORCE * float(action[0]),
                physicsClientId=self.client,
            )
            p.stepSimulation(physicsClientId=self.client)

    def _robot_state(self) -> dict[str, Any]:
        (x, xd, *_), (a, ad, *_) = p.getJointStates(
            self.body, (SLIDER, HINGE), physicsClientId=self.client
        )
        return {
            "cart_pos": x,
            "cart_vel": xd,
            "pole_angle": a,
            "pole_vel": ad,
            "last_action": self._last_action,
        }

    def _check_end(self, state: Mapping[str, np.ndarray]) -> str | None:
        if abs(float(state["pole_angle"])) > FALL_ANGLE:
            return "fell"
        if abs(float(state["cart_pos"])) > RAIL:
            return "off_rail"
        ok = (
            abs(float(state["cart_error"])) < CART_TOL
            and abs(float(state["pole_error"])) < POLE_TOL
        )
        self._held = self._held + 1 if ok else 0
        return None

    def _success_at_timeout(self) -> bool:
        return self._held >= int(HOLD_SECONDS * CONTROL_HZ)

    def _episode_metrics(self) -> dict[str, float]:
        return {
            "success": float(self._success_at_timeout()),
            "final_cart_error": abs(float(self.state["cart_error"])),
        }

    def _camera(self) -> tuple[tuple[float, float, float], float, float, float]:
        return (0.0, 0.0, 0.5), 3.5, 0.0, -10.0
