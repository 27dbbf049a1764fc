"""Momentum (exponential moving average) target networks with BYOL's cosine momentum schedule.

The target network of MoCo (He et al. 2020, "Momentum Contrast for Unsupervised Visual
Representation Learning") and BYOL (Grill et al. 2020, "Bootstrap Your Own Latent") is a copy of
the online network whose parameters follow it slowly::

    xi <- tau * xi + (1 - tau) * theta

BYOL raises ``tau`` from ``tau_base`` to 1 over training with a cosine schedule
(:func:`cosine_momentum`); MoCo keeps it constant (``final_momentum = base_momentum``).

:class:`MomentumNetwork` holds the copy as an ordinary submodule whose parameters do not require
gradients, so it lives in its parent's ``state_dict`` (checkpoints and exact resume need nothing
else), moves with ``.to()``, and is skipped by the optimizer and by DDP's gradient reduction.
:class:`~molssl.contrastive.training.trainer.Trainer` calls a model's ``after_optimizer_step(step,
total_steps)`` after every optimizer step; a model with a target network implements it by calling
:meth:`MomentumNetwork.update`.
"""

from __future__ import annotations

import copy
import math
from typing import Any, NamedTuple

import torch
from torch import Tensor, nn

__all__ = [
    "MomentumModel",
    "MomentumNetwork",
    "MomentumOutput",
    "cosine_momentum",
    "ema_update_",
]


def cosine_momentum(step: int, total_steps: int, base: float = 0.996, final: float = 1.0) -> float:
    """BYOL's momentum at ``step``: ``final - (final - base) * (cos(pi * step / total) + 1) / 2``.

    Args:
        step: Optimizer steps taken, ``0 <= step``; values past ``total_steps`` give ``final``.
        total_steps: Length of the schedule, >= 1.
        base: Momentum at step 0. Default 0.996 (BYOL).
        final: Momentum at ``total_steps``. Default 1.0.

    Returns:
        The momentum ``tau``; ``base`` at step 0, ``final`` from ``total_steps`` on.

    Raises:
        ValueError: If ``total_steps < 1``, ``step < 0`` or a momentum is outside ``[0, 1]``.
    """
    if total_steps < 1:
        raise ValueError(f"total_steps must be >= 1, got {total_steps}")
    if step < 0:
        raise ValueError(f"step must be >= 0, got {step}")
    for name, value in (("base", base), ("final", final)):
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"momentum {name} must be in [0, 1], got {value}")
    progress = min(step, total_steps) / total_steps
    return final - (final - base) * (math.cos(math.pi * progress) + 1.0) / 2.0


@torch.no_grad()
def ema_update_(target: nn.Module, online: nn.Module, momentum: float) -> None:
    """In place: every parameter ``xi`` of ``target`` becomes ``m * xi + (1 - m) * theta``.

    Buffers (BatchNorm running statistics) are left alone: the target's own forward passes
    update them, as in BYOL's and lightly's implementations.

    Args:
        target: The momentum copy.
        online: The network it follows; same parameter names and shapes.
        momentum: ``m`` in ``[0, 1]``; 1 keeps the target, 0 copies the online network.

    Raises:
        ValueError: If ``momentum`` is outside ``[0, 1]`` or the parameter names differ.
    """
    if not 0.0 <= momentum <= 1.0:
        raise ValueError(f"momentum must be in [0, 1], got {momentum}")
    target_params = dict(target.named_parameters())
    online_params = dict(online.named_parameters())
    if target_params.keys() != online_params.keys():
        missing = sorted(online_params.keys() ^ target_params.keys())[:5]
        raise ValueError(
            f"target and online networks have different parameters (e.g. {missing}); build "
            "the target with MomentumNetwork(online)"
        )
    for name, theta in online_params.items():
        xi = target_params[name]
        xi.lerp_(theta.detach().to(xi.dtype), 1.0 - momentum)


