"""Fine-tuning and benchmark tests run tiny models on one torch thread."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """The shared 2-core box is oversubscribed; one thread is ~10x faster for tiny models."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def three_targets(tmp_path, tpsa_table) -> str:
    """A 100-molecule CSV with three regression targets (``tests/finetune/per_target.py``)."""
    from tests.finetune.per_target import write_three_targets

    return write_three_targets(tpsa_table, tmp_path / "three.csv")
