"""Featurize SMILES into ordered, collated batches, optionally ahead of the consumer in processes.

Inference (``molssl embed``, ``molssl predict``) alternates two kinds of work: featurizing and
collating a batch of SMILES (RDKit and Python, one core) and running the encoder on it (torch,
all cores). :func:`featurized_batches` moves the first into worker processes that featurize and
collate ordered chunks while the model runs, so that the consumer only unpickles a ready
``Batch`` (a few milliseconds per batch of 256, against ~25 ms for ``Batch.from_data_list``
alone).

- Order and results are those of the serial path (``workers=0``): every row is featurized by the
  same code as :func:`~molssl.featurize.featurize_many`, with the same failure reasons.
- At most ``prefetch`` batches are in flight, so memory does not grow with the input, which is
  read lazily (any iterable, e.g. a file being streamed).
- Until the first worker delivers (starting one imports torch and RDKit, seconds), this process
  featurizes the chunks due itself, so small inputs never wait for the workers.
- Workers use the ``spawn`` start method (forking after torch work can hang in OpenMP), ignore
  SIGINT (Ctrl-C reaches the parent, which shuts them down) and are shut down whenever the
  iteration ends: exhausted, abandoned (``break``, ``close()``) or interrupted by an error.

Example::

    for item in featurized_batches(smiles, featurizer, batch_size=256, workers=1):
        h = model.encode(item.batch)  # item.indices[k]: input position of graph k
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import pickle
import signal
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from itertools import chain, islice
from typing import NamedTuple

import torch
from torch_geometric.data import Batch

from molssl.featurize.base import GraphFeaturizer
from molssl.featurize.batch import SmilesFailure, _cyclic_gc_paused, _run_chunk

__all__ = ["FeaturizedBatch", "default_workers", "featurized_batches"]

logger = logging.getLogger(__name__)


class FeaturizedBatch(NamedTuple):
    """One ordered chunk of the input, featurized and collated.

    Attributes:
        start: Input position of the chunk's first row; the chunk covers ``start`` to
            ``stop - 1``, every row either in ``indices`` or in ``failures``.
        stop: One past the input position of the chunk's last row.
        indices: ``indices[k]`` is the input position of graph ``k`` of ``batch`` (ascending).
        batch: The featurized rows as one PyG ``Batch``; None when every row failed.
        failures: The rows that failed, in input order (positions in the whole input).
    """

    start: int
    stop: int
    indices: list[int]
    batch: Batch | None
    failures: list[SmilesFailure]


def _featurize_chunk(
    featurizer: GraphFeaturizer, start: int, rows: list[object]
) -> FeaturizedBatch:
    with _cyclic_gc_paused():
        done, failures = _run_chunk(featurizer, start, rows)
        batch = Batch.from_data_list([d for _, d in done]) if done else None
    return FeaturizedBatch(start, start + len(rows), [i for i, _ in done], batch, failures)


_WORKER_FEATURIZER: GraphFeaturizer | None = None
#: Featurize in this process while the workers start (tests turn it off to exercise them).
_LOCAL_START = True


def _init_worker(featurizer: GraphFeaturizer) -> None:
    global _WORKER_FEATURIZER
    _WORKER_FEATURIZER = featurizer
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and stops us
    torch.set_num_threads(1)


def _worker_chunk(start: int, rows: list[object]) -> bytes:
    # A pickled blob, not the Batch: multiprocessing would send each tensor through a
    # shared-memory file of its own (torch's reductions); one bytes object is cheaper.
    assert _WORKER_FEATURIZER is not None, "worker was started without _init_worker"
    return pickle.dumps(_featurize_chunk(_WORKER_FEATURIZER, start, rows), pickle.HIGHEST_PROTOCOL)


def default_workers() -> int:
    """Featurization processes beside the model by default (``molssl embed``, ``molssl predict``).

    1 when this process may use more CPUs than torch's intra-op threads (a CPU is left for the
    worker), else 0. One worker featurizes several times faster than the default GIN encodes, so
    more would only take CPU from the model; and where torch's threads already occupy every CPU
    (torch's default), a worker competes with them: on a loaded 2-vCPU box, one worker made
    ``embed`` slower in every run (``benchmarks/RESULTS.md``).
    """
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    return 1 if cpus > torch.get_num_threads() else 0


def featurized_batches(
    smiles: Iterable[object],
    featurizer: GraphFeaturizer,
    *,
    batch_size: int = 256,
    workers: int = 0,
    prefetch: int | None = None,
) -> Iterator[FeaturizedBatch]:
    """Featurize SMILES in ordered chunks of ``batch_size`` rows, each collated into a ``Batch``.

    Args:
        smiles: SMILES strings, read lazily and once (a list, a generator, a pandas Series).
            None / NaN / blank / invalid rows are reported as failures, never fatal.
        featurizer: Any featurizer of :mod:`molssl.featurize`; it must pickle when
            ``workers > 0``.
        batch_size: Input rows per chunk (default 256); a batch holds the rows that featurized.
        workers: Processes that featurize ahead of the consumer (default 0: featurize in this
            process, when the consumer asks for the next batch), as in torch's ``DataLoader``.
        prefetch: Chunks submitted to the workers ahead of the consumer (default
            ``2 * workers``, at least 2); bounds memory.

    Yields:
        :class:`FeaturizedBatch` ``(start, stop, indices, batch, failures)`` covering the input
        in order, chunk after chunk; identical for every ``workers``.

    Raises:
        ValueError: ``batch_size`` < 1, ``workers`` < 0 or ``prefetch`` < 1 (raised at the call,
            before anything is read).
        concurrent.futures.process.BrokenProcessPool: A worker died (e.g. killed for memory).
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if workers < 0:
        raise ValueError(f"workers must be >= 0 (0: featurize in this process), got {workers}")
    if prefetch is not None and prefetch < 1:
        raise ValueError(f"prefetch must be >= 1, got {prefetch}")
    chunks = _chunks(iter(smiles), batch_size)
    if workers == 0:
        return (_featurize_chunk(featurizer, start, rows) for start, rows in chunks)
    return _parallel(chunks, featurizer, workers, prefetch or max(2, 2 * workers))


def _chunks(rows: Iterator[object], size: int) -> Iterator[tuple[int, list[object]]]:
    start = 0
    while chunk := list(islice(rows, size)):
        yield start, chunk
        start += len(chunk)


def _parallel(
    chunks: Iterator[tuple[int, list[object]]],
    featurizer: GraphFeaturizer,
    workers: int,
    prefetch: int,
) -> Iterator[FeaturizedBatch]:
    first = list(islice(chunks, 2))
    if len(first) < 2:  # one chunk: starting processes would cost more than it saves
        yield from (_featurize_chunk(featurizer, start, rows) for start, rows in first)
        return
    chunks = chain(first, chunks)
    pool = ProcessPoolExecutor(
        workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_init_worker,
        initargs=(featurizer,),
    )
    queue: deque[tuple[int, list[object], Future[bytes]]] = deque()
    started = False  # a worker has delivered the chunk due next: from now on, wait for them
    try:
        for start, rows in islice(chunks, prefetch):
            queue.append((start, rows, pool.submit(_worker_chunk, start, rows)))
        while queue:
            start, rows, future = queue.popleft()
            for nxt, nxt_rows in islice(chunks, 1):
                queue.append((nxt, nxt_rows, pool.submit(_worker_chunk, nxt, nxt_rows)))
            if started or future.done() or not _LOCAL_START:
                started = True
                yield pickle.loads(future.result())
            else:  # workers still importing torch and RDKit (seconds): featurize this one here
                yield _featurize_chunk(featurizer, start, rows)
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