class MomentumNetwork(nn.Module):
    """A frozen copy of ``online`` updated as an exponential moving average of it.

    Its forward runs the copy without building an autograd graph. The copy follows its
    parent's ``train()``/``eval()`` mode (BYOL's target uses batch statistics in training).

    Args:
        online: The online network; deep-copied once at construction (call this after the
            online network is initialised and before wrapping it in DDP).
        base_momentum: ``tau`` at step 0. Default 0.996 (BYOL; MoCo uses 0.999).
        final_momentum: ``tau`` at the last step; equal to ``base_momentum`` for a constant
            momentum (MoCo). Default 1.0 (BYOL).

    Raises:
        ValueError: If a momentum is outside ``[0, 1]``.
    """

    def __init__(
        self, online: nn.Module, base_momentum: float = 0.996, final_momentum: float = 1.0
    ) -> None:
        super().__init__()
        for name, value in (("base_momentum", base_momentum), ("final_momentum", final_momentum)):
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {value}")
        self.base_momentum = float(base_momentum)
        self.final_momentum = float(final_momentum)
        self.network = copy.deepcopy(online)
        for param in self.network.parameters():
            param.requires_grad_(False)

    def extra_repr(self) -> str:
        return f"base_momentum={self.base_momentum}, final_momentum={self.final_momentum}"

    def momentum(self, step: int, total_steps: int) -> float:
        """The momentum used by :meth:`update` at ``step`` (see :func:`cosine_momentum`)."""
        return cosine_momentum(step, total_steps, self.base_momentum, self.final_momentum)

    def update(self, online: nn.Module, step: int, total_steps: int) -> float:
        """EMA step towards ``online`` with the momentum scheduled for ``step``.

        Args:
            online: The network this copy was made from (unwrapped from DDP).
            step: Optimizer steps taken so far (the trainer passes 1 after the first step).
            total_steps: Steps of the whole run.

        Returns:
            The momentum used.
        """
        tau = self.momentum(step, total_steps)
        ema_update_(self.network, online, tau)
        return tau

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """Run the target network under ``torch.no_grad()``."""
        with torch.no_grad():
            return self.network(*args, **kwargs)


class MomentumOutput(NamedTuple):
    """What :class:`MomentumModel` returns.

    Attributes:
        online: The online network's own output (e.g. ``EncoderOutput(h, z, node)``).
        prediction: The predictor applied to the online projection (the projection itself when
            the model has no predictor, as MoCo).
        target: The target network's projection, without gradient.
    """

    online: Any
    prediction: Tensor
    target: Tensor


def _projection(out: Any) -> Tensor:
    if isinstance(out, Tensor):
        return out
    z = getattr(out, "z", None)
    if not isinstance(z, Tensor):
        raise TypeError(
            f"the online network must return a tensor or an output with a tensor .z, got "
            f"{type(out).__name__}"
        )
    return z


class MomentumModel(nn.Module):
    """Online network, optional predictor and queue, and its momentum target (BYOL, MoCo).

    ``forward(*inputs)`` runs the online network and the target on the same inputs and returns
    a :class:`MomentumOutput`. After every optimizer step the trainer calls
    :meth:`after_optimizer_step`, which moves the target towards the online network and logs
    the momentum. The target (``target.network.*``) and the queue (``queue.*``) are part of the
    ``state_dict``, so checkpoints and resume carry them; the online weights are under
    ``online.``.

    Args:
        online: The network being trained; returns a projection tensor or an output with ``.z``.
        predictor: Applied to the online projection (BYOL's :class:`PredictionHead`); None for
            MoCo.
        queue: Optional :class:`~molssl.contrastive.queue.FeatureQueue` of past target
            projections; the objective reads and fills it.
        base_momentum: Target momentum at step 0.
        final_momentum: Target momentum at the last step (cosine schedule in between).
    """

    def __init__(
        self,
        online: nn.Module,
        *,
        predictor: nn.Module | None = None,
        queue: nn.Module | None = None,
        base_momentum: float = 0.996,
        final_momentum: float = 1.0,
    ) -> None:
        super().__init__()
        self.online = online
        self.predictor = predictor
        self.queue = queue
        self.target = MomentumNetwork(online, base_momentum, final_momentum)

    def forward(self, *args: Any, **kwargs: Any) -> MomentumOutput:
        """Online output, prediction and target projection of the same inputs."""
        out = self.online(*args, **kwargs)
        z = _projection(out)
        prediction = z if self.predictor is None else self.predictor(z)
        return MomentumOutput(out, prediction, _projection(self.target(*args, **kwargs)))

    def after_optimizer_step(self, step: int, total_steps: int) -> dict[str, float]:
        """EMA update of the target; returns ``{"momentum": tau}`` for the training log."""
        return {"momentum": self.target.update(self.online, step, total_steps)}
