"""SimCLR through the shared Trainer under two gloo processes (torchrun environment)."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp

from molssl.contrastive.io.checkpoint import load_checkpoint

WORLD = 2


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank: int, port: int, root: str, cache: str) -> None:
    os.environ |= {
        "MASTER_ADDR": "127.0.0.1",
        "MASTER_PORT": str(port),
        "RANK": str(rank),
        "LOCAL_RANK": str(rank),
        "WORLD_SIZE": str(WORLD),
        "IMAGESSL_CACHE_DIR": cache,
    }
    torch.set_num_threads(1)
    from imagessl.config import DataConfig, EncoderConfig, ImagePretrainConfig
    from imagessl.pretrain import pretrain
    from molssl.contrastive.training.trainer import TrainerConfig

    cfg = ImagePretrainConfig(
        method="simclr",
        data=DataConfig("digits", limit=64),
        encoder=EncoderConfig("convnet", width=4, num_stages=2),
        trainer=TrainerConfig(
            epochs=1,
            max_steps=2,
            batch_size=8,
            device="cpu",
            warmup_epochs=0,
            out_dir=root,
            progress=False,
            log_every=1,
        ),
    )
    assert cfg.simclr.gather_distributed
    result = pretrain(cfg)
    assert result.step == 2


@pytest.mark.distributed
def test_simclr_ddp_two_processes(tmp_path: Path, image_cache: Path) -> None:
    mp.spawn(
        _worker,
        args=(_free_port(), str(tmp_path / "run"), str(image_cache)),
        nprocs=WORLD,
        join=True,
    )
    ckpt = load_checkpoint(tmp_path / "run" / "last.pt")
    assert ckpt["step"] == 2 and len(ckpt["rng"]) == WORLD
