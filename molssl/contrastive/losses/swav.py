"""SwAV: prototypes, Sinkhorn-Knopp equipartition (distributed) and the swapped-prediction loss.

Caron et al. 2020, "Unsupervised Learning of Visual Features by Contrasting Cluster
Assignments". Embeddings are scored against ``K`` learnable unit-norm prototypes; the scores of
one view, turned into a balanced soft assignment by a few Sinkhorn-Knopp iterations over the
whole (global) batch, are the targets that the other views' softmax scores must predict.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import Tensor, nn

from molssl.contrastive.distributed import is_dist_initialized, world_size

__all__ = ["SwAVLoss", "SwAVPrototypes", "sinkhorn_knopp"]


class SwAVPrototypes(nn.Module):
    """``K`` prototype vectors scored by cosine similarity: ``normalize(z) @ normalize(C).T``.

    The prototypes are normalised inside the forward (a weight-normalised linear layer without
    bias, as solo-learn does), so they are unit vectors at every step without an extra in-place
    step after the optimizer.

    Args:
        in_dim: Size of the embeddings ``z``.
        num_prototypes: ``K``. Default 3000 (SwAV on ImageNet; use fewer for small data).

    Shapes:
        input ``(N, in_dim)`` -> scores ``(N, num_prototypes)`` in ``[-1, 1]``.

    Raises:
        ValueError: If a size is < 1.
    """

    def __init__(self, in_dim: int, num_prototypes: int = 3000) -> None:
        super().__init__()
        if in_dim < 1 or num_prototypes < 1:
            raise ValueError(
                f"SwAVPrototypes sizes must be >= 1, got in_dim={in_dim}, "
                f"num_prototypes={num_prototypes}"
            )
        self.in_dim, self.num_prototypes = in_dim, num_prototypes
        self.weight = nn.Parameter(torch.empty(num_prototypes, in_dim))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Draw the prototypes uniformly on the sphere."""
        with torch.no_grad():
            self.weight.normal_()
            self.weight.copy_(F.normalize(self.weight, dim=1))

    def extra_repr(self) -> str:
        return f"in_dim={self.in_dim}, num_prototypes={self.num_prototypes}"

    def forward(self, z: Tensor) -> Tensor:
        """Cosine scores of ``z`` ``(N, in_dim)`` against every prototype."""
        return F.normalize(z, dim=1) @ F.normalize(self.weight, dim=1).T


def _all_reduce(t: Tensor, distributed: bool, op: dist.ReduceOp = dist.ReduceOp.SUM) -> Tensor:
    if distributed:
        dist.all_reduce(t, op=op)
    return t


@torch.no_grad()
def sinkhorn_knopp(
    scores: Tensor, epsilon: float = 0.05, iterations: int = 3, gather_distributed: bool = False
) -> Tensor:
    """Balanced soft assignments of samples to prototypes (SwAV's Sinkhorn-Knopp).

    Starting from ``Q = exp(scores / epsilon)`` (prototypes x samples), alternately rescales the
    rows so every prototype gets mass ``1 / K`` and the columns so every sample gets ``1 / B``,
    ``iterations`` times, and returns the columns rescaled to sum to 1. With
    ``gather_distributed`` under DDP, the row sums (and ``B``, the global batch size) are summed
    over all ranks, so the result equals that of one process holding the global batch.

    Args:
        scores: ``(B, K)`` prototype scores; no gradient flows through the assignment.
        epsilon: Entropy regularisation; smaller is sharper. Default 0.05 (SwAV).
        iterations: Sinkhorn iterations. Default 3 (SwAV).
        gather_distributed: Sum over all ranks under DDP. Default False.

    Returns:
        ``(B, K)`` float32 assignments, each row summing to 1.

    Raises:
        ValueError: If ``scores`` is not 2-D, ``epsilon <= 0`` or ``iterations < 1``.
    """
    if scores.dim() != 2:
        raise ValueError(f"scores must be 2-D (batch, prototypes), got {tuple(scores.shape)}")
    if not epsilon > 0 or iterations < 1:
        raise ValueError(f"need epsilon > 0 and iterations >= 1, got {epsilon}, {iterations}")
    distributed = gather_distributed and is_dist_initialized() and world_size() > 1
    logits = scores.detach().float() / epsilon
    shift = logits.max() if logits.numel() else logits.new_zeros(())
    shift = _all_reduce(shift.clone(), distributed, dist.ReduceOp.MAX)  # same factor everywhere
    q = torch.exp(logits - shift).T
    k = q.shape[0]
    b = _all_reduce(torch.tensor(float(q.shape[1]), device=q.device), distributed)
    q /= _all_reduce(q.sum(), distributed)
    for _ in range(iterations):
        q /= _all_reduce(q.sum(dim=1, keepdim=True), distributed)
        q /= k
        q /= q.sum(dim=0, keepdim=True)
        q /= b
    return (q * b).T


