"""Atomic file writes: a temporary file beside the target, fsync, ``os.replace``.

A crash while writing leaves any previous file intact and no temporary file behind. The file is
created with the user's normal permissions (``0o666`` minus the umask), as ``open`` would, not
the ``0o600`` of :func:`tempfile.mkstemp`.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

__all__ = [
    "atomic_open",
    "atomic_path",
    "check_writable",
    "create_temp_beside",
    "remove_stale_temps",
    "same_file",
    "write_text_atomic",
]


def same_file(a: str | os.PathLike[str], b: str | os.PathLike[str]) -> bool:
    """Whether ``a`` and ``b`` name one file: the same resolved path (links and ``..`` followed),
    or, both existing, the same inode (a hard link)."""
    if Path(a).resolve() == Path(b).resolve():
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


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
    with _replacing(tmp_name, path), os.fdopen(fd, mode, **kwargs) as handle:
        yield handle
        handle.flush()
        os.fsync(handle.fileno())
    fsync_dir(Path(path).parent)


@contextlib.contextmanager
def _replacing(tmp_name: str, path: str | os.PathLike[str]) -> Iterator[None]:
    """Rename ``tmp_name`` to ``path`` when the block exits cleanly; otherwise remove it and
    raise the error naming ``path`` (:func:`_name_destination`)."""
    try:
        yield
        os.replace(tmp_name, path)
    except BaseException as exc:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        _name_destination(exc, tmp_name, path)
        raise


def _name_destination(exc: BaseException, tmp_name: str, path: str | os.PathLike[str]) -> None:
    """Raise ``exc`` again naming ``path`` when it names no file or only the temporary one
    (a full disk's ``write`` names none), so that the message says which output failed."""
    if isinstance(exc, OSError) and exc.errno is not None and exc.filename in (None, tmp_name):
        raise type(exc)(exc.errno, exc.strerror or os.strerror(exc.errno), os.fspath(path)) from exc


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
    with _replacing(tmp_name, path):
        yield Path(tmp_name)


def write_text_atomic(path: str | os.PathLike[str], text: str) -> None:
    """``Path(path).write_text(text)``, atomically (with :func:`atomic_open`)."""
    with atomic_open(path, "w", encoding="utf-8") as handle:
        handle.write(text)


def check_writable(path: str | os.PathLike[str]) -> None:
    """Refuse, before any work, an output path that cannot be created or written.

    The nearest existing folder on the way to ``path`` (``path`` itself when it is one) must be
    a writable folder on a writable file system with free space. An existing file at ``path`` is
    left to its writer (it is replaced or refused there).

    Raises:
        NotADirectoryError: A parent of ``path`` is a file.
        PermissionError: That folder is not writable.
        OSError: Its file system is read-only (``EROFS``) or full (``ENOSPC``).
    """
    path = Path(path)
    existing = next((p for p in (path, *path.parents) if p.exists()), None)
    if existing is None or existing == path and not path.is_dir():
        return
    if not existing.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(path))
    try:
        stats = os.statvfs(existing)
    except (AttributeError, OSError):  # no statvfs (Windows) or a file system without it
        stats = None
    if stats is not None and stats.f_flag & os.ST_RDONLY:
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(existing))
    if not os.access(existing, os.W_OK | os.X_OK):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(existing))
    if stats is not None and stats.f_bavail == 0 and stats.f_blocks > 0:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(existing))


_TEMP_NAME = re.compile(r"^\..+\.[0-9a-f]{12}\.tmp$")


def remove_stale_temps(folder: str | os.PathLike[str]) -> list[Path]:
    """Delete the temporary files (``.NAME.<hex>.tmp``) a killed writer left in ``folder``.

    Call it only while holding the folder's run lock, when no other process writes there.

    Returns:
        The files removed.
    """
    removed = []
    for path in Path(folder).glob(".*.tmp"):
        if _TEMP_NAME.match(path.name) and (path.is_file() or path.is_symlink()):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
                removed.append(path)
    return removed
