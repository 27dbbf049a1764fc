"""A damaged decoded-image cache is decoded again, not a traceback (imagessl ``--data FOLDER``).

The cache is a torch file like a checkpoint; random bytes in it made ``torch.load`` raise.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
import torch


def _folder(root: Path) -> Path:
    from PIL import Image

    rng = np.random.default_rng(0)
    for cls in ("cat", "dog"):
        (root / cls).mkdir(parents=True)
        for i in range(3):
            pixels = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(root / cls / f"{i}.png")
    return root


@pytest.mark.parametrize("damage", [b"", b"random bytes", b"PK\x03\x04 truncated zip"])
def test_damaged_cache_is_rebuilt(damage: bytes, tmp_path: Path, monkeypatch, caplog) -> None:
    from imagessl.folder import decode_folder

    monkeypatch.setenv("IMAGESSL_CACHE_DIR", str(tmp_path / "cache"))
    root = _folder(tmp_path / "imgs")
    images, labels, classes, _ = decode_folder(root)
    cached = list((tmp_path / "cache" / "decoded").glob("*.pt"))
    assert len(cached) == 1
    cached[0].write_bytes(damage)
    with caplog.at_level(logging.WARNING, logger="imagessl.folder"):
        again, again_labels, again_classes, _ = decode_folder(root)
    assert torch.equal(again, images) and torch.equal(again_labels, labels)
    assert again_classes == classes
    assert "decoding" in caplog.text and "again" in caplog.text
