"""One seeding helper for Python, NumPy, torch (CPU and CUDA) and DataLoader workers.

Typical use::

    generator = seed_everything(0)
    loader = DataLoader(ds, shuffle=True, generator=generator, worker_init_fn=seed_worker)
"""

from __future__ import annotations

import logging
import os
import random

import numpy as np
import torch

__all__ = ["derive_seed", "make_generator", "seed_everything", "seed_worker"]

logger = logging.getLogger(__name__)

_MAX_SEED = 2**63 - 1


def derive_seed(*keys: int) -> int:
    """Mix several non-negative integers into one well-spread 63-bit seed.

    Used to give every ``(seed, epoch)`` or ``(seed, rank)`` pair its own independent stream
    without the correlations of ``seed + epoch``.

    Args:
        *keys: Non-negative integers, e.g. ``derive_seed(seed, epoch)``.

    Returns:
        An integer in ``[0, 2**63)``, a deterministic function of ``keys``.

    Raises:
        ValueError: If no key is given or a key is negative.
    """
    if not keys:
        raise ValueError("derive_seed needs at least one integer key")
    if any(int(k) < 0 for k in keys):
        raise ValueError(f"derive_seed keys must be non-negative integers, got {keys}")
    state = np.random.SeedSequence([int(k) for k in keys]).generate_state(2, dtype=np.uint32)
    return int((int(state[0]) << 32 | int(state[1])) & _MAX_SEED)


def make_generator(seed: int, device: str | torch.device = "cpu") -> torch.Generator:
    """Return a new ``torch.Generator`` on ``device`` seeded with ``seed``.

    Args:
        seed: Any integer accepted by ``torch.Generator.manual_seed``.
        device: Device of the generator (default ``"cpu"``).
    """
    generator = torch.Generator(device=device)
    generator.manual_seed(int(seed))
    return generator


def seed_everything(seed: int, *, deterministic: bool = False) -> torch.Generator:
    """Seed Python ``random``, NumPy's global RNG and torch (CPU and every CUDA device).

    Args:
        seed: Non-negative integer seed.
        deterministic: Also ask torch for deterministic kernels
            (``torch.use_deterministic_algorithms(True, warn_only=True)`` and cuDNN
            deterministic mode). Default False: it can slow training down.

    Returns:
        A fresh CPU ``torch.Generator`` seeded with ``seed``, for a DataLoader's shuffling or an
        augmentation pipeline.

    Raises:
        ValueError: If ``seed`` is negative or does not fit in 64 bits.
    """
    seed = int(seed)
    if not 0 <= seed <= _MAX_SEED:
        raise ValueError(f"seed must be in [0, 2**63), got {seed}")
    random.seed(seed)
    np.random.seed(seed % 2**32)  # noqa: NPY002 (legacy code draws from the global RNG)
    torch.manual_seed(seed)  # also seeds every CUDA device, lazily
    os.environ.setdefault("PYTHONHASHSEED", str(seed % 2**32))
    if deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False
    logger.debug("seeded python, numpy and torch with %d", seed)
    return make_generator(seed)


def seed_worker(worker_id: int) -> None:
    """``worker_init_fn`` for ``DataLoader``: seed Python and NumPy from torch's worker seed.

    torch already gives each worker its own seed (``base_seed + worker_id``, the base seed drawn
    from the loader's generator); Python ``random`` and NumPy would otherwise be identical copies
    in every worker.

    Args:
        worker_id: Index of the worker (unused; part of the ``worker_init_fn`` signature).
    """
    del worker_id
    worker_seed = torch.initial_seed() % 2**32
    random.seed(worker_seed)
    np.random.seed(worker_seed)  # noqa: NPY002