class SwAVLoss(nn.Module):
    """SwAV's swapped prediction over multi-crop views.

    Codes ``q_i = sinkhorn(scores_i)`` are computed for every high-resolution view ``i``
    (optionally with queued embeddings' scores prepended to enlarge the Sinkhorn batch); each
    other view ``v`` (high or low resolution) predicts them::

        loss = mean_i mean_{v != i} -mean_n sum_k q_i[n, k] * log_softmax(scores_v[n] / tau)_k

    With ``gather_distributed`` under DDP, keep each rank's queue local (a
    :class:`~molssl.contrastive.queue.FeatureQueue` with ``gather_distributed=False``), as SwAV
    does: the Sinkhorn sums then run over every rank's batch and queue exactly once.

    Args:
        temperature: ``tau`` of the predicted softmax. Default 0.1 (SwAV).
        epsilon: Sinkhorn's entropy regularisation. Default 0.05.
        sinkhorn_iterations: Default 3.
        gather_distributed: Sinkhorn sums over all ranks under DDP. Default False.

    Raises:
        ValueError: If ``temperature <= 0``, ``epsilon <= 0`` or ``sinkhorn_iterations < 1``.
    """

    def __init__(
        self,
        temperature: float = 0.1,
        epsilon: float = 0.05,
        sinkhorn_iterations: int = 3,
        gather_distributed: bool = False,
    ) -> None:
        super().__init__()
        if not temperature > 0 or not epsilon > 0 or sinkhorn_iterations < 1:
            raise ValueError(
                "need temperature > 0, epsilon > 0 and sinkhorn_iterations >= 1, got "
                f"{temperature}, {epsilon}, {sinkhorn_iterations}"
            )
        self.temperature = float(temperature)
        self.epsilon = float(epsilon)
        self.sinkhorn_iterations = int(sinkhorn_iterations)
        self.gather_distributed = bool(gather_distributed)
        if gather_distributed and not dist.is_available():
            raise RuntimeError("gather_distributed=True needs torch.distributed")

    def extra_repr(self) -> str:
        return (
            f"temperature={self.temperature}, epsilon={self.epsilon}, "
            f"sinkhorn_iterations={self.sinkhorn_iterations}, "
            f"gather_distributed={self.gather_distributed}"
        )

    def codes(self, scores: Tensor, queue_scores: Tensor | None = None) -> Tensor:
        """Sinkhorn codes of ``scores`` ``(B, K)``, with ``queue_scores`` ``(Q, K)`` joining the
        equipartition when given; returns ``(B, K)``."""
        if queue_scores is not None and queue_scores.shape[0]:
            if queue_scores.shape[1] != scores.shape[1]:
                raise ValueError(
                    f"queue_scores must have {scores.shape[1]} columns (one per prototype), got "
                    f"{tuple(queue_scores.shape)}"
                )
            joint = torch.cat([queue_scores.detach(), scores.detach()])
            q = sinkhorn_knopp(
                joint, self.epsilon, self.sinkhorn_iterations, self.gather_distributed
            )
            return q[-scores.shape[0] :]
        return sinkhorn_knopp(
            scores, self.epsilon, self.sinkhorn_iterations, self.gather_distributed
        )

    def forward(
        self,
        high_res: Sequence[Tensor],
        low_res: Sequence[Tensor] = (),
        *,
        queue_scores: Sequence[Tensor | None] | None = None,
    ) -> Tensor:
        """Compute the loss.

        Args:
            high_res: Prototype scores ``(B, K)`` of each high-resolution view (at least 2);
                codes are computed for these.
            low_res: Scores ``(B, K)`` of the low-resolution views (multi-crop), predictions
                only.
            queue_scores: Optional, one per high-resolution view: scores ``(Q, K)`` of queued
                embeddings of that view (None or empty while the queue fills).

        Returns:
            Scalar loss.

        Raises:
            ValueError: Fewer than two high-resolution views, or mismatched shapes.
        """
        views = [*high_res, *low_res]
        if len(high_res) < 2:
            raise ValueError(f"SwAV needs at least 2 high-resolution views, got {len(high_res)}")
        shape = views[0].shape
        if views[0].dim() != 2 or any(v.shape != shape for v in views):
            raise ValueError(
                f"all views' scores must be 2-D with one shape, got {[tuple(v.shape) for v in views]}"
            )
        if queue_scores is not None and len(queue_scores) != len(high_res):
            raise ValueError(
                f"queue_scores needs one entry per high-resolution view ({len(high_res)}), got "
                f"{len(queue_scores)}"
            )
        log_probs = [F.log_softmax(v / self.temperature, dim=1) for v in views]
        total = views[0].new_zeros(())
        for i, scores in enumerate(high_res):
            q = self.codes(scores, None if queue_scores is None else queue_scores[i])
            q = q.to(log_probs[0].dtype)
            sub = sum(-(q * lp).sum(dim=1).mean() for v, lp in enumerate(log_probs) if v != i)
            total = total + sub / (len(views) - 1)
        return total / len(high_res)
