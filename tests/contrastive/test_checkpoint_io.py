"""Checkpoints: weights_only round trip, RNG restore, atomic writes, clear errors."""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch

from molssl.contrastive.io import checkpoint as ckpt_mod
from molssl.contrastive.io.checkpoint import (
    FORMAT_VERSION,
    CheckpointError,
    capture_rng_state,
    load_checkpoint,
    restore_rng_state,
    save_checkpoint,
)


@dataclass
class _Cfg:
    hidden: int = 4
    out_dir: Path = Path("runs/x")
    dims: tuple[int, ...] = (1, 2)


def _draw(g: torch.Generator) -> tuple:
    return (
        random.random(),
        np.random.rand(),  # noqa: NPY002
        torch.rand(1).item(),
        torch.rand(1, generator=g).item(),
    )


def _save(path: Path, **kwargs) -> Path:
    model = torch.nn.Linear(3, 2)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    model(torch.randn(4, 3)).sum().backward()
    opt.step()
    return save_checkpoint(
        path,
        model.state_dict(),
        config=_Cfg(),
        optimizer=opt.state_dict(),
        step=7,
        epoch=2,
        best_metric=0.5,
        **kwargs,
    )


def test_round_trip_weights_only_and_rng_restore(tmp_path: Path) -> None:
    g = torch.Generator().manual_seed(3)
    random.seed(1)
    np.random.seed(1)  # noqa: NPY002
    np.random.randn()  # noqa: NPY002 (sets the cached gaussian)
    rng = capture_rng_state({"augment": g})
    expected = _draw(g)
    path = _save(tmp_path / "c.pt", rng=rng, metadata={"featurizer": {"name": "molclr"}})
    raw = torch.load(path, weights_only=True)  # the property itself
    assert raw["format_version"] == FORMAT_VERSION
    ckpt = load_checkpoint(path)
    assert ckpt["config"] == {"hidden": 4, "out_dir": "runs/x", "dims": [1, 2]}
    assert ckpt["featurizer"] == {"name": "molclr"}
    assert ckpt["step"] == 7 and ckpt["epoch"] == 2 and ckpt["best_metric"] == 0.5
    assert set(ckpt["versions"]) >= {"torch", "python", "numpy", "molssl"}
    model = torch.nn.Linear(3, 2)
    model.load_state_dict(ckpt["state_dict"])
    opt = torch.optim.Adam(model.parameters())
    opt.load_state_dict(ckpt["optimizer"])

    _draw(g)  # move every stream on
    g2 = torch.Generator()
    restore_rng_state(ckpt["rng"], {"augment": g2})
    assert _draw(g2) == expected


def test_reserved_metadata_key_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="reserved"):
        _save(tmp_path / "c.pt", metadata={"step": 3})


def test_atomic_write_keeps_old_file_and_leaves_no_temp(tmp_path: Path, monkeypatch) -> None:
    path = _save(tmp_path / "c.pt")
    before = path.read_bytes()
    real_save = torch.save

    def failing_save(obj, f, *args, **kwargs):
        real_save({"partial": torch.zeros(1000)}, f)
        raise OSError("disk full")

    monkeypatch.setattr(ckpt_mod.torch, "save", failing_save)
    with pytest.raises(OSError, match="disk full"):
        _save(path)
    with pytest.raises(OSError, match="disk full"):
        _save(tmp_path / "new.pt")
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.pt"]


def test_missing_corrupt_and_newer_files(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_checkpoint(tmp_path / "absent.pt")
    path = _save(tmp_path / "c.pt")
    data = path.read_bytes()
    (tmp_path / "trunc.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="corrupt"):
        load_checkpoint(tmp_path / "trunc.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError):
        load_checkpoint(tmp_path / "junk.pt")
    torch.save({"weight": torch.zeros(1)}, tmp_path / "plain.pt")
    with pytest.raises(CheckpointError, match="not a molssl checkpoint"):
        load_checkpoint(tmp_path / "plain.pt")
    future = torch.load(path, weights_only=True)
    future["format_version"] = FORMAT_VERSION + 1
    torch.save(future, tmp_path / "future.pt")
    with pytest.raises(CheckpointError, match="upgrade molssl"):
        load_checkpoint(tmp_path / "future.pt")


def test_unstorable_config_value_is_a_type_error(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="cannot store"):
        save_checkpoint(tmp_path / "c.pt", {}, config={"fn": len})
