"""Image datasets as in-memory uint8 tensors: digits (embedded), CIFAR-10, any image folder.

Every source yields an :class:`ImageSet` per split (``"train"``/``"test"``) of
``uint8 [N, 3, S, S]`` images and ``long [N]`` labels. Decoding happens once (and is cached for
folders); augmentation never happens here but in the method's objective, per batch, from the
trainer's generator.

Sources (:data:`DATASETS`, else a path):

- ``digits``: scikit-learn's ``load_digits`` (1,797 8x8 grayscale digits) upsampled
  (bilinear) to 32x32 and repeated to 3 channels; a fixed seeded 80/20 split. Needs no files.
- ``cifar10``: a folder of class folders with ``train``/``test`` (``$IMAGESSL_DATA_DIR``), the
  cache, the shared JPEG tarball (``../shared/data/images/cifar10-jpg.tar.gz``, extracted into
  the cache once), then ``torchvision.datasets.CIFAR10`` (downloads when online).
- a path: a folder with ``train``/``test`` subfolders of class folders, a folder of class
  folders (split seeded by ``test_fraction``), or a ``.tar.gz`` of either.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from imagessl.config import DataConfig
from imagessl.folder import ImageDataError, LoadReport, cache_dir, decode_folder, extract_tarball

__all__ = [
    "DATASETS",
    "ImageDataError",
    "ImageSet",
    "LoadReport",
    "load_images",
]

logger = logging.getLogger(__name__)

Split = Literal["train", "test"]
_SPLIT_SEED = 0
CIFAR10_TARBALL = "cifar10-jpg.tar.gz"


@dataclass(eq=False)
class ImageSet(Dataset):
    """A split of decoded images; ``ds[i] -> (uint8 [3, S, S], long label)``.

    Attributes:
        images: ``uint8 [N, 3, S, S]``.
        labels: ``long [N]`` class indices.
        classes: Class names in label order.
        report: How the source was read (skipped / converted files).
    """

    images: Tensor
    labels: Tensor
    classes: list[str]
    report: LoadReport

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def __getitem__(self, index: int) -> tuple[Tensor, Tensor]:
        return self.images[index], self.labels[index]

    def subset(self, limit: int | None, seed: int = _SPLIT_SEED) -> ImageSet:
        """A seeded random subset of ``limit`` images (self when ``limit`` is None or larger)."""
        if limit is None or limit >= len(self):
            return self
        if limit < 1:
            raise ValueError(f"limit must be >= 1, got {limit}")
        idx = torch.from_numpy(np.sort(np.random.default_rng(seed).permutation(len(self))[:limit]))
        return ImageSet(self.images[idx], self.labels[idx], self.classes, self.report)

    def channel_stats(self) -> tuple[list[float], list[float]]:
        """Per-channel mean and std of the images scaled to [0, 1]."""
        x = self.images.float().div_(255)
        mean = x.mean(dim=(0, 2, 3))
        std = x.std(dim=(0, 2, 3)).clamp_min(1e-3)
        return mean.tolist(), std.tolist()


def _split(images: Tensor, labels: Tensor, fraction: float, split: Split) -> tuple[Tensor, Tensor]:
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"data.test_fraction must be in (0, 1), got {fraction}")
    perm = np.random.default_rng(_SPLIT_SEED).permutation(len(labels))
    n_test = max(1, int(round(fraction * len(labels))))
    idx = np.sort(perm[:n_test] if split == "test" else perm[n_test:])
    return images[idx], labels[idx]


def load_digits_set(split: Split, cfg: DataConfig) -> ImageSet:
    """scikit-learn digits as 3-channel ``uint8`` images, upsampled to 32 (or ``image_size``)."""
    import torch.nn.functional as F
    from sklearn.datasets import load_digits

    digits = load_digits()
    size = cfg.image_size or 32
    x = torch.from_numpy(digits.images).float().unsqueeze(1) * (255.0 / 16.0)
    x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
    images = x.round().clamp(0, 255).to(torch.uint8).expand(-1, 3, -1, -1).contiguous()
    labels = torch.from_numpy(digits.target).long()
    images, labels = _split(images, labels, cfg.test_fraction, split)
    report = LoadReport("sklearn digits", len(labels))
    return ImageSet(images, labels, [str(i) for i in range(10)], report)


def _shared_images_dir() -> Path | None:
    env = os.environ.get("MOLSSL_SHARED_DATA")
    candidates = [Path(env) / "images"] if env else []
    candidates.append(Path(__file__).resolve().parents[2] / "shared" / "data" / "images")
    return next((p for p in candidates if p.is_dir()), None)


def locate_cifar10() -> Path | None:
    """A CIFAR-10 folder with ``train``/``test`` class folders, extracting the tarball if needed.

    Looks in ``$IMAGESSL_DATA_DIR`` (``cifar10/``, ``cifar10-jpg/``, ``cifar10-jpg.tar.gz``),
    the cache, then the shared data folder. Returns None when nothing is found.
    """
    roots = [Path(os.environ["IMAGESSL_DATA_DIR"])] if os.environ.get("IMAGESSL_DATA_DIR") else []
    roots.append(cache_dir())
    shared = _shared_images_dir()
    if shared is not None:
        roots.append(shared)
    for root in roots:
        for name in ("cifar10", "cifar10-jpg"):
            if (root / name / "train").is_dir():
                return root / name
        if (root / CIFAR10_TARBALL).is_file():
            return extract_tarball(root / CIFAR10_TARBALL)
    return None


def _torchvision_cifar10(split: Split) -> ImageSet:
    from torchvision.datasets import CIFAR10

    root = cache_dir() / "torchvision"
    try:
        ds = CIFAR10(str(root), train=split == "train", download=True)
    except (OSError, RuntimeError) as exc:
        raise ImageDataError(
            "CIFAR-10 not found (set IMAGESSL_DATA_DIR to a folder holding cifar10-jpg.tar.gz "
            f"or cifar10/train,test) and the download failed ({exc}); pass --data PATH"
        ) from exc
    images = torch.from_numpy(ds.data).permute(0, 3, 1, 2).contiguous()
    labels = torch.tensor(ds.targets, dtype=torch.long)
    return ImageSet(images, labels, list(ds.classes), LoadReport(f"torchvision {root}", len(ds)))


def load_cifar10(split: Split, cfg: DataConfig) -> ImageSet:
    """CIFAR-10 from a local folder/tarball, else through ``torchvision`` (download)."""
    folder = locate_cifar10()
    if folder is None:
        return _torchvision_cifar10(split)
    return _load_path(folder, split, cfg)


def _load_path(path: Path, split: Split, cfg: DataConfig) -> ImageSet:
    if path.is_file() and path.name.endswith((".tar.gz", ".tgz", ".tar")):
        path = extract_tarball(path)
    if not path.exists():
        raise ImageDataError(
            f"image data {path} does not exist; use --data digits, --data cifar10 or a folder "
            "of class folders"
        )
    if (path / "train").is_dir() and (path / "test").is_dir():
        images, labels, classes, report = decode_folder(path / split, cfg.image_size)
        return ImageSet(images, labels, classes, report)
    images, labels, classes, report = decode_folder(path, cfg.image_size)
    images, labels = _split(images, labels, cfg.test_fraction, split)
    return ImageSet(images, labels, classes, report)


DATASETS: dict[str, Callable[[Split, DataConfig], ImageSet]] = {
    "digits": load_digits_set,
    "cifar10": load_cifar10,
}
"""Named image sources; any other ``data.path`` is read as a folder or tarball."""


def load_images(cfg: DataConfig, split: Split = "train") -> ImageSet:
    """Load one split of the source named by ``cfg.path`` (subset by ``limit``/``test_limit``).

    Args:
        cfg: Data settings.
        split: ``"train"`` or ``"test"``.

    Returns:
        The split as an :class:`ImageSet`.

    Raises:
        ImageDataError: Missing, empty or unreadable data.
        ValueError: If ``split`` is unknown.
    """
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    loader = DATASETS.get(cfg.path)
    data = loader(split, cfg) if loader else _load_path(Path(cfg.path).expanduser(), split, cfg)
    return data.subset(cfg.limit if split == "train" else cfg.test_limit)
