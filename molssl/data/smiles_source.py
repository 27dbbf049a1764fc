"""Streaming SMILES sources for pretraining corpora of any size.

A :class:`SmilesSource` reads one line (or one CSV record) at a time, so memory stays bounded
whatever the file size, and yields ``(row_index, smiles)``. ``row_index`` is the 0-based index of
the record among the file's data records: header, leading ``#`` comment lines and blank lines
are not counted, so it equals the pandas ``read_csv`` row index of the same file. It is global
(the same in every shard). Records with an empty SMILES cell keep their index but are skipped.

Sharding is deterministic: record ``i`` belongs to shard ``i % num_shards``.
:class:`SmilesIterableDataset` derives its shard from the DataLoader worker and the
``torch.distributed`` rank so that all workers of all ranks see every record exactly once.
"""

from __future__ import annotations

import csv
import gzip
import io
import logging
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import torch
from torch.utils.data import IterableDataset, get_worker_info

from molssl.data.errors import DataFormatError

if TYPE_CHECKING:
    import pandas as pd

logger = logging.getLogger(__name__)

SourceFormat = Literal["smi", "csv"]
_FORMATS: dict[str, SourceFormat] = {
    ".smi": "smi", ".smiles": "smi", ".txt": "smi", ".csv": "csv", ".tsv": "csv",
}  # fmt: skip
_SMILES_HEADERS = frozenset({"smiles", "smi", "canonical_smiles", "isomeric_smiles"})


def _open_text(path: Path) -> io.TextIOBase:
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8", newline="")
    return path.open("r", encoding="utf-8", newline="")


def _skip_leading_comments(lines: Iterable[str]) -> Iterator[str]:
    leading = True
    for line in lines:
        if leading and line.lstrip().startswith("#"):
            continue
        leading = False
        yield line


@dataclass(frozen=True)
class SmilesSource:
    """Iterate ``(row_index, smiles)`` over a ``.smi``/``.txt``/``.csv`` file, gzipped or not.

    ``.smi``/``.txt``: the first whitespace-separated token of each line; a first line whose
    first token is ``SMILES``/``smiles`` is a header and skipped. ``.csv``/``.tsv``: the column
    ``smiles_column`` (default: the header cell named ``smiles`` in any case). Lines starting
    with ``#`` before the first record are comments.

    Attributes:
        path: The file.
        smiles_column: CSV column name, or 0-based index (then ``header`` defaults to ``False``
            unless the first row names a SMILES column). Ignored for ``.smi``.
        header: Whether the CSV has a header line; ``None`` detects it (a cell named like
            ``smiles``, or ``smiles_column`` given as a name).
        fmt: ``"smi"`` or ``"csv"``; ``None`` infers it from the suffix (``.gz`` stripped).
        delimiter: CSV delimiter; ``None`` means tab for ``.tsv`` and comma otherwise.
        num_shards: Number of shards. Default 1.
        shard_id: This source's shard, in ``[0, num_shards)``. Default 0.

    Raises:
        ValueError: Unknown format or invalid shard.
        DataFormatError: (on iteration) the SMILES column cannot be found.
    """

    path: Path
    smiles_column: str | int | None = None
    header: bool | None = None
    fmt: SourceFormat | None = None
    delimiter: str | None = None
    num_shards: int = 1
    shard_id: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", Path(self.path))
        if self.fmt is None:
            name = self.path.name[:-3] if self.path.name.endswith(".gz") else self.path.name
            fmt = _FORMATS.get(Path(name).suffix.lower())
            if fmt is None:
                raise ValueError(
                    f"Cannot tell the format of {self.path} from its suffix; use one of "
                    f"{sorted(_FORMATS)} (optionally .gz) or pass fmt='smi'|'csv'."
                )
            object.__setattr__(self, "fmt", fmt)
        if self.num_shards < 1 or not 0 <= self.shard_id < self.num_shards:
            raise ValueError(
                f"Invalid shard {self.shard_id} of {self.num_shards}: need num_shards >= 1 and "
                f"0 <= shard_id < num_shards."
            )

    def shard(self, num_shards: int, shard_id: int) -> SmilesSource:
        """A copy restricted to records ``i`` with ``i % num_shards == shard_id``."""
        return replace(self, num_shards=num_shards, shard_id=shard_id)

    def shard_for(
        self, rank: int = 0, world_size: int = 1, worker_id: int = 0, num_workers: int = 1
    ) -> SmilesSource:
        """Shard of DataLoader worker ``worker_id`` on distributed rank ``rank``.

        Uses ``world_size * num_workers`` shards and shard id ``rank * num_workers + worker_id``.
        """
        return self.shard(world_size * max(num_workers, 1), rank * max(num_workers, 1) + worker_id)

    def __iter__(self) -> Iterator[tuple[int, str]]:
        records = self._iter_smi() if self.fmt == "smi" else self._iter_csv()
        index = -1
        try:
            for index, smiles in records:
                if smiles and index % self.num_shards == self.shard_id:
                    yield index, smiles
        except (EOFError, gzip.BadGzipFile, zlib.error, UnicodeDecodeError) as err:
            where = f"after row {index}" if index >= 0 else "before its first row"
            raise DataFormatError(
                f"{self.path} cannot be read {where} ({type(err).__name__}: "
                f"{' '.join(str(err).split())[:160]}); the file is truncated, damaged or not "
                "UTF-8 text -- download or copy it again (`gzip -t` checks a .gz)"
            ) from err

    def _iter_smi(self) -> Iterator[tuple[int, str]]:
        with _open_text(self.path) as handle:
            index = 0
            first = True
            for line in _skip_leading_comments(handle):
                tokens = line.split(None, 1)
                if not tokens:
                    continue
                if first and tokens[0].lower() in _SMILES_HEADERS:
                    first = False
                    continue
                first = False
                yield index, tokens[0]
                index += 1

    def _iter_csv(self) -> Iterator[tuple[int, str]]:
        delimiter = self.delimiter or ("\t" if ".tsv" in self.path.suffixes else ",")
        with _open_text(self.path) as handle:
            reader = csv.reader(_skip_leading_comments(handle), delimiter=delimiter)
            rows = (row for row in reader if row)
            first = next(rows, None)
            if first is None:
                return
            column, has_header = self._resolve_column(first)
            if not has_header:
                rows = _chain_one(first, rows)
            for index, row in enumerate(rows):
                yield index, (row[column].strip() if column < len(row) else "")

    def _resolve_column(self, first_row: list[str]) -> tuple[int, bool]:
        cells = [cell.strip() for cell in first_row]
        named = [i for i, cell in enumerate(cells) if cell.lower() in _SMILES_HEADERS]
        has_header = self.header if self.header is not None else (
            isinstance(self.smiles_column, str) or bool(named))  # fmt: skip
        if isinstance(self.smiles_column, int):
            return self.smiles_column, has_header
        if not has_header:
            if self.smiles_column is not None:
                raise DataFormatError(
                    f"{self.path}: smiles_column={self.smiles_column!r} is a name but header=False;"
                    f" pass a 0-based column index instead."
                )
            logger.info("%s has no SMILES header; reading column 0", self.path)
            return 0, False
        if self.smiles_column is not None:
            if self.smiles_column in cells:
                return cells.index(self.smiles_column), True
        elif named:
            exact = [i for i in named if cells[i] in ("smiles", "SMILES")]
            return (exact or named)[0], True
        raise DataFormatError(
            f"{self.path}: SMILES column {self.smiles_column or 'smiles'!r} not found in the "
            f"header {cells}. Pass smiles_column=<name> or a 0-based index."
        )

    def count(self) -> int:
        """Number of records this source yields (one full pass over the file)."""
        return sum(1 for _ in self)


