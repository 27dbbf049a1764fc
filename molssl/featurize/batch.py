"""Featurize many SMILES at once, in parallel, reporting bad rows instead of stopping."""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Sequence
from typing import NamedTuple

from torch_geometric.data import Data

from molssl.featurize.base import GraphFeaturizer
from molssl.featurize.engine import (
    SmilesFailure,
    _cyclic_gc_paused,
    describe_failure,
    featurize_chunks,
    log_failures,
)
from molssl.featurize.molclr import MolGraphFeaturizer

__all__ = ["FeaturizeResult", "SmilesFailure", "featurize_many"]

logger = logging.getLogger(__name__)


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
        workers: processes; ``1`` (default) runs in this process. With more, that many
            spawned worker processes featurize (the featurizer is pickled once per worker; see
            :mod:`molssl.featurize.engine`) and results keep input order. In a script, call this
            under ``if __name__ == "__main__":``; without the guard it raises
            :class:`~molssl.featurize.engine.MainGuardError` within seconds.
        chunksize: rows per task sent to a worker; default ``ceil(n / (4 * workers))``, at most
            1,000.
        progress: show a tqdm progress bar.
        mp_context: multiprocessing start method; only ``"spawn"`` (the default): forked workers
            of a process that already ran torch code can hang forever in OpenMP (its thread pool
            does not survive ``fork``). Workers exit when this process dies.

    Returns:
        :class:`FeaturizeResult` ``(graphs, indices, failures)``.

    Raises:
        ValueError: ``workers`` or ``chunksize`` is below 1, or ``mp_context`` is not spawn.
        MainGuardError: ``workers > 1`` in a script without a main guard.
    """
    from tqdm.auto import tqdm

    rows = smiles if isinstance(smiles, list | tuple) else list(smiles)
    featurizer = featurizer if featurizer is not None else MolGraphFeaturizer()
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    if mp_context not in (None, "spawn"):
        raise ValueError(
            f"mp_context must be 'spawn' (forked workers can hang), got {mp_context!r}"
        )
    if chunksize is None:
        chunksize = max(1, min(1_000, math.ceil(len(rows) / (4 * workers))))
    if chunksize < 1:
        raise ValueError(f"chunksize must be >= 1, got {chunksize}")

    graphs: list[Data] = []
    indices: list[int] = []
    failures: list[SmilesFailure] = []
    chunks = featurize_chunks(
        rows,
        featurizer,
        workers=workers if workers > 1 else 0,
        chunk_size=chunksize,
        serial="workers=1",
    )
    with (
        _cyclic_gc_paused(),
        tqdm(total=len(rows), disable=not progress, unit="mol", desc="featurize") as bar,
    ):
        for chunk in chunks:
            indices += chunk.indices
            graphs += chunk.graphs
            failures += chunk.failures
            bar.update(chunk.stop - chunk.start)
    if failures:
        first = failures[0]
        log_failures(logger, len(failures), len(rows), describe_failure(*first))
    return FeaturizeResult(graphs, indices, failures)
