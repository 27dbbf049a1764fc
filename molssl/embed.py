"""Graph embeddings ``h`` of a pretrained encoder, from Python, files or scikit-learn.

- :func:`load_pretrained` (re-exported from :mod:`molssl.models.pretrained`): a molssl
  checkpoint (``last.pt``/``best.pt`` of ``molssl pretrain``, as ``ckpt:PATH`` or a bare path)
  or a MolCLR release given as ``molclr-gin:PATH`` / ``molclr-gcn:PATH`` -> a
  :class:`~molssl.models.pretrained.LoadedEncoder` with the featurizer the encoder was
  trained with.
- :func:`embed_smiles`: SMILES -> ``float32[n_ok, out_channels]``, failures reported, not fatal.
- :func:`embed_file`: a ``.smi``/``.txt``/``.csv`` file (optionally gzipped) -> ``.npy``,
  ``.csv`` or ``.parquet`` with one row per input record, in input order (``molssl embed``).
- :class:`PretrainedEmbedder`: the same as a scikit-learn transformer.
"""

from __future__ import annotations

import csv
import logging
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch
from sklearn.base import BaseEstimator, TransformerMixin

from molssl.featurize import FeaturizedBatch, GraphFeaturizer, SmilesFailure, featurized_batches
from molssl.featurize.engine import describe_failure, log_failures
from molssl.featurize.stream import default_workers
from molssl.models import MolEncoder
from molssl.models.pretrained import load_pretrained

logger = logging.getLogger(__name__)

_CHUNK = 8192


def encode_batches(
    model: MolEncoder,
    featurizer: GraphFeaturizer,
    smiles: Iterable[str],
    batch_size: int = 256,
    workers: int = 0,
) -> Iterator[tuple[FeaturizedBatch, np.ndarray]]:
    """Embed SMILES chunk by chunk, featurizing ahead of the model in ``workers`` processes.

    The model runs as it is (call ``model.eval()`` first) under ``torch.inference_mode``.

    Args:
        model: The encoder, on the device of its parameters.
        featurizer: The featurizer the encoder was trained with.
        smiles: SMILES strings, read lazily (see :func:`~molssl.featurize.featurized_batches`).
        batch_size: Input rows per forward pass (default 256).
        workers: Featurization processes (default 0: this process).

    Yields:
        ``(chunk, h)``: a :class:`~molssl.featurize.FeaturizedBatch` and ``float32[len(
        chunk.indices), out_channels]``, the embeddings of its featurized rows.
    """
    device = next(model.parameters()).device
    dim = model.config.out_channels
    stream = featurized_batches(smiles, featurizer, batch_size=batch_size, workers=workers)
    for chunk in stream:
        if chunk.batch is None:
            yield chunk, np.zeros((0, dim), np.float32)
            continue
        with torch.inference_mode():
            h = model.encode(chunk.batch.to(device)).float().cpu().numpy()
        yield chunk, h


def embed_smiles(
    model: MolEncoder,
    featurizer: GraphFeaturizer,
    smiles: Sequence[str],
    batch_size: int = 256,
    workers: int = 0,
) -> tuple[np.ndarray, list[SmilesFailure], list[int]]:
    """Graph embeddings ``h`` of SMILES strings (eval mode, no gradients).

    Args:
        model: The encoder; it runs on the device of its parameters and its train/eval mode is
            restored afterwards.
        featurizer: The featurizer the encoder was trained with (see :func:`load_pretrained`).
        smiles: SMILES strings; invalid ones are reported, not fatal.
        batch_size: Molecules per forward pass (default 256).
        workers: Processes that featurize ahead of the model (default 0: this process); the
            results do not depend on it.

    Returns:
        ``(h float32[n_ok, out_channels], failures, kept_indices)``: ``h[k]`` embeds
        ``smiles[kept_indices[k]]``; ``failures`` give the index, SMILES and reason of the rest.

    Raises:
        ValueError: ``batch_size`` is below 1 or ``workers`` below 0.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    was_training = model.training
    model.eval()
    blocks: list[np.ndarray] = []
    kept: list[int] = []
    failures: list[SmilesFailure] = []
    try:
        for chunk, h in encode_batches(model, featurizer, smiles, batch_size, workers):
            kept += chunk.indices
            failures += chunk.failures
            blocks.append(h)
    finally:
        model.train(was_training)
    dim = model.config.out_channels
    h = np.concatenate(blocks) if blocks else np.zeros((0, dim), np.float32)
    return h, failures, kept


def _embedded_blocks(
    model: MolEncoder,
    featurizer: GraphFeaturizer,
    records: Iterable[tuple[int, str]],
    batch_size: int,
    workers: int,
) -> Iterator[tuple[list[tuple[int, str]], np.ndarray, list[SmilesFailure], list[int]]]:
    """``(records, h, failures, kept)`` per block of about ``_CHUNK`` records, as
    :func:`embed_smiles` returns for the block's SMILES; one featurization stream for all."""
    read: deque[tuple[int, str]] = deque()  # records given to the stream, not yet in a block

    def smiles() -> Iterator[str]:
        for record in records:
            read.append(record)
            yield record[1]

    block: list[tuple[int, str]] = []
    h: list[np.ndarray] = []
    failures: list[SmilesFailure] = []
    kept: list[int] = []
    start = 0  # stream position of the block's first record
    for chunk, h_chunk in encode_batches(model, featurizer, smiles(), batch_size, workers):
        block += (read.popleft() for _ in range(chunk.stop - chunk.start))
        h.append(h_chunk)
        kept += (i - start for i in chunk.indices)
        failures += (f._replace(index=f.index - start) for f in chunk.failures)
        if len(block) >= _CHUNK:
            yield block, np.concatenate(h), failures, kept
            start += len(block)
            block, h, failures, kept = [], [], [], []
    if block:
        yield block, np.concatenate(h), failures, kept