def _chain_one(first: list[str], rest: Iterator[list[str]]) -> Iterator[list[str]]:
    yield first
    yield from rest


def distributed_rank_and_world_size() -> tuple[int, int]:
    """``(rank, world_size)`` of the initialised default process group, else ``(0, 1)``."""
    dist = torch.distributed
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


class SmilesIterableDataset(IterableDataset):
    """``IterableDataset`` over an unsharded :class:`SmilesSource`, split across workers/ranks.

    In each DataLoader worker on each rank it iterates
    ``source.shard_for(rank, world_size, worker_id, num_workers)``, so the union over all
    workers of all ranks is every record exactly once. Items are ``(row_index, smiles)``.

    Args:
        source: The source; it must not be sharded already.

    Raises:
        ValueError: When ``source`` is already sharded.
    """

    def __init__(self, source: SmilesSource) -> None:
        super().__init__()
        if source.num_shards != 1:
            raise ValueError(
                f"SmilesIterableDataset shards by worker and rank itself; pass an unsharded "
                f"source, not shard {source.shard_id} of {source.num_shards}."
            )
        self.source = source

    def local_source(self) -> SmilesSource:
        """The shard this process/worker reads."""
        info = get_worker_info()
        worker_id, num_workers = (info.id, info.num_workers) if info is not None else (0, 1)
        rank, world_size = distributed_rank_and_world_size()
        return self.source.shard_for(rank, world_size, worker_id, num_workers)

    def __iter__(self) -> Iterator[tuple[int, str]]:
        return iter(self.local_source())


def _rdkit_nci_file(name: str) -> Path:
    from rdkit import RDConfig

    path = Path(RDConfig.RDDataDir) / "NCI" / name
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} is missing from the installed RDKit; reinstall rdkit or use your own file."
        )
    return path


def embedded_smiles_path() -> Path:
    """RDKit's bundled ``NCI/first_5K.smi``: 4999 lines ``SMILES<TAB>id``, no header."""
    return _rdkit_nci_file("first_5K.smi")


def embedded_tpsa_path() -> Path:
    """RDKit's bundled ``NCI/first_5k.tpsa.csv``: one ``#`` comment line, then 4999 lines
    ``SMILES,TPSA`` without a header (read with ``SmilesSource(path)``: column 0)."""
    return _rdkit_nci_file("first_5k.tpsa.csv")


def read_tpsa_table(path: str | Path | None = None) -> pd.DataFrame:
    """RDKit's TPSA table as a frame with columns ``smiles`` and ``tpsa`` (float), one row per line.

    Only lines that *start* with ``#`` are comments: ``#`` is also the SMILES triple bond
    (``C#N``), so a reader with ``#`` as a comment character would cut nitriles short.

    Args:
        path: A ``SMILES,TPSA`` file without a header; default :func:`embedded_tpsa_path`.

    Raises:
        DataFormatError: A data line without exactly two fields or with a non-numeric TPSA.
    """
    import pandas as pd

    path = Path(path) if path is not None else embedded_tpsa_path()
    smiles: list[str] = []
    tpsa: list[float] = []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            fields = line.split(",")
            try:
                if len(fields) != 2:
                    raise ValueError(f"{len(fields)} fields")
                tpsa.append(float(fields[1]))
            except ValueError as err:
                raise DataFormatError(
                    f"{path}, line {number}: expected 'SMILES,TPSA', got {line[:80]!r} ({err})"
                ) from None
            smiles.append(fields[0])
    return pd.DataFrame({"smiles": smiles, "tpsa": tpsa})
