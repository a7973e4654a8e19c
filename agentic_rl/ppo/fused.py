"""PPO's minibatch step with hand-derived gradients and one flat Adam, in numpy.

Why not autograd: the networks are two small MLPs, so a torch minibatch step (forward, loss,
backward, grad clip, Adam over 13 parameter tensors) is ~50 operator dispatches and autograd
bookkeeping, about 2 ms on one core, of which the arithmetic is a small part. Here the same
step is ~60 numpy calls over preallocated buffers: forward, the clipped-surrogate loss's
gradient written out, backpropagation through the MLPs, one global-norm clip and one Adam
update over a single flat float32 vector.

The torch :class:`~agentic_rl.ppo.networks.ActorCritic` stays the owner of the weights for
checkpoints, export and warm starts: :class:`FlatParams` re-points every parameter at a slice
of one flat buffer, so a ``load_state_dict`` (which copies in place) and this module's updates
are seen by both sides without copies. ``tests/test_ppo.py`` checks the gradient against
autograd on the same loss and the Adam step against ``torch.optim.Adam``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from agentic_rl.ppo.networks import LOG_2PI, ActorCritic


class FlatParams:
    """The parameters of a module as views into one flat float32 numpy buffer.

    Args:
        model: the module; its parameters are re-pointed at the buffer (values kept).
    """

    def __init__(self, model: torch.nn.Module) -> None:
        named = list(model.named_parameters())
        params = [p for _, p in named]
        self.size = sum(p.numel() for p in params)
        self.theta = np.zeros(self.size, np.float32)
        self.grad = np.zeros(self.size, np.float32)
        flat = torch.from_numpy(self.theta)
        self.values: list[np.ndarray] = []
        self.grads: list[np.ndarray] = []
        #: name -> (value view, gradient view)
        self.by_name: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        offset = 0
        for name, param in named:
            n = param.numel()
            view = flat[offset : offset + n].view_as(param)
            view.copy_(param.detach())
            param.data = view  # the module now reads and writes the flat buffer
            self.values.append(self.theta[offset : offset + n].reshape(param.shape))
            self.grads.append(self.grad[offset : offset + n].reshape(param.shape))
            self.by_name[name] = (self.values[-1], self.grads[-1])
            offset += n


class FlatAdam:
    """Adam (Kingma and Ba) over one flat vector, step for step what ``torch.optim.Adam``
    computes (no weight decay, no AMSGrad).

    Args:
        flat: the parameters and their gradient buffer.
        lr: learning rate (changed per update by the trainer).
        eps: denominator epsilon.
        betas: moment decay rates.
    """

    def __init__(
        self, flat: FlatParams, lr: float, eps: float, betas: tuple[float, float] = (0.9, 0.999)
    ) -> None:
        self.flat = flat
        self.lr = lr
        self.eps = eps
        self.betas = betas
        self.step_count = 0
        self.exp_avg = np.zeros(flat.size, np.float32)
        self.exp_avg_sq = np.zeros(flat.size, np.float32)
        self._tmp = np.zeros(flat.size, np.float32)

    def step(self) -> None:
        """Apply one Adam step with the gradient in ``flat.grad``."""
        b1, b2 = self.betas
        g, m, v, tmp = self.flat.grad, self.exp_avg, self.exp_avg_sq, self._tmp
        self.step_count += 1
        m *= b1
        m += np.multiply(g, 1.0 - b1, out=tmp)
        v *= b2
        np.multiply(g, g, out=tmp)
        tmp *= 1.0 - b2
        v += tmp
        bc1 = 1.0 - b1**self.step_count
        bc2_sqrt = math.sqrt(1.0 - b2**self.step_count)
        # torch: denom = sqrt(v) / sqrt(bc2) + eps; p -= lr / bc1 * m / denom
        np.sqrt(v, out=tmp)
        tmp /= bc2_sqrt
        tmp += self.eps
        np.divide(m, tmp, out=tmp)
        tmp *= self.lr / bc1
        self.flat.theta -= tmp

    def state_dict(self) -> dict[str, Any]:
        return {
            "flat_adam": True,
            "step": self.step_count,
            "exp_avg": torch.from_numpy(self.exp_avg.copy()),
            "exp_avg_sq": torch.from_numpy(self.exp_avg_sq.copy()),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a state from :meth:`state_dict`, or from ``torch.optim.Adam`` over the same
        parameters in the same order (checkpoints written before this module existed)."""
        if state.get("flat_adam"):
            self.step_count = int(state["step"])
            self.exp_avg[:] = np.asarray(state["exp_avg"], np.float32)
            self.exp_avg_sq[:] = np.asarray(state["exp_avg_sq"], np.float32)
            return
        per_param = state["state"]
        offset = 0
        for i, value in enumerate(self.flat.values):
            n = value.size
            if i in per_param:
                s = per_param[i]
                self.exp_avg[offset : offset + n] = s["exp_avg"].numpy().ravel()
                self.exp_avg_sq[offset : offset + n] = s["exp_avg_sq"].numpy().ravel()
                self.step_count = int(float(s["step"]))
            offset += n


