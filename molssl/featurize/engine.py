"""The featurization engine: SMILES in, ordered chunks of graphs and failed rows out.

Every path that featurizes many molecules goes through :func:`featurize_chunks`:
:func:`~molssl.featurize.featurize_many` collects its chunks, ``molssl featurize`` packs them into
graph-store shards, and :func:`~molssl.featurize.featurized_batches` (``molssl embed``,
``molssl predict``) collates them into batches. So they share one failure policy and one pool.

- **Failure policy.** A row fails when it is not a valid SMILES (None, NaN, blank, unparsable,
  too long) or when RDKit raises a ``ValueError``/``RuntimeError`` while its features are
  computed; it becomes a :class:`SmilesFailure` (position, SMILES, reason) of its chunk and the
  run goes on. Any other exception (an ``ImportError``, a bug) stops the run.
- **Order.** Chunks come in input order, each covering consecutive input positions, whatever
  the number of workers; the input is read lazily (any iterable) and at most ``prefetch``
  chunks are in flight.
- **Workers.** ``workers > 0`` processes are started with the ``spawn`` method (forking after
  torch work can hang in OpenMP). The featurizer is pickled to each worker once, by the pool
  initializer. Workers use one torch thread, ignore SIGINT (the parent shuts them down) and
  exit when the parent dies; they are stopped whenever the iteration ends.
- **No main guard.** A script that starts workers at import time, without an
  ``if __name__ == "__main__":`` guard, is re-run by every spawned worker, which would start
  workers of its own. Such a worker exits at once and this process raises
  :class:`MainGuardError` (one line naming the fix) instead of waiting for it.
"""

from __future__ import annotations

import contextlib
import copyreg
import gc
import io
import logging
import multiprocessing
import os
import pickle
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from itertools import chain, islice
from typing import Any, NamedTuple

import torch
from torch_geometric.data import Data

from molssl.featurize.base import GraphFeaturizer
from molssl.featurize.parsing import InvalidSmilesError, quiet_rdkit_log

__all__ = [
    "Chunk",
    "MainGuardError",
    "SmilesFailure",
    "describe_failure",
    "featurize_chunks",
    "log_failures",
]

logger = logging.getLogger(__name__)

_MAX_STORED_SMILES = 1_000
# A row fails on an invalid SMILES or on an RDKit error while computing its features; anything
# else (an ImportError, a bug) is a problem of the whole run and propagates.
_ROW_ERRORS = (ValueError, RuntimeError)
# Exit status of a worker that found itself started by a script without a main guard.
_NO_MAIN_GUARD_EXIT = 78


class SmilesFailure(NamedTuple):
    """A row that could not be featurized: its position, its value and why."""

    index: int
    smiles: str
    reason: str


class Chunk(NamedTuple):
    """Consecutive input rows, featurized.

    Attributes:
        start: Input position of the chunk's first row.
        stop: One past the input position of its last row; every position in between is in
            ``indices`` or in ``failures``.
        indices: ``indices[k]`` is the input position of graph ``k`` (ascending).
        graphs: The featurized rows: a list of ``Data``, or what ``pack`` made of that list.
        failures: The rows that failed, in input order.
    """

    start: int
    stop: int
    indices: list[int]
    graphs: Any
    failures: list[SmilesFailure]


class MainGuardError(RuntimeError):
    """Worker processes were started by a script without an ``if __name__ == "__main__":`` guard."""


def _failure(index: int, value: object, err: Exception) -> SmilesFailure:
    if isinstance(err, InvalidSmilesError):
        reason = err.reason
        shown = value if isinstance(value, str) and len(value) <= _MAX_STORED_SMILES else err.smiles
    else:
        reason = f"{type(err).__name__}: {err}"
        shown = value if isinstance(value, str) else repr(value)
    return SmilesFailure(index, shown[:_MAX_STORED_SMILES], reason)


