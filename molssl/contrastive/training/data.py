"""Deterministic, resumable, rank-sharded batch order and device transfer for the trainer."""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from typing import Any

import torch
from torch.utils.data import Sampler

from molssl.contrastive.training.seed import derive_seed, make_generator

__all__ = ["EpochBatchSampler", "move_to_device"]


class EpochBatchSampler(Sampler[list[int]]):
    """Batch sampler whose order depends only on ``(seed, epoch)``, sharded over ranks.

    Each epoch draws one global permutation from ``derive_seed(seed, epoch)``, cuts it into
    global batches of ``batch_size * world_size`` and gives rank ``r`` the ``r``-th contiguous
    slice of every global batch. The union of the ranks' batches is therefore exactly the
    batch a single process with ``batch_size * world_size`` would see, and a resumed run can
    skip the ``start_batch`` batches it already trained on. Without ``drop_last`` the
    permutation is padded (wrapping around, like ``DistributedSampler``) to a multiple of
    ``world_size`` so every rank gets a batch of the same size.

    Args:
        num_samples: Dataset length (>= 1).
        batch_size: Samples per batch per rank (>= 1).
        seed: Base seed of the data order.
        rank: This process's rank (default 0).
        world_size: Number of processes (default 1).
        drop_last: Drop the last incomplete global batch (default True).
        shuffle: Permute each epoch (default True); False keeps dataset order.

    Raises:
        ValueError: If the arguments are inconsistent or an epoch would have no batch.
    """

    def __init__(
        self,
        num_samples: int,
        batch_size: int,
        *,
        seed: int,
        rank: int = 0,
        world_size: int = 1,
        drop_last: bool = True,
        shuffle: bool = True,
    ) -> None:
        if num_samples < 1 or batch_size < 1 or world_size < 1 or not 0 <= rank < world_size:
            raise ValueError(
                f"invalid sampler arguments: num_samples={num_samples}, batch_size={batch_size},"
                f" rank={rank}, world_size={world_size}"
            )
        self.num_samples = num_samples
        self.batch_size = batch_size
        self.seed = seed
        self.rank = rank
        self.world_size = world_size
        self.drop_last = drop_last
        self.shuffle = shuffle
        self.epoch = 0
        self.start_batch = 0
        if self.batches_per_epoch < 1:
            raise ValueError(
                f"dataset of {num_samples} samples is smaller than one global batch "
                f"({batch_size} x {world_size} processes) with drop_last=True; lower --batch-size"
            )

    @property
    def global_batch_size(self) -> int:
        """Samples per optimizer step over all ranks."""
        return self.batch_size * self.world_size

    @property
    def batches_per_epoch(self) -> int:
        """Optimizer steps in one full epoch (the same on every rank)."""
        if self.drop_last:
            return self.num_samples // self.global_batch_size
        padded = math.ceil(self.num_samples / self.world_size) * self.world_size
        return math.ceil(padded / self.global_batch_size)

    def set_epoch(self, epoch: int, start_batch: int = 0) -> None:
        """Select the epoch's permutation and skip its first ``start_batch`` batches."""
        if not 0 <= start_batch <= self.batches_per_epoch:
            raise ValueError(f"start_batch={start_batch} outside [0, {self.batches_per_epoch}]")
        self.epoch = epoch
        self.start_batch = start_batch

    def global_order(self) -> torch.Tensor:
        """The epoch's (padded or truncated) global index order, shape ``[steps * G']``."""
        if self.shuffle:
            generator = make_generator(derive_seed(self.seed, self.epoch))
            order = torch.randperm(self.num_samples, generator=generator)
        else:
            order = torch.arange(self.num_samples)
        if self.drop_last:
            return order[: self.batches_per_epoch * self.global_batch_size]
        padded = math.ceil(self.num_samples / self.world_size) * self.world_size
        if padded > self.num_samples:
            order = torch.cat([order, order[: padded - self.num_samples]])
        return order

    def global_batch_len(self, k: int) -> int:
        """Samples in global batch ``k`` of an epoch (all ranks together)."""
        if self.drop_last:
            return self.global_batch_size
        padded = math.ceil(self.num_samples / self.world_size) * self.world_size
        return min(self.global_batch_size, padded - k * self.global_batch_size)

    def __iter__(self) -> Iterator[list[int]]:
        order = self.global_order()
        g = self.global_batch_size
        for k in range(self.start_batch, self.batches_per_epoch):
            chunk = order[k * g : (k + 1) * g]
            per_rank = len(chunk) // self.world_size
            yield chunk[self.rank * per_rank : (self.rank + 1) * per_rank].tolist()

    def __len__(self) -> int:
        return self.batches_per_epoch - self.start_batch


def move_to_device(batch: Any, device: torch.device) -> Any:
    """Move tensors (and objects with a ``.to`` method, e.g. PyG ``Batch``) to ``device``.

    Mappings (returned as ``dict``), lists, tuples and NamedTuples are traversed; other objects
    are returned as is.

    Args:
        batch: A collated batch.
        device: Target device.

    Returns:
        The batch with every tensor on ``device``.
    """
    non_blocking = device.type == "cuda"
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=non_blocking)
    if isinstance(batch, Mapping):
        return {k: move_to_device(v, device) for k, v in batch.items()}
    if isinstance(batch, tuple) and hasattr(batch, "_fields"):
        return type(batch)(*(move_to_device(v, device) for v in batch))
    if isinstance(batch, list | tuple):
        return type(batch)(move_to_device(v, device) for v in batch)
    if callable(getattr(batch, "to", None)):
        return batch.to(device)
    return batch
