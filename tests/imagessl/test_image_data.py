"""Image sources and bad inputs: empty folders, corrupt files, grayscale images, tarballs."""

from __future__ import annotations

import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from imagessl.config import DataConfig
from imagessl.data import ImageDataError, load_images
from imagessl.folder import decode_folder, extract_tarball


def _write(path: Path, mode: str = "RGB", size: int = 16, seed: int = 0) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    channels = 3 if mode == "RGB" else 1
    array = rng.integers(0, 256, (size, size, channels), dtype=np.uint8).squeeze()
    Image.fromarray(array, mode=mode).save(path)


def _folder(root: Path) -> Path:
    for cls in ("cat", "dog"):
        for i in range(5):
            _write(root / cls / f"{i}.png", seed=i)
    return root


def test_digits_are_32px_rgb_with_a_fixed_split() -> None:
    train, test = (
        load_images(DataConfig("digits"), "train"),
        load_images(DataConfig("digits"), "test"),
    )
    assert train.images.shape[1:] == (3, 32, 32) and train.images.dtype == torch.uint8
    assert len(train) + len(test) == 1797 and len(test) == 359
    assert torch.equal(train.images[0, 0], train.images[0, 1])
    assert len(load_images(DataConfig("digits", limit=100), "train")) == 100


def test_folder_with_classes_and_seeded_split(tmp_path: Path) -> None:
    root = _folder(tmp_path / "imgs")
    cfg = DataConfig(str(root), test_fraction=0.2)
    train, test = load_images(cfg, "train"), load_images(cfg, "test")
    assert train.classes == ["cat", "dog"] and len(train) == 8 and len(test) == 2
    assert train.images.shape[1:] == (3, 16, 16)
    again = load_images(cfg, "train")  # from the decoded cache
    assert torch.equal(again.images, train.images)


def test_empty_folder_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "empty" / "cls").mkdir(parents=True)
    with pytest.raises(ImageDataError, match="no images found"):
        load_images(DataConfig(str(tmp_path / "empty")), "train")
    with pytest.raises(ImageDataError, match="does not exist"):
        load_images(DataConfig(str(tmp_path / "missing")), "train")


def test_corrupt_image_is_skipped_and_reported(tmp_path: Path) -> None:
    root = _folder(tmp_path / "imgs")
    (root / "cat" / "broken.jpg").write_bytes(b"not a jpeg at all")
    images, labels, _, report = decode_folder(root, use_cache=False)
    assert len(images) == 10 and len(report.skipped) == 1
    assert report.skipped[0][0].endswith("broken.jpg")
    assert "1 skipped" in report.summary()


def test_grayscale_image_is_converted_and_reported(tmp_path: Path) -> None:
    root = _folder(tmp_path / "imgs")
    _write(root / "dog" / "gray.png", mode="L", seed=9)
    _write(root / "dog" / "big.png", size=40, seed=3)
    images, _, _, report = decode_folder(root, use_cache=False)
    assert images.shape == (12, 3, 16, 16)
    assert len(report.converted) == 1 and report.converted[0].endswith("gray.png")
    assert report.resized == 1


def test_all_corrupt_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "bad" / "a").mkdir(parents=True)
    (tmp_path / "bad" / "a" / "x.png").write_bytes(b"junk")
    with pytest.raises(ImageDataError, match="could be read"):
        decode_folder(tmp_path / "bad", use_cache=False)


def test_tarball_with_train_test_is_extracted_once(tmp_path: Path, image_cache: Path) -> None:
    src = tmp_path / "src"
    _folder(src / "train")
    _folder(src / "test")
    archive = tmp_path / "toy-set.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for split in ("train", "test"):
            tar.add(src / split, arcname=split)
    train = load_images(DataConfig(str(archive)), "train")
    assert len(train) == 10 and train.classes == ["cat", "dog"]
    target = extract_tarball(archive)
    assert target.parent == image_cache and (target / "test" / "dog").is_dir()
    assert not any(p.name.startswith(".toy-set") for p in image_cache.iterdir())


def test_cifar10_found_through_imagessl_data_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _folder(tmp_path / "cifar10" / "train")
    _folder(tmp_path / "cifar10" / "test")
    monkeypatch.setenv("IMAGESSL_DATA_DIR", str(tmp_path))
    test = load_images(DataConfig("cifar10"), "test")
    assert len(test) == 10 and test.report.source.endswith("test")