class EmbedSummary(NamedTuple):
    """What :func:`embed_file` wrote: paths, row count, failed rows and embedding width."""

    output: Path
    failures_path: Path
    rows: int
    failed: int
    dim: int


class _NpyWriter:
    """``float32[rows, d]`` memory-mapped ``.npy``; rows are counted in a first pass."""

    def __init__(self, path: Path, dim: int, source: Any) -> None:
        rows = 1 + max((row for row, _ in source), default=-1)
        self.array = np.lib.format.open_memmap(path, "w+", np.float32, (rows, dim))

    def write(self, rows: np.ndarray, smiles: list[str], h: np.ndarray, ids=None) -> None:
        del smiles, ids
        self.array[rows[0] : rows[-1] + 1] = h

    def __enter__(self) -> _NpyWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.array.flush()
        del self.array


class _CsvWriter:
    """``row, [id,] smiles, h_0 .. h_{d-1}`` text columns; NaN written as ``nan``."""

    def __init__(self, path: Path, dim: int, source: Any) -> None:
        self.with_ids = _has_ids(source)
        self.handle = open(path, "w", newline="")  # noqa: SIM115 (closed in __exit__)
        self.writer = csv.writer(self.handle)
        names = ["row", "id"] if self.with_ids else ["row"]
        self.writer.writerow([*names, "smiles", *(f"h_{i}" for i in range(dim))])

    def write(self, rows: np.ndarray, smiles: list[str], h: np.ndarray, ids=None) -> None:
        ids = ids if ids is not None else [""] * len(smiles)
        for row, row_id, smi, values in zip(rows.tolist(), ids, smiles, h.tolist(), strict=True):
            head = [row, row_id] if self.with_ids else [row]
            self.writer.writerow([*head, smi, *(f"{v:.7g}" for v in values)])

    def __enter__(self) -> _CsvWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.handle.close()


class _ParquetWriter:
    """``row`` int64, [``id`` string,] ``smiles`` string, ``h_i`` float32 columns, one row group
    per chunk."""

    def __init__(self, path: Path, dim: int, source: Any) -> None:
        self.with_ids = _has_ids(source)
        try:
            import pyarrow as pa
            import pyarrow.parquet as pq
        except ImportError as err:
            raise ImportError(
                f"writing {path} needs pyarrow: `pip install 'molssl[parquet]'` (or write .npy/.csv)"
            ) from err

        self.pa = pa
        fields = [pa.field("row", pa.int64())]
        fields += [pa.field("id", pa.string())] if self.with_ids else []
        fields += [pa.field("smiles", pa.string())]
        fields += [pa.field(f"h_{i}", pa.float32()) for i in range(dim)]
        self.schema = pa.schema(fields)
        self.writer = pq.ParquetWriter(path, self.schema)

    def write(self, rows: np.ndarray, smiles: list[str], h: np.ndarray, ids=None) -> None:
        columns = [self.pa.array(rows)]
        if self.with_ids:
            columns.append(self.pa.array(ids or [""] * len(smiles), self.pa.string()))
        columns.append(self.pa.array(smiles, self.pa.string()))
        columns += [self.pa.array(h[:, i]) for i in range(h.shape[1])]
        self.writer.write_table(self.pa.Table.from_arrays(columns, schema=self.schema))

    def __enter__(self) -> _ParquetWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.writer.close()


