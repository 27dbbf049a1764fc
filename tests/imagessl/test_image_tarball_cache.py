"""Extracted tarballs are cached by content: two archives of one name are two data sets."""

from __future__ import annotations

import tarfile
from pathlib import Path

import numpy as np
from PIL import Image

from imagessl.config import DataConfig
from imagessl.data import load_images
from imagessl.folder import extract_tarball


def _archive(folder: Path, classes: tuple[str, ...]) -> Path:
    for k, cls in enumerate(classes):
        for i in range(3):
            path = folder / "src" / cls / f"{i}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            array = np.full((8, 8, 3), 40 * k + i, dtype=np.uint8)
            Image.fromarray(array).save(path)
    archive = folder / "imgs.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for cls in classes:
            tar.add(folder / "src" / cls, arcname=cls)
    return archive


def test_archives_of_one_name_from_two_folders_are_extracted_apart(tmp_path, image_cache):
    first = _archive(tmp_path / "a", ("cat", "dog"))
    second = _archive(tmp_path / "b", ("ant", "bee", "fly"))
    assert load_images(DataConfig(str(first)), "train").classes == ["cat", "dog"]
    assert load_images(DataConfig(str(second)), "train").classes == ["ant", "bee", "fly"]
    assert extract_tarball(first) != extract_tarball(second)
    assert extract_tarball(first) == extract_tarball(first)  # the same content: extracted once
    assert extract_tarball(first).parent == image_cache
