"""One process per run folder: an advisory lock held for the whole run.

Two processes training into the same ``--out`` (a second terminal, a resubmitted job, a retry
loop) would interleave their checkpoints and logs. :func:`run_lock` holds ``fcntl.flock`` on
``FOLDER/.run.lock`` while a run writes there; a second process gets :class:`RunInUseError`
naming the folder and the holder at once instead of racing. The lock is released when the
process exits, however it exits, so a killed run never leaves a stale lock. It is reentrant
within one process (a command that locks its folder may call code that locks it again).
Where ``fcntl`` is missing (Windows) it is a no-op.

Lock files are opened with :func:`open_lock_file`: never through a symbolic link and only when
they are regular files, so a link planted in a shared folder cannot make a run truncate the
file it points to.
"""

from __future__ import annotations

import contextlib
import errno
import os
import socket
import stat
from collections.abc import Iterator
from pathlib import Path

from molssl.contrastive.config import ConfigError

__all__ = ["LOCK_FILE", "LockFileError", "RunInUseError", "file_lock", "open_lock_file", "run_lock"]

LOCK_FILE = ".run.lock"
_HELD: dict[str, int] = {}


class RunInUseError(ConfigError):
    """Another process holds the run folder's lock."""


class LockFileError(ConfigError):
    """A lock file is a symbolic link or not a regular file."""


def open_lock_file(path: str | os.PathLike[str], flags: int = os.O_RDWR | os.O_CREAT) -> int:
    """Open (by default create) the lock file ``path`` without following a symbolic link.

    Args:
        path: The lock file.
        flags: ``os.open`` flags; ``O_NOFOLLOW``, ``O_CLOEXEC`` and ``O_NONBLOCK`` are added.

    Returns:
        The open file descriptor (the caller closes it).

    Raises:
        LockFileError: ``path`` is a symbolic link, or exists and is not a regular file.
    """
    # O_NONBLOCK: opening a FIFO planted as the lock must not hang (no effect on plain files)
    extra = getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0) | os.O_NONBLOCK
    fix = "remove it (a lock file is a plain file the run creates itself) and run again"
    try:
        fd = os.open(path, flags | extra, 0o644)
    except OSError as err:
        if err.errno == errno.ELOOP or os.path.islink(path):
            raise LockFileError(f"lock file {path} is a symbolic link; {fix}") from None
        if err.errno == errno.EISDIR:
            raise LockFileError(f"lock file {path} is not a regular file; {fix}") from None
        raise
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise LockFileError(f"lock file {path} is not a regular file; {fix}")
    return fd


@contextlib.contextmanager
def run_lock(folder: str | os.PathLike[str], what: str = "run") -> Iterator[None]:
    """Hold the run lock of ``folder`` (created if needed) for the ``with`` block.

    Args:
        folder: The run's output folder.
        what: What runs there, for the message (``"pretraining run"``).

    Raises:
        RunInUseError: Another process holds it (message: folder, holder's pid and host, fix).
        LockFileError: ``FOLDER/.run.lock`` is a symbolic link or not a regular file.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    key = str(folder.resolve())
    if key in _HELD:
        _HELD[key] += 1
        try:
            yield
        finally:
            _HELD[key] -= 1
        return
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: single-process use only
        yield
        return
    fd = open_lock_file(folder / LOCK_FILE)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode(errors="replace").strip() or "another process"
            raise RunInUseError(
                f"{folder} is in use by another {what} ({holder}); wait for it to finish, "
                "or choose another --out"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} on {socket.gethostname()}".encode(), 0)
        _HELD[key] = 1
        try:
            yield
        finally:
            del _HELD[key]
    finally:
        os.close(fd)  # closing the descriptor releases the lock


@contextlib.contextmanager
def file_lock(path: str | os.PathLike[str], *, wait: bool) -> Iterator[bool]:
    """Hold ``fcntl.flock`` on ``path`` (created if needed) for the ``with`` block.

    A finer lock than :func:`run_lock`, for one part of a run that several processes share
    (one target of a per-target fine-tuning run). Released when the block ends or the process
    dies. Not reentrant: a second ``file_lock`` on the same path in one process waits (or gets
    ``False``) like another process would.

    Args:
        path: The lock file.
        wait: Block until the lock is free; with ``False`` the block gets ``False`` at once,
            without the lock, when another holder has it.

    Yields:
        Whether this block holds the lock (always ``True`` with ``wait=True``, and where
        ``fcntl`` is missing).

    Raises:
        LockFileError: ``path`` is a symbolic link or not a regular file.
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: single-process use only
        yield True
        return
    fd = open_lock_file(path)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)
