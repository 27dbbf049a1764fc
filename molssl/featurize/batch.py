"""Featurize many SMILES at once, in parallel, reporting bad rows instead of stopping."""

from __future__ import annotations

import contextlib
import gc
import logging
import math
import multiprocessing
import os
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, NamedTuple

import numpy as np
import torch
from torch_geometric.data import Data

from molssl.featurize.base import GraphFeaturizer, new_data
from molssl.featurize.molclr import MolGraphFeaturizer
from molssl.featurize.parsing import InvalidSmilesError, quiet_rdkit_log

logger = logging.getLogger(__name__)

_MAX_STORED_SMILES = 1_000
# A row fails on an invalid SMILES or on an RDKit error while computing its features; anything
# else (an ImportError, a bug) is a problem of the whole run and propagates.
_ROW_ERRORS = (ValueError, RuntimeError)


class SmilesFailure(NamedTuple):
    """A row that could not be featurized: its position, its value and why."""

    index: int
    smiles: str
    reason: str


class FeaturizeResult(NamedTuple):
    """Output of :func:`featurize_many`.

    Attributes:
        graphs: one ``Data`` per featurized row, in input order.
        indices: ``indices[k]`` is the input row of ``graphs[k]``.
        failures: the rows that failed, in input order.
    """

    graphs: list[Data]
    indices: list[int]
    failures: list[SmilesFailure]


def _failure(index: int, value: object, err: Exception) -> SmilesFailure:
    if isinstance(err, InvalidSmilesError):
        reason = err.reason
        shown = value if isinstance(value, str) and len(value) <= _MAX_STORED_SMILES else err.smiles
    else:
        reason = f"{type(err).__name__}: {err}"
        shown = value if isinstance(value, str) else repr(value)
    return SmilesFailure(index, shown[:_MAX_STORED_SMILES], reason)


def _run_chunk(
    featurizer: GraphFeaturizer, start: int, rows: Sequence[object]
) -> tuple[list[tuple[int, Data]], list[SmilesFailure]]:
    done, failures = [], []
    with quiet_rdkit_log():
        for offset, value in enumerate(rows):
            try:
                done.append((start + offset, featurizer(value)))
            except _ROW_ERRORS as err:
                failures.append(_failure(start + offset, value, err))
    return done, failures


# Graphs cross the process boundary as numpy arrays: pickling many small torch tensors through
# multiprocessing would go through torch's shared-memory reductions, one file per tensor.
def _to_payload(data: Data) -> dict[str, Any]:
    return {k: v.numpy() if isinstance(v, torch.Tensor) else v for k, v in data.items()}


def _from_payload(payload: dict[str, Any]) -> Data:
    return new_data(
        {k: torch.from_numpy(v) if isinstance(v, np.ndarray) else v for k, v in payload.items()}
    )


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


_WORKER_FEATURIZER: GraphFeaturizer | None = None


def exit_with_parent(poll_s: float = 1.0) -> None:
    """In a pool worker: exit as soon as the parent process is gone (killed, crashed).

    A worker busy with (or stuck in) a task would otherwise outlive a ``kill -9`` of its parent
    until the task ends, or forever. A daemon thread polls the parent pid; it costs nothing
    while the parent lives.
    """
    origin = multiprocessing.parent_process()
    parent = origin.pid if origin is not None else os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(poll_s)
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def _init_worker(featurizer: GraphFeaturizer) -> None:
    global _WORKER_FEATURIZER
    torch.set_num_threads(1)
    exit_with_parent()
    _WORKER_FEATURIZER = featurizer


def _worker_chunk(
    task: tuple[int, Sequence[object]],
) -> tuple[list[tuple[int, dict[str, Any]]], list[SmilesFailure]]:
    assert _WORKER_FEATURIZER is not None, "worker was started without _init_worker"
    done, failures = _run_chunk(_WORKER_FEATURIZER, *task)
    return [(i, _to_payload(d)) for i, d in done], failures


def featurize_many(
    smiles: Sequence[object] | Iterable[object],
    featurizer: GraphFeaturizer | None = None,
    workers: int = 1,
    chunksize: int | None = None,
    *,
    progress: bool = False,
    mp_context: str | None = None,
) -> FeaturizeResult:
    """Featurize a sequence of SMILES; invalid rows are reported, never fatal.

    Args:
        smiles: SMILES strings (a list, tuple, pandas Series, ...). None / NaN / non-str rows are
            reported as failures like invalid SMILES.
        featurizer: any featurizer of :mod:`molssl.featurize`; default ``MolGraphFeaturizer()``.
        workers: processes; ``1`` (default) runs in this process. With more, a
            ``multiprocessing`` pool is used (spawn-safe: the featurizer is pickled once per
            worker) and results keep input order.
        chunksize: rows per task sent to a worker; default ``ceil(n / (4 * workers))``, at most
            1,000.
        progress: show a tqdm progress bar.
        mp_context: multiprocessing start method; default ``"spawn"``: forked workers of a
            process that already ran torch code can hang forever in OpenMP (its thread pool does
            not survive ``fork``). Workers exit when this process dies.

    Returns:
        :class:`FeaturizeResult` ``(graphs, indices, failures)``.

    Raises:
        ValueError: ``workers`` or ``chunksize`` is below 1.
    """
    from tqdm.auto import tqdm

    rows = smiles if isinstance(smiles, list | tuple) else list(smiles)
    featurizer = featurizer if featurizer is not None else MolGraphFeaturizer()
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    if chunksize is None:
        chunksize = max(1, min(1_000, math.ceil(len(rows) / (4 * workers))))
    if chunksize < 1:
        raise ValueError(f"chunksize must be >= 1, got {chunksize}")

    graphs: list[Data] = []
    indices: list[int] = []
    failures: list[SmilesFailure] = []
    tasks = [(start, rows[start : start + chunksize]) for start in range(0, len(rows), chunksize)]
    with (
        _cyclic_gc_paused(),
        tqdm(total=len(rows), disable=not progress, unit="mol", desc="featurize") as bar,
    ):
        if workers == 1 or len(tasks) <= 1:
            for start, chunk in tasks:
                done, bad = _run_chunk(featurizer, start, chunk)
                indices += (i for i, _ in done)
                graphs += (d for _, d in done)
                failures += bad
                bar.update(len(chunk))
        else:
            context = multiprocessing.get_context(mp_context or "spawn")
            with context.Pool(
                min(workers, len(tasks)), initializer=_init_worker, initargs=(featurizer,)
            ) as pool:
                for (done, bad), (_, chunk) in zip(
                    pool.imap(_worker_chunk, tasks), tasks, strict=True
                ):
                    indices += (i for i, _ in done)
                    graphs += (_from_payload(p) for _, p in done)
                    failures += bad
                    bar.update(len(chunk))
    if failures:
        first = failures[0]
        logger.warning(
            "%d of %d SMILES could not be featurized (first: row %d %s: %s)",
            len(failures),
            len(rows),
            first.index,
            first.smiles[:80],
            first.reason,
        )
    return FeaturizeResult(graphs, indices, failures)
