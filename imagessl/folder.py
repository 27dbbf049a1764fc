"""Decode a folder of class folders into one uint8 tensor, once, with bad files reported.

The listing follows :class:`torchvision.datasets.ImageFolder` (``root/<class>/<image>``, classes
in sorted order); a folder holding images but no class folders is one class. Corrupt or
unreadable files are skipped, grayscale (and palette/alpha) images are converted to RGB, images
of another size are resized (shorter side) and centre-cropped; all three are counted in the
:class:`LoadReport` and logged. The decoded tensor is cached under
``$IMAGESSL_CACHE_DIR`` (default ``~/.cache/imagessl``) keyed by the folder's listing, so a
second run does not decode again. Tarballs are extracted into the same cache once, atomically.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tarfile
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

__all__ = [
    "ImageDataError",
    "LoadReport",
    "cache_dir",
    "decode_folder",
    "extract_tarball",
]

logger = logging.getLogger(__name__)

_GRAY_MODES = frozenset({"1", "L", "LA", "I", "I;16", "F"})


class ImageDataError(ValueError):
    """An image source is missing, empty or holds no readable image."""


@dataclass
class LoadReport:
    """What happened while reading an image source.

    Attributes:
        source: The folder, file or dataset name read.
        num_images: Images kept.
        skipped: ``(path, reason)`` of every unreadable file.
        converted: Paths of grayscale images converted to RGB.
        resized: Number of images resized to the common size.
    """

    source: str
    num_images: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)
    converted: list[str] = field(default_factory=list)
    resized: int = 0

    def summary(self) -> str:
        """One line for logs and the CLI."""
        return (
            f"{self.source}: {self.num_images} images, {len(self.skipped)} skipped (unreadable), "
            f"{len(self.converted)} grayscale converted to RGB, {self.resized} resized"
        )


def cache_dir() -> Path:
    """``$IMAGESSL_CACHE_DIR`` or ``~/.cache/imagessl`` (created)."""
    root = Path(os.environ.get("IMAGESSL_CACHE_DIR", Path.home() / ".cache" / "imagessl"))
    root.mkdir(parents=True, exist_ok=True)
    return root


def extract_tarball(archive: str | Path, name: str | None = None) -> Path:
    """Extract ``archive`` into ``cache_dir()/<name>-<sha256>`` once (temp folder + atomic
    rename).

    The cache folder is keyed by the archive's content (the first 16 hex digits of its
    SHA-256), so two archives of one name (``imgs.tar.gz`` from two folders, or one rewritten
    in place) are never mistaken for each other; hashing reads the archive once per call.

    Args:
        archive: A ``.tar``/``.tar.gz`` file.
        name: Folder name prefix in the cache (default: the archive name without its suffixes).

    Returns:
        The extracted folder (existing extractions are reused).

    Raises:
        ImageDataError: If the archive does not exist or is not a tar file.
    """
    archive = Path(archive)
    if not archive.is_file():
        raise ImageDataError(f"archive {archive} does not exist; pass an existing .tar.gz")
    name = name or archive.name.split(".")[0]
    target = cache_dir() / f"{name}-{_file_sha256(archive)[:16]}"
    if target.is_dir():
        return target
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=cache_dir()))
    try:
        logger.info("extracting %s into %s (once)", archive, target)
        with tarfile.open(archive) as tar:
            tar.extractall(tmp, filter="data")
        try:
            os.replace(tmp, target)
        except OSError:  # another process finished first
            if not target.is_dir():
                raise
    except tarfile.TarError as exc:
        raise ImageDataError(f"cannot extract {archive}: {exc}; is it a .tar(.gz)?") from exc
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _listing(root: Path) -> tuple[list[str], list[tuple[str, int]]]:
    from torchvision.datasets.folder import IMG_EXTENSIONS, find_classes, make_dataset

    try:
        classes, class_to_idx = find_classes(str(root))
    except FileNotFoundError:
        classes, class_to_idx = [], {}
    if classes:
        samples = make_dataset(str(root), class_to_idx, extensions=IMG_EXTENSIONS, allow_empty=True)
        return classes, samples
    files = sorted(p for p in root.iterdir() if p.suffix.lower() in IMG_EXTENSIONS)
    return [root.name], [(str(p), 0) for p in files]


def _signature(root: Path, samples: list[tuple[str, int]], size: int | None) -> str:
    digest = hashlib.sha1(f"{root.resolve()}|{size}|{len(samples)}".encode())
    for path, label in samples:
        stat = os.stat(path)
        digest.update(f"{path}|{label}|{stat.st_size}|{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:16]


def _read(path: str, size: int | None, report: LoadReport) -> np.ndarray | None:
    from PIL import Image, ImageOps

    try:
        with Image.open(path) as img:
            img.load()
            mode = img.mode
            if mode in _GRAY_MODES:
                report.converted.append(path)
            rgb = img.convert("RGB") if mode != "RGB" else img.copy()
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        report.skipped.append((path, f"{type(exc).__name__}: {exc}"))
        return None
    if size is not None and rgb.size != (size, size):
        rgb = ImageOps.fit(rgb, (size, size), method=Image.Resampling.BICUBIC)
        report.resized += 1
    return np.asarray(rgb, dtype=np.uint8)


def _first_size(samples: list[tuple[str, int]]) -> int | None:
    """The shorter side of the first readable image (None when none is readable)."""
    for path, _ in samples:
        array = _read(path, None, LoadReport(path))
        if array is not None:
            return min(array.shape[:2])
    return None


def decode_folder(
    root: str | Path, image_size: int | None = None, *, use_cache: bool = True
) -> tuple[torch.Tensor, torch.Tensor, list[str], LoadReport]:
    """Decode every image under ``root`` into ``uint8 [N, 3, S, S]`` with class labels.

    Args:
        root: A folder of class folders (or of images: one class).
        image_size: Common size ``S``; None takes the first readable image's (square) size.
        use_cache: Read/write the decoded tensor in the cache (default True).

    Returns:
        ``(images, labels long [N], classes, report)``.

    Raises:
        ImageDataError: If ``root`` is not a folder, holds no image file, or none is readable.
    """
    from tqdm.auto import tqdm

    root = Path(root)
    if not root.is_dir():
        raise ImageDataError(f"image folder {root} does not exist or is not a folder")
    classes, samples = _listing(root)
    if not samples:
        raise ImageDataError(
            f"no images found in {root}; expected image files (.jpg, .png, ...) in class "
            "subfolders root/<class>/<image> or directly in the folder"
        )
    key = _signature(root, samples, image_size)
    cached = cache_dir() / "decoded" / f"{key}.pt"
    if use_cache and cached.is_file():
        hit = _read_cache(cached, str(root))
        if hit is not None:
            return hit
    report = LoadReport(str(root))
    size = image_size if image_size is not None else _first_size(samples)
    arrays, labels = [], []
    for path, label in tqdm(samples, desc=f"decode {root.name}", disable=len(samples) < 2000):
        array = _read(path, size, report)
        if array is not None:
            arrays.append(array)
            labels.append(label)
    if not arrays:
        raise ImageDataError(
            f"none of the {len(samples)} image files in {root} could be read "
            f"(first error: {report.skipped[0][1]}); check the files"
        )
    images = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).contiguous()
    label_tensor = torch.tensor(labels, dtype=torch.long)
    report.num_images = len(arrays)
    _log_report(report)
    if use_cache:
        cached.parent.mkdir(parents=True, exist_ok=True)
        tmp = cached.with_suffix(f".{os.getpid()}.tmp")
        blob = {
            "images": images,
            "labels": label_tensor,
            "classes": classes,
            "skipped": [list(s) for s in report.skipped],
            "converted": report.converted,
            "resized": report.resized,
        }
        torch.save(blob, tmp)
        os.replace(tmp, cached)
    return images, label_tensor, classes, report


def _read_cache(
    cached: Path, root: str
) -> tuple[torch.Tensor, torch.Tensor, list[str], LoadReport] | None:
    """The decoded folder cached in ``cached``, or None (logged) when the file is damaged."""
    from molssl.contrastive.io.checkpoint import CheckpointError, read_torch_file

    try:
        blob = read_torch_file(cached, "cpu")
        report = LoadReport(
            root,
            len(blob["labels"]),
            [tuple(s) for s in blob["skipped"]],
            list(blob["converted"]),
            int(blob["resized"]),
        )
        result = blob["images"], blob["labels"], list(blob["classes"]), report
    except (CheckpointError, KeyError, TypeError, ValueError) as err:
        logger.warning(
            "decoded-image cache %s is unreadable (%s); decoding %s again",
            cached,
            " ".join(str(err).split())[:120],
            root,
        )
        return None
    _log_report(report)
    return result


def _log_report(report: LoadReport) -> None:
    logger.info("%s", report.summary())
    for path, reason in report.skipped[:20]:
        logger.warning("skipped unreadable image %s (%s)", path, reason)
    if len(report.skipped) > 20:
        logger.warning("... and %d more unreadable images", len(report.skipped) - 20)
    if report.converted:
        logger.warning(
            "converted %d grayscale images to RGB (first: %s)",
            len(report.converted),
            report.converted[0],
        )
