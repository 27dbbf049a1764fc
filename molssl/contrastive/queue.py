"""A first-in-first-out feature queue (MoCo's dictionary) that can carry per-sample extras.

MoCo (He et al. 2020, "Momentum Contrast for Unsupervised Visual Representation Learning")
keeps the keys of the last ``size`` samples as negatives; SwAV (Caron et al. 2020) keeps past
embeddings to stabilise its Sinkhorn assignments with small batches. :class:`FeatureQueue`
stores them in buffers, so they are part of the owning model's ``state_dict`` (saved in
checkpoints, restored on resume), and can store *extras* aligned row by row with the features,
e.g. fingerprint bits so that iMolCLR's Tanimoto faulty-negative weights can be computed against
queued negatives.

Under DDP, :meth:`FeatureQueue.enqueue` all-gathers the rows of every rank (in rank order)
before writing them, so every rank holds the same queue.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import Tensor, nn

from molssl.contrastive.distributed import gather_with_grad, is_dist_initialized, world_size

__all__ = ["FeatureQueue"]

_EXTRA_PREFIX = "extra_"


def _gather(value: Tensor) -> Tensor:
    if value.dtype == torch.bool:  # not every backend reduces bool tensors
        return gather_with_grad(value.to(torch.uint8).contiguous()).bool()
    return gather_with_grad(value.contiguous())


class FeatureQueue(nn.Module):
    """Ring buffer of the last ``size`` feature rows, plus optional aligned extras.

    The queue starts empty; :attr:`features` (and :meth:`extra`) return only the filled rows,
    in storage order (the order of the rows does not matter to a contrastive loss, only that
    features and extras stay aligned). When a batch does not fit before the end of the buffer it
    wraps around to the start, overwriting the oldest rows; a batch larger than the queue keeps
    its last ``size`` rows.

    Args:
        size: Number of rows kept, >= 1 (MoCo v2: 65536).
        dim: Width of a feature row, >= 1.
        extras: Per-sample extras to keep alongside, ``{name: (shape, dtype)}`` with ``shape``
            the shape of one sample's entry, e.g. ``{"fp": ((2048,), torch.bool)}``.
        gather_distributed: Under DDP, enqueue the rows of all ranks. Default True.

    Raises:
        ValueError: If ``size`` or ``dim`` is < 1, or an extra's name is not an identifier.
    """

    def __init__(
        self,
        size: int,
        dim: int,
        extras: Mapping[str, tuple[Sequence[int], torch.dtype]] | None = None,
        gather_distributed: bool = True,
    ) -> None:
        super().__init__()
        if size < 1 or dim < 1:
            raise ValueError(f"FeatureQueue size and dim must be >= 1, got size={size}, dim={dim}")
        self.size, self.dim = int(size), int(dim)
        self.gather_distributed = bool(gather_distributed)
        self.register_buffer("queue", torch.zeros(self.size, self.dim))
        self.register_buffer("ptr", torch.zeros((), dtype=torch.long))
        self.register_buffer("filled", torch.zeros((), dtype=torch.long))
        self.extra_names: tuple[str, ...] = tuple(extras or {})
        for name, (shape, dtype) in (extras or {}).items():
            if not name.isidentifier():
                raise ValueError(f"FeatureQueue extra names must be identifiers, got {name!r}")
            self.register_buffer(_EXTRA_PREFIX + name, torch.zeros(self.size, *shape, dtype=dtype))

    def extra_repr(self) -> str:
        extras = f", extras={list(self.extra_names)}" if self.extra_names else ""
        return f"size={self.size}, dim={self.dim}{extras}"

    def __len__(self) -> int:
        return int(self.filled)

    @property
    def features(self) -> Tensor:
        """The filled feature rows, ``(len(self), dim)`` (a view: clone before enqueueing again
        if autograd still needs it)."""
        return self.queue[: int(self.filled)]

    def extra(self, name: str) -> Tensor:
        """The filled rows of extra ``name``, aligned with :attr:`features`.

        Raises:
            KeyError: If the queue was built without that extra.
        """
        if name not in self.extra_names:
            raise KeyError(f"FeatureQueue has no extra {name!r}; it keeps {list(self.extra_names)}")
        return getattr(self, _EXTRA_PREFIX + name)[: int(self.filled)]

    @torch.no_grad()
    def enqueue(self, features: Tensor, **extras: Tensor) -> None:
        """Append rows (detached), overwriting the oldest when full.

        Every rank must call this together when ``gather_distributed`` is set under DDP.

        Args:
            features: ``(n, dim)`` rows to add.
            **extras: One tensor ``(n, *shape)`` per extra declared at construction.

        Raises:
            ValueError: If shapes disagree, or the extras given are not exactly those declared.
        """
        if features.dim() != 2 or features.shape[1] != self.dim:
            raise ValueError(
                f"features must have shape (n, {self.dim}), got {tuple(features.shape)}"
            )
        if set(extras) != set(self.extra_names):
            raise ValueError(
                f"enqueue needs exactly the extras {sorted(self.extra_names)}, got {sorted(extras)}"
            )
        rows = {"queue": features.detach()}
        for name, value in extras.items():
            stored = getattr(self, _EXTRA_PREFIX + name)
            if value.shape[0] != features.shape[0] or value.shape[1:] != stored.shape[1:]:
                raise ValueError(
                    f"extra {name!r} must have shape ({features.shape[0]}, "
                    f"{', '.join(map(str, stored.shape[1:]))}), got {tuple(value.shape)}"
                )
            rows[_EXTRA_PREFIX + name] = value.detach()
        if self.gather_distributed and is_dist_initialized() and world_size() > 1:
            rows = {key: _gather(value) for key, value in rows.items()}
        n = rows["queue"].shape[0]
        if n == 0:
            return
        if n > self.size:
            rows = {key: value[-self.size :] for key, value in rows.items()}
            n = self.size
        start = int(self.ptr)
        first = min(n, self.size - start)
        for key, value in rows.items():
            buf = getattr(self, key)
            value = value.to(device=buf.device, dtype=buf.dtype)
            buf[start : start + first] = value[:first]
            buf[: n - first] = value[first:]
        self.ptr.fill_((start + n) % self.size)
        self.filled.fill_(min(int(self.filled) + n, self.size))
