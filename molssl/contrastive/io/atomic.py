"""Atomic file writes: a temporary file beside the target, fsync, ``os.replace``.

A crash while writing leaves any previous file intact and no temporary file behind. The file is
created with the user's normal permissions (``0o666`` minus the umask), as ``open`` would, not
the ``0o600`` of :func:`tempfile.mkstemp`.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

__all__ = ["atomic_open", "atomic_path", "create_temp_beside", "write_text_atomic"]


def create_temp_beside(path: str | os.PathLike[str], suffix: str = ".tmp") -> tuple[int, str]:
    """Create a new hidden file in ``path``'s folder, mode ``0o666 & ~umask``.

    Returns:
        ``(file descriptor opened for writing, its path)``.
    """
    path = Path(path)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    while True:
        name = path.parent / f".{path.name}.{secrets.token_hex(6)}{suffix}"
        try:
            return os.open(name, flags, 0o666), str(name)
        except FileExistsError:
            continue


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike[str], mode: str = "wb", **kwargs: Any) -> Iterator[IO]:
    """Open ``path`` for writing so that readers see the old file or the complete new one.

    Args:
        path: Destination; its folder must exist.
        mode: ``"wb"`` or ``"w"`` (text; ``kwargs`` go to :func:`os.fdopen`, e.g. ``newline``).

    Yields:
        The open temporary file; on a clean exit it is flushed, fsynced and renamed to ``path``.
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_open writes a whole file: mode 'w' or 'wb', got {mode!r}")
    fd, tmp_name = create_temp_beside(path)
    try:
        with os.fdopen(fd, mode, **kwargs) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise
    fsync_dir(Path(path).parent)


def fsync_dir(directory: Path) -> None:
    """Make a rename durable; not supported on every platform/filesystem."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` for writers that take a path (numpy, pyarrow,
    pandas); on a clean exit it replaces ``path``, on error it is removed and ``path`` is left as
    it was.

    Example::

        with atomic_path("out/emb.npy") as tmp:
            np.save(tmp, array)
    """
    fd, tmp_name = create_temp_beside(path)
    os.close(fd)
    try:
        yield Path(tmp_name)
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise


def write_text_atomic(path: str | os.PathLike[str], text: str) -> None:
    """``Path(path).write_text(text)``, atomically (with :func:`atomic_open`)."""
    with atomic_open(path, "w", encoding="utf-8") as handle:
        handle.write(text)
