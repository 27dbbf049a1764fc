"""Two-process (gloo, CPU) checks of gather_with_grad and NTXentLoss(gather_distributed=True).

All checks run inside one ``torch.multiprocessing.spawn`` of two workers to keep start-up cost
to one. Each worker builds the same global batch from a fixed seed, computes the single-process
reference on it, then its own distributed share, and asserts:

* the mean of the per-rank losses equals the single-process loss (plain and weighted);
* each rank's ``dL_r/dz_r`` divided by the world size (what DDP's averaging does to a shared
  parameter) equals the single-process ``dL/dz`` slice, and the all-reduced mean gradient of a
  shared linear layer equals the single-process gradient;
* with unequal batch sizes, scaling the local loss by ``n_r * W / N`` restores both identities;
* ``gather_with_grad`` concatenates in rank order and back-propagates the SUM over ranks.
"""

from __future__ import annotations

import socket
from datetime import timedelta

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from molssl.contrastive import NTXentLoss, gather_with_grad, rank, world_size

WORLD = 2
DIM = 5
TEMPERATURE = 0.2


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _check_gather(r: int) -> None:
    sizes = [2, 3]
    g = torch.Generator().manual_seed(7)
    xs = [torch.randn(n, DIM, generator=g, dtype=torch.float64) for n in sizes]
    coefs = [torch.randn(sum(sizes), DIM, generator=g, dtype=torch.float64) for _ in sizes]
    x = xs[r].clone().requires_grad_(True)
    gathered = gather_with_grad(x)
    torch.testing.assert_close(gathered, torch.cat(xs))
    (coefs[r] * gathered**2).sum().backward()
    start = sum(sizes[:r])
    # d/dx_r of sum_q sum(A_q * G**2) = 2 * x_r * sum_q A_q[slice r]
    expected = 2 * xs[r] * sum(c[start : start + sizes[r]] for c in coefs)
    torch.testing.assert_close(x.grad, expected)


def _check_loss(r: int, sizes: list[int], weighted: bool) -> None:
    n_global, start = sum(sizes), sum(sizes[:r])
    rows = slice(start, start + sizes[r])
    g = torch.Generator().manual_seed(123 + n_global)
    x_a = torch.randn(n_global, DIM, generator=g, dtype=torch.float64)
    x_b = torch.randn(n_global, DIM, generator=g, dtype=torch.float64)
    weight = torch.rand(n_global, n_global, generator=g, dtype=torch.float64) if weighted else None
    lin = torch.nn.Linear(DIM, DIM, dtype=torch.float64)
    with torch.no_grad():
        lin.weight.copy_(torch.randn(DIM, DIM, generator=g, dtype=torch.float64))
        lin.bias.copy_(torch.randn(DIM, generator=g, dtype=torch.float64))

    # single process over the global batch
    z_a, z_b = lin(x_a), lin(x_b)
    z_a.retain_grad()
    z_b.retain_grad()
    ref_loss = NTXentLoss(TEMPERATURE)(z_a, z_b, weight=weight)
    ref_loss.backward()
    ref_z_grad = (z_a.grad[rows].clone(), z_b.grad[rows].clone())
    ref_param_grad = [p.grad.clone() for p in lin.parameters()]
    lin.zero_grad()

    # this rank's share, negatives gathered from all ranks
    za_r, zb_r = lin(x_a[rows]), lin(x_b[rows])
    za_r.retain_grad()
    zb_r.retain_grad()
    local_w = None if weight is None else weight[rows]
    loss_r = NTXentLoss(TEMPERATURE, gather_distributed=True)(za_r, zb_r, weight=local_w)
    # with unequal sizes, weight each rank's mean by its share so DDP's average is the global mean
    scale = sizes[r] * WORLD / n_global
    (scale * loss_r).backward()

    mean_loss = (scale * loss_r).detach().clone()
    dist.all_reduce(mean_loss)
    torch.testing.assert_close(mean_loss / WORLD, ref_loss.detach())
    torch.testing.assert_close(za_r.grad / WORLD, ref_z_grad[0])
    torch.testing.assert_close(zb_r.grad / WORLD, ref_z_grad[1])
    for p, expected in zip(lin.parameters(), ref_param_grad, strict=True):
        grad = p.grad.clone()
        dist.all_reduce(grad)
        torch.testing.assert_close(grad / WORLD, expected)


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
        assert world_size() == WORLD and rank() == r
        _check_gather(r)
        for sizes in ([4, 4], [3, 5], [1, 1]):
            for weighted in (False, True):
                _check_loss(r, sizes, weighted)
    finally:
        dist.destroy_process_group()


@pytest.mark.distributed
def test_two_process_gather_and_loss_match_single_process() -> None:
    if not dist.is_available() or not dist.is_gloo_available():
        pytest.skip("torch.distributed with gloo is unavailable")
    mp.spawn(_worker, args=(_free_port(),), nprocs=WORLD, join=True)