def _has_ids(source: Any) -> bool:
    """Whether the source's rows carry ids (PubChem CIDs, a ``.smi`` file's names)."""
    first = next(source.records(), None)
    return first is not None and first[2] is not None


WRITERS: dict[str, Callable[[Path, int, Any], Any]] = {
    ".npy": _NpyWriter,
    ".csv": _CsvWriter,
    ".parquet": _ParquetWriter,
}
"""Embedding file writers by output suffix."""


def embed_file(
    checkpoint: str | Path,
    input: str | Path,
    output: str | Path,
    smiles_column: str | int | None = None,
    *,
    batch_size: int = 256,
    workers: int | None = None,
    device: str = "cpu",
    fmt: str | None = None,
    allow_partial: bool = False,
) -> EmbedSummary:
    """Embed every record of a SMILES file, in input order (``molssl embed``).

    Every output row ``i`` is input row ``i`` (the :class:`~molssl.data.SmilesSource` row rule:
    after the header and leading comments, every line is a row, blank ones included). Rows that
    fail (invalid or empty SMILES) get NaN embeddings and are listed in
    ``<output>.failures.csv`` (``row, smiles, reason, id``). The file is streamed in chunks, so
    memory does not grow with it (``.npy`` takes one extra pass to count the rows). Both files
    are written to temporary names and renamed when complete.

    Args:
        checkpoint: Weights as :func:`load_pretrained` takes them (``ckpt:PATH`` or a bare
            path, ``molclr-gin:PATH``, ``molclr-gcn:PATH``).
        input: ``.smi``/``.txt``/``.csv``/``.tsv``, optionally ``.gz``.
        output: ``.npy`` (``float32[rows, d]``), ``.csv`` or ``.parquet`` (columns ``row``,
            ``smiles``, ``h_0`` ... ``h_{d-1}``).
        smiles_column: SMILES column of a CSV input, name or 0-based index (auto-detected
            from a header cell named like ``smiles``).
        batch_size: Molecules per forward pass (default 256).
        workers: Processes that featurize ahead of the model (default 1 if a CPU is left
            beside torch's threads, else 0: this process; see :func:`default_workers`).
        device: Where the encoder runs (default ``"cpu"``).
        fmt: ``"smi"``, ``"csv"`` or ``"tsv"``; default: from the file name (PubChem's
            ``CID-SMILES`` by name or content, its CID becoming each row's ``id``).
        allow_partial: Accept a checkpoint lacking some encoder tensors (see
            :func:`load_pretrained`).

    Returns:
        An :class:`EmbedSummary`.

    Raises:
        ConfigError: ``output`` has an unsupported suffix.
        ConfigError: ``output`` (or its failures file) is ``input`` (same path or inode).
        molssl.data.DataFormatError: The format or SMILES column cannot be determined, or every
            row failed (the outputs are still written).
        FileNotFoundError: ``input`` or the checkpoint does not exist.
    """
    from molssl.contrastive.config import ConfigError
    from molssl.contrastive.io.atomic import atomic_path, same_file
    from molssl.data import DataFormatError, SmilesSource

    output = Path(output)
    if output.suffix not in WRITERS:
        raise ConfigError(
            f"cannot write embeddings to {output}: -o must end in "
            f"{', '.join(sorted(WRITERS))} (e.g. {output.with_suffix('.npy')})"
        )
    for written in (output, output.with_name(output.name + ".failures.csv")):
        if same_file(written, input):
            raise ConfigError(
                f"output {written} is the input {input}; writing it would replace "
                "the input: choose another -o"
            )
    if not Path(input).is_file():
        raise FileNotFoundError(f"input {input} does not exist")
    if workers is None:
        workers = default_workers()
    if batch_size < 1 or workers < 0:
        raise ValueError(
            f"--batch-size must be >= 1 and --workers >= 0, got {batch_size} and {workers}"
        )
    source = SmilesSource(Path(input), smiles_column=smiles_column, fmt=fmt)
    source.check()
    loaded = load_pretrained(checkpoint, allow_partial=allow_partial)
    model, featurizer = loaded.encoder.to(device), loaded.featurizer
    dim = model.config.out_channels
    output.parent.mkdir(parents=True, exist_ok=True)
    failures_path = output.with_name(output.name + ".failures.csv")
    rows = failed = 0
    first_failures: list[str] = []
    # Both files appear only once complete: a crash keeps the previous results intact.
    with atomic_path(output) as tmp_out, atomic_path(failures_path) as tmp_failures:
        writer = WRITERS[output.suffix](tmp_out, dim, source)
        with open(tmp_failures, "w", newline="") as fh, writer:
            failures_csv = csv.writer(fh)
            failures_csv.writerow(["row", "smiles", "reason", "id"])
            blocks = _embedded_blocks(model, featurizer, source.records(), batch_size, workers)
            for block, h_ok, bad, kept in blocks:
                rows_here = [r[0] for r in block]
                smiles = [r[1] for r in block]
                ids = [r[2] if r[2] is not None else "" for r in block]
                h = np.full((len(rows_here), dim), np.nan, dtype=np.float32)
                h[kept] = h_ok
                for f in bad:
                    failures_csv.writerow([rows_here[f.index], f.smiles, f.reason, ids[f.index]])
                    if len(first_failures) < 3:
                        first_failures.append(describe_failure(rows_here[f.index], *f[1:]))
                writer.write(np.asarray(rows_here, dtype=np.int64), smiles, h, ids)
                rows, failed = rows_here[-1] + 1, failed + len(bad)
    if rows and failed == rows:
        raise DataFormatError(
            f"every one of the {rows} rows of {input} failed ({'; '.join(first_failures)}); "
            f"is it a SMILES file and the right column (--smiles-col, --format)? The rows are "
            f"listed in {failures_path}."
        )
    log_failures(logger, failed, rows, first_failures[0] if failed else "", str(failures_path))
    logger.info("wrote %d embeddings of width %d to %s", rows, dim, output)
    return EmbedSummary(output, failures_path, rows, failed, dim)


