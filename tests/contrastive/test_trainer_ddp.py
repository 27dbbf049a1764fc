"""Two-process (gloo, CPU) run of the Trainer under the torchrun environment variables.

Checks that the run completes, that only rank 0 writes files, and that the DDP weights after
N steps equal a single-process run over the same global batch (the loss is a batch mean).
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp
import torch.nn.functional as F
from torch import nn
from torch.utils.data import TensorDataset

from molssl.contrastive.training.trainer import Trainer, TrainerConfig

WORLD, DIM, STEPS, PER_RANK = 2, 5, 5, 4


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(DIM, 8), nn.Tanh(), nn.Linear(8, 1))


def _data(n: int, seed: int) -> TensorDataset:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, DIM, generator=g)
    return TensorDataset(x, x.sum(1, keepdim=True).sin())


def regression_objective(model: nn.Module, batch, generator: torch.Generator):
    """Per-sample mean loss; augmentation noise scaled to zero keeps ranks comparable."""
    x, y = batch
    x = x + 0.0 * torch.randn(x.shape, generator=generator, device=generator.device)
    pred = model(x)
    return F.mse_loss(pred, y), {"abs_err": float((pred - y).abs().mean().detach())}


def _config(out_dir: Path, batch_size: int) -> TrainerConfig:
    return TrainerConfig(
        epochs=4,
        max_steps=STEPS,
        lr=1e-2,
        warmup_epochs=1,
        batch_size=batch_size,
        device="cpu",
        log_every=2,
        out_dir=str(out_dir),
        progress=False,
    )


def _join(rank: int, port: int) -> None:
    os.environ |= {
        "MASTER_ADDR": "127.0.0.1",
        "MASTER_PORT": str(port),
        "RANK": str(rank),
        "LOCAL_RANK": str(rank),
        "WORLD_SIZE": str(WORLD),
    }
    torch.set_num_threads(1)


def _worker(rank: int, port: int, root: str) -> None:
    _join(rank, port)
    model = _model()
    # one out_dir per rank so the test can see which ranks wrote files
    cfg = _config(Path(root) / f"rank{rank}", PER_RANK)
    result = Trainer(model, regression_objective, _data(24, 1), cfg, val_data=_data(7, 2)).fit()
    assert result.step == STEPS
    assert not torch.distributed.is_initialized()  # the trainer destroyed its group
    torch.save(model.state_dict(), Path(root) / f"weights{rank}.pt")


def _resume_worker(rank: int, port: int, root: str, max_steps: int, resume: bool) -> None:
    _join(rank, port)
    model = _model()
    cfg = _config(Path(root) / "shared", PER_RANK)
    cfg.max_steps, cfg.resume = max_steps, resume
    Trainer(model, regression_objective, _data(24, 1), cfg, val_data=_data(7, 2)).fit()
    torch.save(model.state_dict(), Path(root) / f"resumed{rank}.pt")


def _single_reference(out_dir: Path) -> nn.Module:
    single = _model()
    cfg = _config(out_dir, PER_RANK * WORLD)
    result = Trainer(single, regression_objective, _data(24, 1), cfg, val_data=_data(7, 2)).fit()
    assert result.step == STEPS
    return single


@pytest.mark.distributed
def test_two_process_ddp_matches_single_process(tmp_path: Path) -> None:
    # the single-process reference first: its imports (torch._dynamo via the optimizer) are then
    # inherited by the forked workers instead of being paid again in each
    single = _single_reference(tmp_path / "single")

    mp.start_processes(
        _worker, args=(_free_port(), str(tmp_path)), nprocs=WORLD, start_method="fork"
    )
    rank0 = tmp_path / "rank0"
    assert {"last.pt", "best.pt", "metrics.csv", "config.yaml", "run_info.json"} <= {
        p.name for p in rank0.iterdir()
    }
    assert not (tmp_path / "rank1").exists()
    for rank in range(WORLD):
        ddp_weights = torch.load(tmp_path / f"weights{rank}.pt", weights_only=True)
        for name, value in single.state_dict().items():
            torch.testing.assert_close(ddp_weights[name], value, atol=1e-5, rtol=1e-5, msg=name)


@pytest.mark.distributed
def test_two_process_ddp_resume_mid_epoch_matches_single_process(tmp_path: Path) -> None:
    single = _single_reference(tmp_path / "single")
    for max_steps, resume in ((2, False), (STEPS, True)):  # 3 steps per epoch: stop mid-epoch
        mp.start_processes(
            _resume_worker,
            args=(_free_port(), str(tmp_path), max_steps, resume),
            nprocs=WORLD,
            start_method="fork",
        )
    assert len(torch.load(tmp_path / "shared" / "last.pt", weights_only=True)["rng"]) == WORLD
    for rank in range(WORLD):
        weights = torch.load(tmp_path / f"resumed{rank}.pt", weights_only=True)
        for name, value in single.state_dict().items():
            torch.testing.assert_close(weights[name], value, atol=1e-5, rtol=1e-5, msg=name)
