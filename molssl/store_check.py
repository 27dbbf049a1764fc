"""Integrity of a graph store: build lock, per-shard file records, damage checks.

Every shard's files are recorded in ``meta.json`` when the shard is written, with their byte
size and SHA-256. Opening a store compares each file's size with the record (a few ``stat``
calls per shard, so a truncated, deleted or half-copied shard is caught before training); the
full check (:func:`verify_store`, ``molssl featurize --verify STORE``) rehashes every byte and
also catches damage that keeps the size (zeros written inside ``x.npy``). Stores written before
these records existed are checked structurally: every array's length against the shard's
molecule count and pointers.

One build at a time: :func:`store_lock` holds ``fcntl.flock`` on ``STORE/.lock`` for the whole
build, so a second ``molssl featurize`` on the same store waits (and says so), then finds the
store complete.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from molssl.contrastive.io.digest import file_sha256
from molssl.contrastive.io.runlock import open_lock_file

logger = logging.getLogger(__name__)

LOCK_NAME = ".lock"


class StoreError(RuntimeError):
    """A graph store is missing, incomplete or was built with another featurizer or reader."""


class DamagedStoreError(StoreError):
    """Shards of a graph store are missing, truncated or do not match their checksums.

    Attributes:
        shards: Names of the damaged shards.
    """

    def __init__(self, message: str, shards: list[str]) -> None:
        super().__init__(message)
        self.shards = shards


@contextlib.contextmanager
def store_lock(directory: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``directory/.lock`` (created) for the duration of a build.

    A second holder waits, logging once that another process (named by its pid) builds the store.

    Raises:
        LockFileError: ``directory/.lock`` is a symbolic link or not a regular file.
    """
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / LOCK_NAME
    fd = open_lock_file(path)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            logger.warning(
                "waiting: the graph store %s is being built by another process (pid %s)",
                directory,
                holder,
            )
            fcntl.flock(fd, fcntl.LOCK_EX)
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        os.close(fd)  # releases the lock


