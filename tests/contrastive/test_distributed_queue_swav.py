"""Two-process (gloo, CPU) checks of MoCo's gathered queue and SwAV's distributed Sinkhorn.

One ``torch.multiprocessing.spawn`` of two workers. Each builds the same global batch from a
fixed seed, computes the single-process reference on it, then its own share, and asserts:

* ``FeatureQueue.enqueue`` leaves every rank with the queue a single process gets by enqueueing
  the global batch in rank order (features and bool extras, unequal sizes, wrap-around), and a
  MoCo loss against it averages over ranks to the single-process loss and gradient;
* ``sinkhorn_knopp(gather_distributed=True)`` returns each rank's rows of the single-process
  codes (unequal sizes too), and ``SwAVLoss`` (with per-rank queues) gives the single-process
  loss and, after DDP-style gradient averaging, its prototype gradient.
"""

from __future__ import annotations

import socket
from datetime import timedelta

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from molssl.contrastive import FeatureQueue, MoCoLoss, SwAVLoss, SwAVPrototypes, sinkhorn_knopp

WORLD = 2
DIM = 4


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _slices(sizes: list[int], r: int) -> slice:
    start = sum(sizes[:r])
    return slice(start, start + sizes[r])


def _check_queue_and_moco(r: int) -> None:
    g = torch.Generator().manual_seed(11)
    ref = FeatureQueue(7, DIM, extras={"fp": ((5,), torch.bool)}, gather_distributed=False)
    queue = FeatureQueue(7, DIM, extras={"fp": ((5,), torch.bool)})
    for sizes in ([2, 1], [3, 2], [2, 2]):  # 3 + 5 + 4 rows: wraps around a 7-row queue
        keys = torch.randn(sum(sizes), DIM, generator=g)
        fp = torch.rand(sum(sizes), 5, generator=g) > 0.5
        rows = _slices(sizes, r)
        queue.enqueue(keys[rows], fp=fp[rows])
        ref.enqueue(keys, fp=fp)
        torch.testing.assert_close(queue.features, ref.features, rtol=0, atol=0)
        assert torch.equal(queue.extra("fp"), ref.extra("fp"))
        assert int(queue.ptr) == int(ref.ptr) and len(queue) == len(ref)

    sizes = [3, 3]
    q_all = torch.randn(6, DIM, generator=g, dtype=torch.float64)
    k_all = torch.randn(6, DIM, generator=g, dtype=torch.float64)
    lin = torch.nn.Linear(DIM, DIM, bias=False, dtype=torch.float64)
    with torch.no_grad():
        lin.weight.copy_(torch.randn(DIM, DIM, generator=g, dtype=torch.float64))
    negatives = queue.features.double()
    weight = 1 - 0.5 * torch.rand(6, negatives.shape[0], generator=g, dtype=torch.float64)
    loss_fn = MoCoLoss(0.2)
    ref_loss = loss_fn(lin(q_all), k_all, negatives, weight=weight)
    ref_loss.backward()
    ref_grad = lin.weight.grad.clone()
    lin.zero_grad()
    rows = _slices(sizes, r)
    loss = loss_fn(lin(q_all[rows]), k_all[rows], negatives, weight=weight[rows])
    loss.backward()
    mean = loss.detach().clone()
    dist.all_reduce(mean)
    torch.testing.assert_close(mean / WORLD, ref_loss.detach())
    grad = lin.weight.grad.clone()
    dist.all_reduce(grad)
    torch.testing.assert_close(grad / WORLD, ref_grad)


def _check_sinkhorn(r: int) -> None:
    for sizes in ([4, 4], [3, 5]):
        g = torch.Generator().manual_seed(5 + sum(sizes))
        scores = torch.tanh(torch.randn(sum(sizes), 6, generator=g))
        ref = sinkhorn_knopp(scores, 0.1, 3)
        mine = sinkhorn_knopp(scores[_slices(sizes, r)], 0.1, 3, gather_distributed=True)
        torch.testing.assert_close(mine, ref[_slices(sizes, r)])
        local = sinkhorn_knopp(scores[_slices(sizes, r)], 0.1, 3, gather_distributed=False)
        assert not torch.allclose(local, ref[_slices(sizes, r)])


def _check_swav_loss(r: int) -> None:
    g = torch.Generator().manual_seed(3)
    n, queue_n = 6, 4
    views = [torch.randn(n, DIM, generator=g, dtype=torch.float64) for _ in range(3)]
    queues = [torch.randn(queue_n, DIM, generator=g, dtype=torch.float64) for _ in range(2)]
    torch.manual_seed(0)
    protos = SwAVPrototypes(DIM, 5).double()
    ref_loss = SwAVLoss(0.2, 0.1)(
        [protos(v) for v in views[:2]], [protos(views[2])], queue_scores=[protos(q) for q in queues]
    )
    ref_loss.backward()
    ref_grad = protos.weight.grad.clone()
    protos.zero_grad()
    # each rank keeps a local queue of its own samples (as SwAV does), half of the global one
    rows, qrows = _slices([n // 2] * 2, r), _slices([queue_n // 2] * 2, r)
    loss = SwAVLoss(0.2, 0.1, gather_distributed=True)(
        [protos(v[rows]) for v in views[:2]],
        [protos(views[2][rows])],
        queue_scores=[protos(q[qrows]) for q in queues],
    )
    loss.backward()
    mean = loss.detach().clone()
    dist.all_reduce(mean)
    torch.testing.assert_close(mean / WORLD, ref_loss.detach())
    grad = protos.weight.grad.clone()
    dist.all_reduce(grad)
    torch.testing.assert_close(grad / WORLD, ref_grad)


def _worker(r: int, port: int) -> None:
    torch.set_num_threads(1)
    dist.init_process_group(
        "gloo",
        init_method=f"tcp://127.0.0.1:{port}",
        rank=r,
        world_size=WORLD,
        timeout=timedelta(seconds=30),
    )
    try:
        _check_queue_and_moco(r)
        _check_sinkhorn(r)
        _check_swav_loss(r)
    finally:
        dist.destroy_process_group()


@pytest.mark.distributed
def test_two_process_queue_and_sinkhorn_match_single_process() -> None:
    if not dist.is_available() or not dist.is_gloo_available():
        pytest.skip("torch.distributed with gloo is unavailable")
    mp.spawn(_worker, args=(_free_port(),), nprocs=WORLD, join=True)