class FusedPPOLoss:
    """Loss, statistics and gradient of one PPO minibatch for an :class:`ActorCritic`.

    The gradient is that of ``pg_loss - ent_coef * entropy + vf_coef * v_loss`` exactly as
    the autograd version defines it, including torch's tie rules (``max`` splits the
    gradient between equal inputs; ``clamp`` passes it at its bounds).

    Args:
        model: the actor-critic (its parameters must already be a :class:`FlatParams`).
        flat: the flat parameters of ``model``.
        clip_coef: surrogate (and value) clipping epsilon.
        ent_coef: entropy coefficient.
        vf_coef: value-loss coefficient.
        clip_vloss: clip the value loss around the old values.
        norm_adv: normalize advantages per minibatch.
        bounds: ``(low, high, coef)``: the action bounds and the coefficient of the bounds
            loss, ``coef * mean_batch(sum_j relu(mean_j - soft_high_j)^2 + relu(soft_low_j -
            mean_j)^2)`` with the soft bounds 5% of the range outside ``low``/``high``
            (rl_games' ``bounds_loss_coef``); ``None`` or a zero ``coef``: no such loss.
    """

    def __init__(
        self,
        model: ActorCritic,
        flat: FlatParams,
        clip_coef: float,
        ent_coef: float,
        vf_coef: float,
        clip_vloss: bool,
        norm_adv: bool,
        bounds: tuple[np.ndarray, np.ndarray, float] | None = None,
    ) -> None:
        self.bounds = None
        if bounds is not None and bounds[2] > 0.0:
            low, high = (np.asarray(b, dtype=np.float64) for b in bounds[:2])
            margin = 0.05 * (high - low)
            self.bounds = (low - margin, high + margin, float(bounds[2]))
        self.relu = model.activation == "relu"
        views = flat.by_name

        def layers(net: torch.nn.Sequential, prefix: str) -> tuple[list, list]:
            idx = [i for i, m in enumerate(net) if isinstance(m, torch.nn.Linear)]
            w = [views[f"{prefix}.{i}.weight"] for i in idx]
            b = [views[f"{prefix}.{i}.bias"] for i in idx]
            return [(wi[0], bi[0]) for wi, bi in zip(w, b, strict=True)], [
                (wi[1], bi[1]) for wi, bi in zip(w, b, strict=True)
            ]

        self.actor, self.actor_g = layers(model.actor, "actor")
        self.critic, self.critic_g = layers(model.critic, "critic")
        self.log_std, self.log_std_g = views["log_std"]
        self.clip_coef = clip_coef
        self.ent_coef = ent_coef
        self.vf_coef = vf_coef
        self.clip_vloss = clip_vloss
        self.norm_adv = norm_adv

    def _forward(self, layers: list[tuple[np.ndarray, np.ndarray]], x: np.ndarray) -> list:
        """Activations of every layer (input first, output last)."""
        acts = [x]
        for i, (w, b) in enumerate(layers):
            z = acts[-1] @ w.T
            z += b
            if i < len(layers) - 1:
                if self.relu:
                    np.maximum(z, 0.0, out=z)
                else:
                    np.tanh(z, out=z)
            acts.append(z)
        return acts

    def _backward(
        self,
        layers: list[tuple[np.ndarray, np.ndarray]],
        grads: list[tuple[np.ndarray, np.ndarray]],
        acts: list[np.ndarray],
        d_out: np.ndarray,
    ) -> None:
        """Write d loss / d (W, b) of every layer, given d loss / d output."""
        for i in range(len(layers) - 1, -1, -1):
            gw, gb = grads[i]
            np.matmul(d_out.T, acts[i], out=gw)
            np.sum(d_out, axis=0, out=gb)
            if i:
                h = acts[i]
                d_h = d_out @ layers[i][0]
                if self.relu:
                    d_h *= h > 0.0
                else:
                    d_h *= 1.0 - h * h
                d_out = d_h

    def __call__(
        self,
        obs: np.ndarray,
        actions: np.ndarray,
        old_logprobs: np.ndarray,
        advantages: np.ndarray,
        returns: np.ndarray,
        old_values: np.ndarray,
    ) -> tuple[float, float, float, float, float, float]:
        """Fill the flat gradient buffer; returns ``(pg, v, ent, kl, old_kl, clip_frac)``."""
        n = obs.shape[0]
        eps = self.clip_coef
        # --- policy
        a_acts = self._forward(self.actor, obs)
        mean = a_acts[-1]
        log_std = self.log_std
        inv_std = np.exp(-log_std)
        z = (actions - mean) * inv_std
        z2 = z * z
        logprob = -0.5 * z2.sum(axis=1) - (log_std.sum() + 0.5 * LOG_2PI * log_std.size)
        logratio = logprob - old_logprobs
        ratio = np.exp(logratio)
        # Both KL estimators (Schulman's "Approximating KL divergence"): k1 is unbiased but
        # noisy and can go negative; k3 is unbiased and >= 0.
        old_kl = float(-logratio.mean())
        kl = float((ratio - 1.0 - logratio).mean())
        clip_frac = float((np.abs(ratio - 1.0) > eps).mean())
        adv = advantages
        if self.norm_adv:
            adv = (adv - adv.mean()) / (adv.std(ddof=1) + 1e-8)
        unclipped = -adv * ratio
        clipped = -adv * np.clip(ratio, 1.0 - eps, 1.0 + eps)
        pg = float(np.maximum(unclipped, clipped).mean())
        # d pg / d ratio: -adv where the unclipped term wins (ties included: there the clamp
        # passes the gradient too, or adv is 0), 0 where the clipped term wins.
        g_logprob = np.where(unclipped >= clipped, -adv, 0.0) * ratio
        g_logprob *= 1.0 / n
        # logprob = sum_j -0.5 z_j^2 - log_std_j - c; z = (a - mean) / std
        d_mean = z * inv_std
        d_mean *= g_logprob[:, None]
        if self.bounds is not None:
            soft_low, soft_high, coef = self.bounds
            over = np.maximum(mean - soft_high, 0.0) + np.minimum(mean - soft_low, 0.0)
            d_mean += over * (2.0 * coef / n)
        ent = float((0.5 + 0.5 * LOG_2PI + log_std).sum())
        np.subtract(g_logprob @ z2, g_logprob.sum() + self.ent_coef, out=self.log_std_g)
        self._backward(self.actor, self.actor_g, a_acts, d_mean.astype(np.float32, copy=False))
        # --- value
        c_acts = self._forward(self.critic, obs)
        value = c_acts[-1][:, 0]
        err = value - returns
        if self.clip_vloss:
            v_clipped = old_values + np.clip(value - old_values, -eps, eps)
            err_c = v_clipped - returns
            l1, l2 = err * err, err_c * err_c
            v_loss = 0.5 * float(np.maximum(l1, l2).mean())
            inside = np.abs(value - old_values) <= eps
            g1 = np.where(l1 > l2, 1.0, np.where(l1 < l2, 0.0, 0.5)) * err
            g2 = np.where(l2 > l1, 1.0, np.where(l2 < l1, 0.0, 0.5)) * err_c * inside
            d_value = g1 + g2
        else:
            v_loss = 0.5 * float((err * err).mean())
            d_value = err
        d_value = (d_value * (self.vf_coef / n)).astype(np.float32, copy=False)[:, None]
        self._backward(self.critic, self.critic_g, c_acts, d_value)
        return pg, v_loss, ent, kl, old_kl, clip_frac


def clip_grad_norm(grad: np.ndarray, max_norm: float) -> float:
    """Scale ``grad`` in place to a global L2 norm of at most ``max_norm`` (as torch's
    ``clip_grad_norm_``); returns the norm before clipping."""
    norm = math.sqrt(float(np.dot(grad, grad)))
    coef = max_norm / (norm + 1e-6)
    if coef < 1.0:
        grad *= coef
    return norm