def is_locked(directory: Path) -> bool:
    """Whether another process holds the build lock of ``directory``."""
    path = directory / LOCK_NAME
    if not os.path.lexists(path):
        return False
    fd = open_lock_file(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def read_store_meta(meta_path: Path) -> dict:
    """``meta.json`` of a store as a dict.

    Raises:
        StoreError: The file is not JSON or lacks the fields every store records.
    """
    import json

    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        ok = isinstance(meta, dict) and all(
            isinstance(s, dict) and isinstance(s.get("name"), str) and int(s["size"]) >= 0
            for s in meta.get("shards", [])
        )
    except (ValueError, TypeError, KeyError) as err:  # JSONDecodeError and UnicodeError too
        raise StoreError(
            f"{meta_path} is damaged ({type(err).__name__}); rebuild the store: delete "
            f"{meta_path.parent} and run `molssl featurize INPUT -o {meta_path.parent}` again"
        ) from err
    if not ok:
        raise StoreError(
            f"{meta_path} is damaged (not a store record); rebuild the store: delete "
            f"{meta_path.parent} and run `molssl featurize INPUT -o {meta_path.parent}` again"
        )
    return meta


def record_files(directory: Path) -> dict[str, dict]:
    """``{file name: {"bytes", "sha256"}}`` of a freshly written shard."""
    return {
        f.name: {"bytes": f.stat().st_size, "sha256": file_sha256(f)}
        for f in sorted(directory.glob("*.npy"))
    }


def shard_problem(directory: Path, shard: dict, *, full: bool = False) -> str | None:
    """What is wrong with one shard (``None``: nothing found).

    Args:
        directory: The shard's folder.
        shard: Its ``meta.json`` entry (``name``, ``size`` and, since format 2, ``files``).
        full: Rehash every file against its recorded SHA-256 (reads the whole shard).
    """
    if not directory.is_dir():
        return "its folder is missing"
    files = shard.get("files")
    if files is None:
        return _structural_problem(directory, int(shard["size"]))
    for name, record in files.items():
        path = directory / name
        if not path.is_file():
            return f"{name} is missing"
        size = path.stat().st_size
        if size != record["bytes"]:
            return f"{name} has {size} bytes, {record['bytes']} were written"
        if full and not _hash_matches(path, record["sha256"]):
            return f"{name} does not match its checksum"
    return _structural_problem(directory, int(shard["size"]))  # meta.json's count, checked too


_MATCHED: set[tuple] = set()
"""Files of this process found to match their checksum: (path, inode, bytes, mtime, SHA-256)."""


def _hash_matches(path: Path, sha256: str) -> bool:
    """Whether ``path`` hashes to ``sha256``; a file unchanged since it matched in this process
    (same inode, size and modification time) is not read again."""
    info = path.stat()
    key = (str(path.resolve()), info.st_ino, info.st_size, info.st_mtime_ns, sha256)
    if key in _MATCHED:
        return True
    if file_sha256(path) != sha256:
        return False
    _MATCHED.add(key)
    return True


def _structural_problem(directory: Path, size: int) -> str | None:
    """Check array lengths against each other (stores written without file records)."""
    arrays = {}
    for name in ("node_ptr", "edge_ptr", "x", "edge_index", "edge_attr", "row"):
        path = directory / f"{name}.npy"
        if not path.is_file():
            return f"{name}.npy is missing"
        try:
            arrays[name] = np.load(path, mmap_mode="r")
        except ValueError as err:
            return f"{name}.npy is unreadable ({err})"
    if len(arrays["node_ptr"]) != size + 1 or len(arrays["edge_ptr"]) != size + 1:
        return f"its pointers do not describe {size} molecules"
    if len(arrays["row"]) != size:
        return f"row.npy has {len(arrays['row'])} entries for {size} molecules"
    if arrays["x"].shape[0] != int(arrays["node_ptr"][-1]):
        return f"x.npy has {arrays['x'].shape[0]} atoms, node_ptr.npy says {arrays['node_ptr'][-1]}"
    edges = int(arrays["edge_ptr"][-1])
    if arrays["edge_index"].shape[1] != edges or arrays["edge_attr"].shape[0] != edges:
        return f"edge arrays do not hold the {edges} edges edge_ptr.npy says"
    return None


def damaged_shards(path: Path, meta: dict, *, full: bool = False) -> dict[str, str]:
    """``{shard name: problem}`` of every damaged shard of the store in ``path``."""
    problems = {}
    for shard in meta["shards"]:
        problem = shard_problem(path / shard["name"], shard, full=full)
        if problem is not None:
            problems[shard["name"]] = problem
    return problems


def damage_error(path: Path, meta: dict, problems: dict[str, str]) -> DamagedStoreError:
    """One error naming the damaged shards, what is wrong and the command that rebuilds them."""
    shown = "; ".join(f"{name}: {problem}" for name, problem in list(problems.items())[:3])
    more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
    # altered bytes of the right length are found only by rehashing: the repair must rehash too
    rehash = " --verify" if any("checksum" in p for p in problems.values()) else ""
    return DamagedStoreError(
        f"the graph store {path} is damaged ({shown}{more}); rebuild the damaged shards with "
        f"`{rebuild_command(path, meta)}{rehash}`.",
        list(problems),
    )


def rebuild_command(path: Path, meta: dict) -> str:
    """The ``molssl featurize`` command line that (re)builds the store in ``path``."""
    featurizer, request = meta.get("featurizer", {}), meta.get("request", {})
    words = ["molssl featurize", str(meta.get("source", {}).get("path", "INPUT")), "-o", str(path)]
    if request.get("format"):
        words += ["--format", str(request["format"])]
    if request.get("smiles_column") is not None:
        words += ["--smiles-col", str(request["smiles_column"])]
    if featurizer.get("name", "molclr") != "molclr":
        words += ["--featurizer", featurizer["name"]]
    if featurizer.get("hydrogens", "implicit") != "implicit":
        words += ["--hydrogens", featurizer["hydrogens"]]
    if not featurizer.get("fingerprint", True):
        words.append("--no-extras")
    elif featurizer.get("fingerprint_kind", "ecfp") != "ecfp":
        words += ["--fingerprint-kind", featurizer["fingerprint_kind"]]
    return " ".join(words)