class PretrainedEmbedder(TransformerMixin, BaseEstimator):
    """scikit-learn transformer: SMILES -> pretrained graph embeddings ``h``.

    The encoder is loaded on first use, not in ``__init__`` (scikit-learn's ``clone``
    convention), and is not pickled: a pickled embedder refers to its checkpoint file.

    Example::

        Pipeline([("embed", PretrainedEmbedder("runs/a/best.pt")),
                  ("clf", LogisticRegression())]).fit(smiles, y)

    Args:
        checkpoint: As :func:`load_pretrained`.
        batch_size: Molecules per forward pass (default 256).
        errors: ``"nan"`` (default): an invalid SMILES gets a NaN row; ``"raise"``: raise.
        device: Where the encoder runs (default ``"cpu"``).
    """

    def __init__(
        self,
        checkpoint: str | Path,
        batch_size: int = 256,
        errors: str = "nan",
        device: str = "cpu",
    ) -> None:
        self.checkpoint = checkpoint
        self.batch_size = batch_size
        self.errors = errors
        self.device = device

    def _loaded(self) -> tuple[MolEncoder, GraphFeaturizer]:
        if getattr(self, "_model", None) is None:
            loaded = load_pretrained(self.checkpoint)
            self._model = loaded.encoder.to(self.device)
            self._featurizer = loaded.featurizer
        return self._model, self._featurizer

    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()
        state.pop("_model", None)
        state.pop("_featurizer", None)
        return state

    def fit(self, X: Sequence[str], y: Any = None) -> PretrainedEmbedder:  # noqa: N803
        """No-op (the encoder is pretrained); records ``n_features_out_``."""
        del X, y
        self.n_features_out_ = self._loaded()[0].config.out_channels
        return self

    def transform(self, X: Sequence[str]) -> np.ndarray:  # noqa: N803
        """Embed SMILES.

        Args:
            X: SMILES strings (list, array or pandas Series).

        Returns:
            ``float32[len(X), out_channels]``; NaN rows for invalid SMILES with ``errors="nan"``.

        Raises:
            ValueError: ``errors`` is neither ``"nan"`` nor ``"raise"``, or (``"raise"``) a
                SMILES is invalid; the message names the first bad rows.
        """
        if self.errors not in ("nan", "raise"):
            raise ValueError(f"errors must be 'nan' or 'raise', got {self.errors!r}")
        model, featurizer = self._loaded()
        smiles = list(np.asarray(X, dtype=object).ravel())
        h_ok, failures, kept = embed_smiles(model, featurizer, smiles, self.batch_size)
        if failures and self.errors == "raise":
            shown = "; ".join(f"row {f.index} {f.smiles!r}: {f.reason}" for f in failures[:3])
            raise ValueError(
                f"{len(failures)} of {len(smiles)} SMILES could not be embedded ({shown}); "
                "fix or drop them, or use errors='nan'"
            )
        h = np.full((len(smiles), h_ok.shape[1]), np.nan, dtype=np.float32)
        h[kept] = h_ok
        return h

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """``h_0`` ... ``h_{d-1}``."""
        del input_features
        dim = self._loaded()[0].config.out_channels
        return np.asarray([f"h_{i}" for i in range(dim)], dtype=object)
