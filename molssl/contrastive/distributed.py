"""Autograd-aware all-gather and rank helpers for cross-process negatives.

Gradient convention of :func:`gather_with_grad`
-----------------------------------------------
Let rank ``r`` hold ``z_r`` (``n_r`` rows) and compute a loss ``L_r`` from its local anchors
against the gathered ``G = cat(z_0, ..., z_{W-1})``. DDP averages parameter gradients over the
``W`` ranks, so the update is ``(1/W) * sum_r dL_r/dtheta``. For this to equal the gradient of
the single-process loss ``L = (1/W) * sum_r L_r`` (the mean over the global batch when every rank
holds the same number of rows), each rank must back-propagate into ``z_r`` the *full* derivative
``d(sum_q L_q)/dz_r``: its own direct term plus ``sum_q dL_q/dG[slice r]``, i.e. its slice of the
gradient of ``G`` **all-reduced with SUM** over ranks. Scaling that sum by ``1/W`` (as lightly
once did) makes the cross-rank part of the gradient ``W`` times too small. This is what
:class:`_GatherWithGrad` does; ``tests/contrastive`` checks it against a single process.

Unequal batch sizes per rank are supported by the gather (sizes are all-gathered first, rows are
padded to the largest size and unpadded after). Note that with unequal sizes a per-rank *mean*
loss averaged by DDP weights each rank equally, which is not the global-batch mean; equal sizes
(``drop_last=True`` in a ``DistributedSampler``) make the two identical.
"""

from __future__ import annotations

import logging

import torch
import torch.distributed as dist
from torch import Tensor

__all__ = ["gather_sizes", "gather_with_grad", "is_dist_initialized", "rank", "world_size"]

logger = logging.getLogger(__name__)


def is_dist_initialized() -> bool:
    """Return True when ``torch.distributed`` is available and a process group is initialised."""
    return dist.is_available() and dist.is_initialized()


def world_size() -> int:
    """Return the number of processes in the default group (1 when not distributed)."""
    return dist.get_world_size() if is_dist_initialized() else 1


def rank() -> int:
    """Return this process's rank in the default group (0 when not distributed)."""
    return dist.get_rank() if is_dist_initialized() else 0


def gather_sizes(t: Tensor) -> list[int]:
    """All-gather the leading dimension of ``t`` from every rank.

    Args:
        t: Any tensor with at least one dimension; only ``t.shape[0]`` is communicated.

    Returns:
        ``[n_0, ..., n_{W-1}]``, the row count on each rank (``[t.shape[0]]`` when not
        distributed).

    Raises:
        ValueError: If ``t`` is 0-dimensional.
    """
    if t.dim() == 0:
        raise ValueError("gather_sizes needs a tensor with a leading batch dimension, got a scalar")
    if not is_dist_initialized():
        return [t.shape[0]]
    local = torch.tensor([t.shape[0]], dtype=torch.long, device=t.device)
    sizes = [torch.zeros_like(local) for _ in range(world_size())]
    dist.all_gather(sizes, local)
    return [int(s.item()) for s in sizes]


class _GatherWithGrad(torch.autograd.Function):
    """All-gather along dim 0 whose backward returns this rank's slice of the SUM-reduced grad."""

    @staticmethod
    def forward(ctx, t: Tensor, sizes: list[int]) -> Tensor:  # type: ignore[override]
        r = dist.get_rank()
        ctx.start = sum(sizes[:r])
        ctx.stop = ctx.start + sizes[r]
        t = t.contiguous()
        max_n = max(sizes)
        if all(n == max_n for n in sizes):
            out = [torch.empty_like(t) for _ in sizes]
            dist.all_gather(out, t)
            return torch.cat(out, dim=0)
        padded = t.new_zeros((max_n, *t.shape[1:]))
        padded[: t.shape[0]] = t
        out = [torch.empty_like(padded) for _ in sizes]
        dist.all_gather(out, padded)
        return torch.cat([o[:n] for o, n in zip(out, sizes, strict=True)], dim=0)

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor, None]:  # type: ignore[override]
        grad = grad.contiguous().clone()
        dist.all_reduce(grad, op=dist.ReduceOp.SUM)
        return grad[ctx.start : ctx.stop], None


def gather_with_grad(t: Tensor, sizes: list[int] | None = None) -> Tensor:
    """Concatenate ``t`` from all ranks along dim 0, keeping the autograd graph.

    The backward pass returns, on each rank, its own slice of the gradient summed over all ranks
    (see the module docstring for why SUM, not mean, makes DDP match a single process). Every
    rank must call this function (and later ``backward``) the same number of times.

    Args:
        t: Local tensor of shape ``(n_r, *rest)``; ``rest``, dtype and device must agree across
            ranks, ``n_r`` may differ.
        sizes: Row counts of all ranks as returned by :func:`gather_sizes`; gathered when None.

    Returns:
        Tensor of shape ``(sum_r n_r, *rest)`` ordered by rank; ``t`` itself when not
        distributed.

    Raises:
        ValueError: If ``sizes`` does not have one entry per rank or disagrees with ``t``.
    """
    if not is_dist_initialized():
        return t
    if sizes is None:
        sizes = gather_sizes(t)
    if len(sizes) != world_size() or sizes[rank()] != t.shape[0]:
        raise ValueError(
            f"sizes={sizes} must list one row count per rank (world_size={world_size()}) and "
            f"match this rank's t.shape[0]={t.shape[0]}; pass gather_sizes(t) or None"
        )
    return _GatherWithGrad.apply(t, sizes)
