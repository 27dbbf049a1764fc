"""Fixtures of the imagessl tests: a private cache folder and tiny-model CLI overrides."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import torch

TINY = [
    "--set",
    "encoder.name=convnet",
    "--set",
    "encoder.width=8",
    "--set",
    "encoder.num_stages=2",
    "--set",
    "trainer.progress=false",
    "--set",
    "trainer.log_every=1",
    "--set",
    "trainer.warmup_epochs=0",
]


@pytest.fixture(autouse=True)
def image_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point ``IMAGESSL_CACHE_DIR`` at a per-session temp folder (never ``~/.cache``)."""
    path = tmp_path_factory.getbasetemp() / "imagessl-cache"
    monkeypatch.setenv("IMAGESSL_CACHE_DIR", str(path))
    return path


@pytest.fixture
def tiny_args() -> list[str]:
    """CLI overrides for a tiny, fast encoder."""
    return list(TINY)


@pytest.fixture
def pretrain_digits() -> Callable[..., str]:
    """Run ``imagessl pretrain`` for one epoch of a tiny encoder on digits; returns ``last.pt``."""
    from imagessl.cli import main

    def run(out: Path, method: str, limit: int = 512, batch_size: int = 64) -> str:
        args = [
            "pretrain",
            "--method",
            method,
            "--data",
            "digits",
            "--epochs",
            "1",
            "--batch-size",
            str(batch_size),
            "--out",
            str(out),
            "--set",
            f"data.limit={limit}",
        ]
        assert main(args + TINY) == 0
        return str(out / "last.pt")

    return run


@pytest.fixture(autouse=True)
def one_thread() -> None:
    """One intra-op thread: tiny models on a shared 2-core machine run faster without OpenMP."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
