"""FeatureQueue: FIFO order, wrap-around, oversized batches, aligned extras, state_dict."""

from __future__ import annotations

import pytest
import torch

from molssl.contrastive import FeatureQueue


def _rows(start: int, n: int, dim: int = 2) -> torch.Tensor:
    return torch.arange(start, start + n, dtype=torch.float32)[:, None].repeat(1, dim)


def _reference(batches: list[torch.Tensor], size: int) -> list[float]:
    """Ring buffer written row by row: slot ``i`` holds the latest row with index ``i mod size``."""
    slots: dict[int, float] = {}
    count = 0
    for batch in batches:
        for row in batch[:, 0].tolist():
            slots[count % size] = row
            count += 1
    return [slots[i] for i in range(min(count, size))]


def test_queue_fills_then_wraps_around() -> None:
    queue = FeatureQueue(size=5, dim=2)
    assert len(queue) == 0 and queue.features.shape == (0, 2)
    batches = [_rows(0, 3), _rows(3, 3), _rows(6, 2), _rows(8, 4)]
    for i, batch in enumerate(batches):
        queue.enqueue(batch)
        expected = _reference(batches[: i + 1], 5)
        assert queue.features[:, 0].tolist() == expected
        assert len(queue) == len(expected)
    assert int(queue.ptr) == 12 % 5
    # the queue holds exactly the 5 most recent rows
    assert sorted(queue.features[:, 0].tolist()) == [7.0, 8.0, 9.0, 10.0, 11.0]


def test_batch_larger_than_queue_keeps_its_last_rows() -> None:
    queue = FeatureQueue(size=4, dim=2)
    queue.enqueue(_rows(0, 1))
    queue.enqueue(_rows(10, 9))
    assert sorted(queue.features[:, 0].tolist()) == [15.0, 16.0, 17.0, 18.0]
    assert len(queue) == 4


def test_extras_stay_aligned_with_features() -> None:
    queue = FeatureQueue(size=6, dim=3, extras={"fp": ((8,), torch.bool), "idx": ((), torch.long)})
    g = torch.Generator().manual_seed(0)
    seen: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}
    for step in range(5):
        feats = torch.randn(4, 3, generator=g)
        idx = torch.arange(4 * step, 4 * step + 4)
        fp = torch.rand(4, 8, generator=g) > 0.5
        queue.enqueue(feats, fp=fp, idx=idx)
        for j in range(4):
            seen[int(idx[j])] = (feats[j], fp[j])
    assert queue.extra("fp").dtype == torch.bool and len(queue) == 6
    for row, fp, i in zip(queue.features, queue.extra("fp"), queue.extra("idx"), strict=True):
        torch.testing.assert_close(row, seen[int(i)][0])
        assert torch.equal(fp, seen[int(i)][1])
    assert sorted(queue.extra("idx").tolist()) == list(range(14, 20))


def test_queue_state_dict_round_trip_and_errors() -> None:
    queue = FeatureQueue(size=4, dim=2, extras={"fp": ((3,), torch.bool)})
    queue.enqueue(_rows(0, 3), fp=torch.ones(3, 3, dtype=torch.bool))
    state = queue.state_dict()
    assert {"queue", "ptr", "filled", "extra_fp"} <= set(state)
    other = FeatureQueue(size=4, dim=2, extras={"fp": ((3,), torch.bool)})
    other.load_state_dict(state)
    assert len(other) == 3 and torch.equal(other.features, queue.features)
    with pytest.raises(ValueError, match="exactly the extras"):
        queue.enqueue(_rows(0, 1))
    with pytest.raises(ValueError, match="extra 'fp' must have shape"):
        queue.enqueue(_rows(0, 2), fp=torch.ones(2, 4, dtype=torch.bool))
    with pytest.raises(ValueError, match=r"shape \(n, 2\)"):
        queue.enqueue(torch.zeros(2, 3), fp=torch.ones(2, 3, dtype=torch.bool))
    with pytest.raises(KeyError, match="no extra"):
        queue.extra("count")
    with pytest.raises(ValueError, match=">= 1"):
        FeatureQueue(0, 2)
