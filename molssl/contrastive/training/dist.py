"""Process-group setup and small collectives used by the training loop (torchrun / DDP)."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist

from molssl.contrastive.distributed import is_dist_initialized, rank, world_size

__all__ = ["DistContext", "all_reduce_mean", "any_rank", "barrier", "gather_objects", "setup"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DistContext:
    """Where this process sits in the job.

    Attributes:
        rank: Global rank (0 when not distributed).
        world_size: Number of processes (1 when not distributed).
        local_rank: Rank on this node, the GPU index (``$LOCAL_RANK``, default 0).
        owns_group: True when :func:`setup` created the process group (and must destroy it).
    """

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    owns_group: bool = False

    @property
    def is_main(self) -> bool:
        """True on rank 0, the only rank that writes files."""
        return self.rank == 0

    def teardown(self) -> None:
        """Destroy the process group if :func:`setup` created it."""
        if self.owns_group and is_dist_initialized():
            dist.destroy_process_group()


def setup(device_type: str) -> DistContext:
    """Join the job started by torchrun (``$WORLD_SIZE > 1``) or reuse an existing group.

    Uses ``nccl`` for CUDA and ``gloo`` for CPU, rendezvous through ``env://``
    (``MASTER_ADDR``, ``MASTER_PORT``, ``RANK``, ``WORLD_SIZE``).

    Args:
        device_type: ``"cuda"`` or ``"cpu"``, picks the backend.

    Returns:
        The :class:`DistContext` of this process.

    Raises:
        RuntimeError: If ``WORLD_SIZE > 1`` but ``torch.distributed`` is unavailable.
    """
    local_rank = int(os.environ.get("LOCAL_RANK", 0))
    if is_dist_initialized():
        return DistContext(rank(), world_size(), local_rank, owns_group=False)
    env_world = int(os.environ.get("WORLD_SIZE", 1))
    if env_world <= 1:
        return DistContext()
    if not dist.is_available():
        raise RuntimeError("WORLD_SIZE > 1 but this torch build has no torch.distributed")
    backend = "nccl" if device_type == "cuda" else "gloo"
    if device_type == "cuda":
        torch.cuda.set_device(local_rank % torch.cuda.device_count())
    dist.init_process_group(backend=backend, init_method="env://")
    logger.info("joined process group: rank %d of %d (%s)", rank(), world_size(), backend)
    return DistContext(rank(), world_size(), local_rank, owns_group=True)


def _device() -> torch.device:
    if dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def all_reduce_mean(values: dict[str, float]) -> dict[str, float]:
    """Average each value over ranks (identity when not distributed).

    Every rank must pass the same keys in the same order.
    """
    if not is_dist_initialized() or not values:
        return values
    t = torch.tensor(list(values.values()), dtype=torch.float64, device=_device())
    dist.all_reduce(t)
    t /= world_size()
    return dict(zip(values, t.tolist(), strict=True))


def any_rank(flag: bool) -> bool:
    """True when ``flag`` is True on at least one rank (e.g. a stop request)."""
    if not is_dist_initialized():
        return flag
    t = torch.tensor([int(flag)], device=_device())
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item())


def gather_objects(obj: Any) -> list[Any]:
    """All-gather a picklable object from every rank (``[obj]`` when not distributed)."""
    if not is_dist_initialized():
        return [obj]
    out: list[Any] = [None] * world_size()
    dist.all_gather_object(out, obj)
    return out


def barrier() -> None:
    """Synchronise all ranks (no-op when not distributed)."""
    if is_dist_initialized():
        dist.barrier()
