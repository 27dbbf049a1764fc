"""keep_freed_memory: glibc keeps big freed blocks for reuse instead of re-faulting them."""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

import pytest
import torch

from molssl.contrastive.training import allocator
from molssl.contrastive.training.config import TrainerConfig


def _is_glibc() -> bool:
    if not sys.platform.startswith("linux"):
        return False
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    return hasattr(libc, "gnu_get_libc_version")


def _minor_faults() -> int:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


@pytest.mark.skipif(not _is_glibc(), reason="glibc only")
def test_keep_freed_memory_reuses_big_blocks():
    """After the call, a 48 MB tensor freed and allocated again costs no new page faults."""
    assert allocator.keep_freed_memory() is True
    assert allocator.keep_freed_memory() is True  # idempotent
    x = torch.randn(4_000, 3_000)  # 48 MB, above glibc's largest mmap threshold (32 MB)
    for _ in range(5):  # the heap grows to its steady-state size in the first few steps
        torch.relu(x)
    before = _minor_faults()
    for _ in range(5):
        torch.relu(x)
    faults = _minor_faults() - before
    # with mmap'd blocks every relu would fault in ~11,700 pages (48 MB / 4 KiB) again
    assert faults < 2_000, f"{faults} page faults for 5 relus of a 48 MB tensor"


def test_trainer_config_keeps_cpu_memory_by_default():
    assert TrainerConfig().keep_cpu_memory is True
    assert TrainerConfig(keep_cpu_memory=False).keep_cpu_memory is False
