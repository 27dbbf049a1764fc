"""Find a dataset file on disk, or download it into the user cache.

Search order for :func:`locate_dataset_file`:

1. the explicit ``data_dir`` argument,
2. ``$MOLSSL_DATA_DIR``,
3. the user cache (``$MOLSSL_CACHE_DIR``, default ``~/.cache/molssl``),
4. a download from the spec's URL into the cache (unless ``download=False`` or
   ``$MOLSSL_OFFLINE`` is set).

In every directory both the ``.csv`` and the ``.csv.gz`` variant of each file name are accepted.
"""

from __future__ import annotations

import http.client
import logging
import os
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Literal

from molssl.contrastive.io.atomic import create_temp_beside
from molssl.contrastive.io.digest import file_sha256
from molssl.data.errors import ChecksumError, DatasetNotFoundError
from molssl.data.registry import DatasetSpec, get_dataset_spec

logger = logging.getLogger(__name__)

ENV_DATA_DIR = "MOLSSL_DATA_DIR"
ENV_CACHE_DIR = "MOLSSL_CACHE_DIR"
ENV_OFFLINE = "MOLSSL_OFFLINE"
DEFAULT_TIMEOUT_S = 60.0

Where = Literal["data-dir", "env", "cache"]
Downloader = Callable[[str, Path, float], None]
"""``downloader(url, destination, timeout_s)`` writes the resource at ``url`` to ``destination``
and raises ``OSError`` (e.g. ``urllib.error.URLError``) when it cannot."""


def default_cache_dir() -> Path:
    """The download cache: ``$MOLSSL_CACHE_DIR`` if set, else ``~/.cache/molssl``."""
    env = os.environ.get(ENV_CACHE_DIR)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "molssl"


def candidate_file_names(spec: DatasetSpec) -> list[str]:
    """File names accepted for ``spec``: each of ``spec.files`` followed by its gz/plain twin."""
    names: list[str] = []
    for name in spec.files:
        twin = name[: -len(".gz")] if name.endswith(".gz") else name + ".gz"
        for candidate in (name, twin):
            if candidate not in names:
                names.append(candidate)
    return names


def search_dirs(data_dir: str | Path | None = None) -> list[tuple[Where, Path]]:
    """Directories searched, in order, each tagged with where it came from.

    Args:
        data_dir: Explicit directory, searched first when given.

    Returns:
        ``[(tag, directory), ...]`` with tags ``"data-dir"``, ``"env"``, ``"cache"``.
    """
    dirs: list[tuple[Where, Path]] = []
    if data_dir is not None:
        dirs.append(("data-dir", Path(data_dir).expanduser()))
    env = os.environ.get(ENV_DATA_DIR)
    if env:
        dirs.append(("env", Path(env).expanduser()))
    dirs.append(("cache", default_cache_dir()))
    return dirs


def find_local_file(
    spec_or_name: DatasetSpec | str, data_dir: str | Path | None = None
) -> tuple[Path, Where] | None:
    """Return ``(path, tag)`` of the first existing file in search order, or ``None``.

    Never downloads. Directory order wins over file-name preference.
    """
    spec = get_dataset_spec(spec_or_name)
    for tag, directory in search_dirs(data_dir):
        for name in candidate_file_names(spec):
            path = directory / name
            if path.is_file():
                return path, tag
    return None


