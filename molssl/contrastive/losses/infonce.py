"""InfoNCE losses with explicit candidates: MoCo's queue and CPC's predicted latents.

References:
    He et al. 2020, "Momentum Contrast for Unsupervised Visual Representation Learning" (MoCo);
    Chen et al. 2020, "Improved Baselines with Momentum Contrastive Learning" (MoCo v2).
    van den Oord et al. 2018, "Representation Learning with Contrastive Predictive Coding";
    Henaff 2019/2020, "Data-Efficient Image Recognition with Contrastive Predictive Coding".
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["CPCLoss", "MoCoLoss"]


def _check_2d(**tensors: Tensor) -> None:
    for name, t in tensors.items():
        if t.dim() != 2:
            raise ValueError(f"{name} must be 2-D (rows, dim), got shape {tuple(t.shape)}")
        if not t.is_floating_point():
            raise TypeError(f"{name} must be a floating-point tensor, got dtype {t.dtype}")
    dims = {name: t.shape[1] for name, t in tensors.items()}
    if len(set(dims.values())) > 1:
        raise ValueError(f"feature sizes differ: {dims}; all inputs need the same dim")


class MoCoLoss(nn.Module):
    """InfoNCE of queries against their keys, with queued keys as negatives (MoCo).

    With ``q``, ``k`` and the negatives ``n`` L2-normalised, each query ``i`` has the logits
    ``[q_i . k_i, w_i1 * q_i . n_1, ..., w_iK * q_i . n_K] / tau`` and the target class 0::

        l_i = -log( exp(q_i . k_i / tau) / (exp(q_i . k_i / tau) + sum_j exp(w_ij q_i . n_j / tau)) )

    The loss is the mean over queries. ``w_ij = 1`` unless ``weight`` is given: iMolCLR's
    faulty-negative weights (``1 - lambda_1 * Tanimoto``, see
    :func:`~molssl.contrastive.losses.ntxent.tanimoto_weights`) between the batch and the queue, computed
    from fingerprints kept in a :class:`~molssl.contrastive.queue.FeatureQueue`. With no negatives
    (an empty queue) the loss is 0.

    Under DDP nothing is gathered here: the queue already holds every rank's keys
    (:meth:`FeatureQueue.enqueue` gathers them), and each rank averages over its own queries.

    Args:
        temperature: Softmax temperature ``tau > 0``. Default 0.2 (MoCo v2).

    Raises:
        ValueError: If ``temperature <= 0``.
    """

    def __init__(self, temperature: float = 0.2) -> None:
        super().__init__()
        if not temperature > 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        self.temperature = float(temperature)

    def extra_repr(self) -> str:
        return f"temperature={self.temperature}"

    def forward(
        self, query: Tensor, key: Tensor, negatives: Tensor, *, weight: Tensor | None = None
    ) -> Tensor:
        """Compute the loss.

        Args:
            query: Online projections, ``(N, D)``.
            key: Momentum-encoder projections of the other view, ``(N, D)`` (normally without
                gradient).
            negatives: ``(K, D)``, e.g. ``queue.features.clone()`` taken before this step's keys
                are enqueued (clone it: enqueueing writes the buffer in place).
            weight: Optional ``(N, K)`` multipliers of the negative similarities.

        Returns:
            Scalar loss, the mean over the ``N`` queries.

        Raises:
            ValueError: Mismatched shapes or an empty batch.
        """
        _check_2d(query=query, key=key, negatives=negatives)
        if query.shape != key.shape or query.shape[0] == 0:
            raise ValueError(
                f"query and key must have the same non-empty shape, got {tuple(query.shape)} "
                f"and {tuple(key.shape)}"
            )
        q, k = F.normalize(query, dim=1), F.normalize(key, dim=1)
        neg = q @ F.normalize(negatives, dim=1).T
        if weight is not None:
            if tuple(weight.shape) != tuple(neg.shape):
                raise ValueError(
                    f"weight must have shape (N, K) = {tuple(neg.shape)} (one row per query, one "
                    f"column per negative), got {tuple(weight.shape)}"
                )
            neg = neg * weight.to(dtype=neg.dtype, device=neg.device)
        logits = torch.cat([(q * k).sum(1, keepdim=True), neg], dim=1) / self.temperature
        target = torch.zeros(q.shape[0], dtype=torch.long, device=q.device)
        return F.cross_entropy(logits, target)


class CPCLoss(nn.Module):
    """InfoNCE over predicted latents (Contrastive Predictive Coding).

    Each prediction ``p_m`` (a context vector mapped by the offset-``k`` predictor) must pick its
    own target latent among the candidate latents ``targets``: the target of the position it
    predicts is the positive, every other row (other positions of the same image and all
    positions of other images) a negative::

        l_m = -log( exp(s(p_m, t_{pos[m]})) / sum_j exp(s(p_m, t_j)) ),  s(p, t) = p . t / tau

    (cosine instead of the dot product with ``normalize=True``). The loss is the mean over
    predictions. CPC v2 calls it once per offset ``k`` (or once with all offsets stacked) with
    ``targets`` the latents of every patch in the batch.

    Args:
        temperature: ``tau > 0``; CPC uses plain dot products (1.0, the default).
        normalize: Compare L2-normalised vectors. Default False (as CPC).

    Raises:
        ValueError: If ``temperature <= 0``.
    """

    def __init__(self, temperature: float = 1.0, normalize: bool = False) -> None:
        super().__init__()
        if not temperature > 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        self.temperature = float(temperature)
        self.normalize = bool(normalize)

    def extra_repr(self) -> str:
        return f"temperature={self.temperature}, normalize={self.normalize}"

    def forward(
        self,
        predictions: Tensor,
        targets: Tensor,
        positive: Tensor,
        *,
        exclude: Tensor | None = None,
    ) -> Tensor:
        """Compute the loss.

        Args:
            predictions: ``(M, D)`` predicted latents.
            targets: ``(T, D)`` candidate latents (all positions of all images).
            positive: ``(M,)`` long, the row of ``targets`` that prediction ``m`` predicts.
            exclude: Optional ``(M, T)`` bool, True where a candidate must not count as a
                negative for that prediction (e.g. duplicates of its positive); never the
                positive itself.

        Returns:
            Scalar loss, the mean over the ``M`` predictions.

        Raises:
            ValueError: Mismatched shapes, an index out of range, or ``exclude`` covering a
                positive.
        """
        _check_2d(predictions=predictions, targets=targets)
        m, t = predictions.shape[0], targets.shape[0]
        if m == 0 or t == 0:
            raise ValueError(f"predictions and targets must be non-empty, got M={m}, T={t}")
        if positive.shape != (m,) or positive.dtype != torch.long:
            raise ValueError(
                f"positive must be a long tensor of shape ({m},), got {positive.dtype} "
                f"{tuple(positive.shape)}"
            )
        if positive.min() < 0 or positive.max() >= t:
            raise ValueError(f"positive indexes rows of targets, so must lie in [0, {t})")
        if self.normalize:
            predictions, targets = F.normalize(predictions, dim=1), F.normalize(targets, dim=1)
        logits = predictions @ targets.T / self.temperature
        if exclude is not None:
            if exclude.shape != logits.shape or exclude.dtype != torch.bool:
                raise ValueError(
                    f"exclude must be a bool tensor of shape (M, T) = {tuple(logits.shape)}, got "
                    f"{exclude.dtype} {tuple(exclude.shape)}"
                )
            if exclude.gather(1, positive[:, None]).any():
                raise ValueError("exclude masks a positive; it may only mask negatives")
            logits = logits.masked_fill(exclude, torch.finfo(logits.dtype).min)
        return F.cross_entropy(logits, positive)
