"""Featurize SMILES into ordered, collated batches, optionally ahead of the consumer in processes.

Inference (``molssl embed``, ``molssl predict``) alternates two kinds of work: featurizing and
collating a batch of SMILES (RDKit and Python, one core) and running the encoder on it (torch,
all cores). :func:`featurized_batches` moves the first into worker processes that featurize and
collate ordered chunks while the model runs, so that the consumer only unpickles a ready
``Batch`` (a few milliseconds per batch of 256, against ~25 ms for ``Batch.from_data_list``
alone).

- Order and results are those of the serial path (``workers=0``): every row goes through the
  engine of :func:`~molssl.featurize.featurize_many` (:mod:`molssl.featurize.engine`), with the
  same failure reasons; each chunk is collated where it was featurized.
- At most ``prefetch`` batches are in flight, so memory does not grow with the input, which is
  read lazily (any iterable, e.g. a file being streamed).
- Until the first worker delivers (starting one imports torch and RDKit, seconds), this process
  featurizes the chunks due itself, so small inputs never wait for the workers.
- Workers are the engine's (spawned, SIGINT ignored, gone with their parent) and are shut down
  whenever the iteration ends: exhausted, abandoned (``break``, ``close()``) or interrupted by
  an error.

Example::

    for item in featurized_batches(smiles, featurizer, batch_size=256, workers=1):
        h = model.encode(item.batch)  # item.indices[k]: input position of graph k
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Iterator
from typing import NamedTuple

import torch
from torch_geometric.data import Batch, Data

from molssl.featurize.base import GraphFeaturizer
from molssl.featurize.engine import SmilesFailure, featurize_chunks

__all__ = ["FeaturizedBatch", "default_workers", "featurized_batches"]


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


#: Featurize in this process while the workers start (tests turn it off to exercise them).
_LOCAL_START = True


def _collate(graphs: list[Data]) -> Batch | None:
    return Batch.from_data_list(graphs) if graphs else None


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
        MainGuardError: The workers were started by a script without a main guard.
        concurrent.futures.process.BrokenProcessPool: A worker died (e.g. killed for memory).
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    chunks = featurize_chunks(
        smiles,
        featurizer,
        workers=workers,
        chunk_size=batch_size,
        prefetch=prefetch,
        pack=_collate,
        local_start=_LOCAL_START,
    )
    return _batches(chunks)


def _batches(chunks: Iterator) -> Iterator[FeaturizedBatch]:
    with contextlib.closing(chunks):  # abandoning the batches stops the workers now
        for chunk in chunks:
            yield FeaturizedBatch(*chunk)