def urllib_download(url: str, destination: Path, timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
    """Stream ``url`` to ``destination`` with a tqdm progress bar (the default downloader)."""
    from tqdm.auto import tqdm

    request = urllib.request.Request(url, headers={"User-Agent": "molssl"})
    with urllib.request.urlopen(request, timeout=timeout_s) as response:
        total = int(response.headers.get("Content-Length") or 0) or None
        with (
            destination.open("wb") as out,
            tqdm(total=total, unit="B", unit_scale=True, desc=Path(url).name) as bar,
        ):
            while chunk := response.read(1 << 20):
                out.write(chunk)
                bar.update(len(chunk))


def download_file(
    url: str,
    destination: Path,
    sha256: str | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    downloader: Downloader | None = None,
) -> Path:
    """Download to a temporary file beside ``destination``, check it, then rename atomically.

    Raises:
        OSError: From the downloader when the URL cannot be fetched.
        ChecksumError: When ``sha256`` is given and does not match; nothing is left behind.
    """
    fetch = downloader or urllib_download
    destination.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = create_temp_beside(destination, suffix=".part")  # umask mode, not 0600
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        logger.info("Downloading %s to %s", url, destination)
        fetch(url, tmp, timeout_s)
        if sha256 is not None:
            actual = file_sha256(tmp)
            if actual != sha256.lower():
                raise ChecksumError(
                    f"Download of {url} has SHA-256 {actual}, expected {sha256}. The file may "
                    f"have changed upstream or the transfer was corrupted; download it by hand "
                    f"and put it in {destination.parent} (local files are not checksummed)."
                )
        os.replace(tmp, destination)
    finally:
        tmp.unlink(missing_ok=True)
    return destination


def _not_found_message(spec: DatasetSpec, data_dir: str | Path | None, reason: str) -> str:
    names = " or ".join(candidate_file_names(spec))
    lines = [f"Dataset {spec.name!r}: file {spec.files[0]} not found (looked for {names}) in:"]
    labels = {"data-dir": "data_dir argument", "env": f"${ENV_DATA_DIR}", "cache": "cache"}
    for tag, directory in search_dirs(data_dir):
        lines.append(f"  - {directory}  ({labels[tag]})")
    if ENV_DATA_DIR not in os.environ:
        lines.append(f"  (${ENV_DATA_DIR} is not set)")
    lines.append(f"{reason}")
    lines.append(
        f"Fix: download {spec.url} and put it in one of the directories above, or set "
        f"${ENV_DATA_DIR} to the directory that holds it (or pass data_dir=...)."
    )
    return "\n".join(lines)


def locate_dataset_file(
    spec_or_name: DatasetSpec | str,
    data_dir: str | Path | None = None,
    download: bool = True,
    *,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    downloader: Downloader | None = None,
) -> Path:
    """Path of a dataset's file, downloading it into the cache when needed.

    Args:
        spec_or_name: A :class:`DatasetSpec` or a registered name/alias.
        data_dir: Directory searched first. Default ``None``.
        download: Whether a missing file may be downloaded. ``$MOLSSL_OFFLINE=1`` also disables
            downloads. Default ``True``.
        timeout_s: Socket timeout of the download in seconds. Default 60.
        downloader: Replaces :func:`urllib_download` (tests inject one to stay offline).

    Returns:
        Path of an existing ``.csv`` or ``.csv.gz`` file.

    Raises:
        UnknownDatasetError: For an unknown name.
        DatasetNotFoundError: When the file is absent and cannot be downloaded; the message names
            the file, the URL, the directories searched and ``$MOLSSL_DATA_DIR``.
        ChecksumError: When a download does not match the spec's SHA-256.
    """
    spec = get_dataset_spec(spec_or_name)
    found = find_local_file(spec, data_dir)
    if found is not None:
        logger.debug("Found %s in %s (%s)", spec.name, found[0], found[1])
        return found[0]
    if not download or os.environ.get(ENV_OFFLINE, "") not in ("", "0"):
        raise DatasetNotFoundError(
            _not_found_message(
                spec, data_dir, f"Downloading is disabled (download=False or ${ENV_OFFLINE} set)."
            )
        )
    destination = default_cache_dir() / spec.files[0]
    try:
        return download_file(spec.url, destination, spec.sha256, timeout_s, downloader)
    except (OSError, http.client.HTTPException) as err:
        if isinstance(err, ChecksumError):
            raise
        raise DatasetNotFoundError(
            _not_found_message(spec, data_dir, f"Download from {spec.url} failed: {err}")
        ) from err