@contextlib.contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    """Pause CPython's cyclic garbage collector (graphs hold no reference cycles).

    Its full collections rescan the growing list of results and cost ~10% of featurization.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _featurize(
    featurizer: GraphFeaturizer,
    start: int,
    rows: Sequence[object],
    pack: Callable[[list[Data]], Any] | None,
) -> Chunk:
    graphs: list[Data] = []
    indices: list[int] = []
    failures: list[SmilesFailure] = []
    with _cyclic_gc_paused(), quiet_rdkit_log():
        for offset, value in enumerate(rows):
            try:
                graphs.append(featurizer(value))
                indices.append(start + offset)
            except _ROW_ERRORS as err:
                failures.append(_failure(start + offset, value, err))
        packed = pack(graphs) if pack is not None else graphs
    return Chunk(start, start + len(rows), indices, packed, failures)


# ----------------------------------------------------------------------------------- workers
_FEATURIZER: GraphFeaturizer | None = None


def _exit_with_parent(poll_s: float = 1.0) -> None:
    """Exit this worker as soon as the parent process is gone (killed, crashed).

    A worker busy with (or stuck in) a chunk would otherwise outlive a ``kill -9`` of its parent
    until the chunk ends, or forever. A daemon thread polls the parent pid.
    """
    origin = multiprocessing.parent_process()
    parent = origin.pid if origin is not None else os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(poll_s)
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def _init_worker(featurizer: GraphFeaturizer) -> None:
    global _FEATURIZER
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and stops us
    torch.set_num_threads(1)
    _exit_with_parent()
    _FEATURIZER = featurizer


def _reduce_tensor(tensor: torch.Tensor) -> tuple[Callable, tuple]:
    return torch.from_numpy, (tensor.detach().numpy(),)


class _Pickler(pickle.Pickler):
    # Tensors as numpy arrays: torch's own reductions write each tensor through torch.save (or,
    # under multiprocessing, a shared-memory file per tensor), far slower for many small graphs.
    dispatch_table = {**copyreg.dispatch_table, torch.Tensor: _reduce_tensor}


def _dumps(obj: object) -> bytes:
    buffer = io.BytesIO()
    _Pickler(buffer, pickle.HIGHEST_PROTOCOL).dump(obj)
    return buffer.getvalue()


def _worker_chunk(start: int, rows: list[object], pack: Callable | None) -> bytes:
    assert _FEATURIZER is not None, "worker was started without _init_worker"
    return _dumps(_featurize(_FEATURIZER, start, rows, pack))


def _main_guard_message(workers: int, serial: str) -> str:
    main = getattr(sys.modules.get("__main__"), "__file__", None) or "the main script"
    return (
        f"featurizing with workers={workers} starts processes that re-run {main}, which has no "
        '`if __name__ == "__main__":` guard: put its main code under that guard, or pass '
        f"{serial} to featurize in this process"
    )


def _refuse_while_bootstrapping() -> None:
    """In a spawned process still importing the parent's main script: exit, do not recurse.

    multiprocessing sets ``_inheriting`` while a spawned child runs the parent's ``__main__``
    (it checks the same flag itself before starting processes).
    """
    if getattr(multiprocessing.current_process(), "_inheriting", False):
        raise SystemExit(_NO_MAIN_GUARD_EXIT)


# ----------------------------------------------------------------------------------- the engine
def featurize_chunks(
    smiles: Iterable[object],
    featurizer: GraphFeaturizer,
    *,
    workers: int = 0,
    chunk_size: int = 256,
    prefetch: int | None = None,
    pack: Callable[[list[Data]], Any] | None = None,
    align: int | None = None,
    local_start: bool = False,
    serial: str = "workers=0",
) -> Iterator[Chunk]:
    """Featurize SMILES in ordered chunks, in this process or in ``workers`` processes.

    Args:
        smiles: SMILES strings, read lazily and once (a list, a generator, a pandas Series).
            None / NaN / blank / invalid rows, and rows on which RDKit raises while features
            are computed, become failures of their chunk, never errors.
        featurizer: Any featurizer of :mod:`molssl.featurize`; it must pickle when
            ``workers > 0``.
        workers: Processes that featurize (default 0: this process, when the consumer asks for
            the next chunk).
        chunk_size: Input rows per chunk (default 256).
        prefetch: Chunks submitted to the workers ahead of the consumer (default
            ``2 * workers``, at least 2); bounds memory.
        pack: Module-level function applied to each chunk's list of graphs where it is
            featurized (in the worker), e.g. collation into a ``Batch``; default: none.
        align: Chunks never straddle a multiple of ``align`` input rows (graph-store shards).
        local_start: Until the first worker delivers (starting one imports torch and RDKit,
            seconds), featurize the chunks due in this process (small inputs never wait).
        serial: How the caller's user featurizes in this process (``"workers=0"``), named in
            :class:`MainGuardError`.

    Yields:
        :class:`Chunk` ``(start, stop, indices, graphs, failures)`` covering the input in order;
        identical for every ``workers``.

    Raises:
        ValueError: ``chunk_size``, ``prefetch`` or ``align`` below 1, or ``workers`` below 0
            (raised at the call, before anything is read).
        MainGuardError: The workers were started by a script without a main guard.
        concurrent.futures.process.BrokenProcessPool: A worker died (e.g. killed for memory).
    """
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    if workers < 0:
        raise ValueError(f"workers must be >= 0 (0: featurize in this process), got {workers}")
    if prefetch is not None and prefetch < 1:
        raise ValueError(f"prefetch must be >= 1, got {prefetch}")
    if align is not None and align < 1:
        raise ValueError(f"align must be >= 1, got {align}")
    chunks = _chunks(iter(smiles), chunk_size, align)
    if workers == 0:
        return (_featurize(featurizer, start, rows, pack) for start, rows in chunks)
    options = (featurizer, pack, workers, prefetch or max(2, 2 * workers), local_start, serial)
    return _parallel(chunks, *options)


def _chunks(rows: Iterator[object], size: int, align: int | None) -> Iterator[tuple[int, list]]:
    start = 0
    while chunk := list(islice(rows, size if align is None else min(size, align - start % align))):
        yield start, chunk
        start += len(chunk)


def _parallel(
    chunks: Iterator[tuple[int, list[object]]],
    featurizer: GraphFeaturizer,
    pack: Callable | None,
    workers: int,
    prefetch: int,
    local_start: bool,
    serial: str,
) -> Iterator[Chunk]:
    first = list(islice(chunks, 2))
    if len(first) < 2:  # one chunk: starting processes would cost more than it saves
        yield from (_featurize(featurizer, start, rows, pack) for start, rows in first)
        return
    _refuse_while_bootstrapping()
    chunks = chain(first, chunks)
    pool = ProcessPoolExecutor(
        workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_init_worker,
        initargs=(featurizer,),
    )
    queue: deque[tuple[int, list[object], Future[bytes]]] = deque()
    processes: dict = {}
    started = not local_start  # from now on, wait for the workers
    try:
        for start, rows in islice(chunks, prefetch):
            queue.append((start, rows, pool.submit(_worker_chunk, start, rows, pack)))
            processes.update(pool._processes or {})  # spawned by submit(): keep their exit codes
        while queue:
            start, rows, future = queue.popleft()
            for nxt, nxt_rows in islice(chunks, 1):
                queue.append((nxt, nxt_rows, pool.submit(_worker_chunk, nxt, nxt_rows, pack)))
                processes.update(pool._processes or {})
            if started or future.done():
                started = True
                yield pickle.loads(future.result())
            else:  # workers still importing torch and RDKit (seconds): featurize this one here
                yield _featurize(featurizer, start, rows, pack)
    except BrokenProcessPool:
        for process in processes.values():  # a loaded machine reaps the dead ones late
            process.join(timeout=10)
        if any(p.exitcode == _NO_MAIN_GUARD_EXIT for p in processes.values()):
            raise MainGuardError(_main_guard_message(workers, serial)) from None
        raise
    finally:
        _stop(pool)


def _stop(pool: ProcessPoolExecutor) -> None:
    """Stop the workers now, whatever they are doing (their results are no longer wanted)."""
    processes = list((pool._processes or {}).values())  # as Python 3.14's terminate_workers()
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        if process.is_alive():
            process.terminate()
    for process in processes:
        process.join(timeout=10)
        if process.is_alive():
            logger.warning("featurization worker %d did not stop; killing it", process.pid)
            process.kill()
            process.join()
    pool.shutdown(wait=True)


def log_failures(
    log: logging.Logger, failed: int, total: int, first: str, where: str | None = None
) -> None:
    """Log the failed rows of a run once: how many, the first one, and where all are listed.

    Args:
        log: The caller's logger.
        failed: Rows that failed (nothing is logged when 0).
        total: Rows read.
        first: The first failure, e.g. ``"row 3 'C1CC': unclosed ring"``.
        where: The file listing every failure, if any.
    """
    if failed:
        listed = f"; all are listed in {where}" if where else ""
        log.warning(
            "%d of %d SMILES could not be featurized (first: %s)%s", failed, total, first, listed
        )


def describe_failure(row: int, smiles: str, reason: str) -> str:
    """``row 3 'C1CC': unclosed ring`` (SMILES and reason shortened) for logs and messages."""
    return f"row {row} {smiles[:40]!r}: {reason[:80]}"
