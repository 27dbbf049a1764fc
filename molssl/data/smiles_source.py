"""Streaming SMILES sources for pretraining corpora of any size.

A :class:`SmilesSource` reads one line (or one CSV record) at a time, so memory stays bounded
whatever the file size, and yields ``(row_index, smiles)``. The row rule: leading ``#`` comment
lines and blank lines, and a header line, are not rows; after them **every line is a row**, a
blank one included (its SMILES is ``""``, which featurizing reports as a failure), so row ``i`` of
every output is data line ``i`` of the input in every format. Row indices are global (the same
in every shard).

PubChem's ``CID-SMILES`` download (``CID<TAB>SMILES``, no header, optionally gzipped) is
recognised by its name or by its content and read with the CID as each row's id.

Sharding is deterministic: record ``i`` belongs to shard ``i % num_shards``.
:class:`SmilesIterableDataset` derives its shard from the DataLoader worker and the
``torch.distributed`` rank so that all workers of all ranks see every record exactly once.
"""

from __future__ import annotations

import csv
import gzip
import io
import logging
import re
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Literal, TypeVar

import torch
from torch.utils.data import IterableDataset, get_worker_info

from molssl.data.errors import DataFormatError

if TYPE_CHECKING:
    import pandas as pd

logger = logging.getLogger(__name__)
_T = TypeVar("_T")

SourceFormat = Literal["smi", "csv", "tsv"]
FORMATS: tuple[str, ...] = ("smi", "csv", "tsv")
_SUFFIXES: dict[str, SourceFormat] = {
    ".smi": "smi",
    ".smiles": "smi",
    ".txt": "smi",
    ".csv": "csv",
    ".tsv": "tsv",
}
_SMILES_HEADERS = frozenset({"smiles", "smi", "canonical_smiles", "isomeric_smiles"})
# PubChem's CID-SMILES: "<CID>\t<SMILES>", no header (https://ftp.ncbi.nlm.nih.gov/pubchem/Compound/Extras/)
_PUBCHEM_NAME = re.compile(r"^cid-smiles(\.[a-z]+)?$", re.IGNORECASE)
_PUBCHEM_LINE = re.compile(r"^\d+\t\S+\s*$")
# A column name: a word (letters, digits, _ . - and spaces), not SMILES syntax ([]()=#@+/\%).
_NAME_LIKE = re.compile(r"^[A-Za-z_][A-Za-z0-9_ .-]*$")
#: Longest CSV cell read (characters): far above any SMILES or note, bounded so that a broken
#: quote cannot swallow a whole file into one cell.
CSV_FIELD_LIMIT = 1 << 24


def looks_like_column_name(cell: str) -> bool:
    """Whether a first-row cell of the SMILES column is a header, not a molecule: named like
    ``smiles``, or a word that RDKit cannot parse (``structure``, ``mol_smiles``; ``CCO`` and
    ``Cl`` are molecules)."""
    cell = cell.strip()
    if cell.lower() in _SMILES_HEADERS:
        return True
    if not _NAME_LIKE.match(cell):
        return False
    from rdkit import Chem, rdBase

    with rdBase.BlockLogs():
        return Chem.MolFromSmiles(cell) is None


def _open_text(path: Path) -> io.TextIOBase:
    # utf-8-sig: a byte-order mark is dropped instead of becoming part of the first header cell.
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8-sig", newline="")
    return path.open("r", encoding="utf-8-sig", newline="")


def _skip_preamble(lines: Iterable[str]) -> Iterator[str]:
    """Drop the ``#`` comment lines and blank lines before the first record."""
    leading = True
    for line in lines:
        if leading and (not line.strip() or line.lstrip().startswith("#")):
            continue
        leading = False
        yield line


def _first_record(path: Path) -> str | None:
    try:
        with _open_text(path) as handle:
            return next(iter(_skip_preamble(handle)), None)
    except (OSError, EOFError, UnicodeDecodeError):
        return None  # not sniffable: reading the rows reports what is wrong with the file


def _base_name(path: Path) -> str:
    return path.name[:-3] if path.name.endswith(".gz") else path.name


def is_pubchem_cid_smiles(path: str | Path) -> bool:
    """Whether ``path`` is laid out as PubChem's ``CID-SMILES`` (by name, else by first line)."""
    path = Path(path)
    if _PUBCHEM_NAME.match(_base_name(path)):
        return True
    if not path.is_file() or Path(_base_name(path)).suffix.lower() in (".csv", ".tsv"):
        return False
    first = _first_record(path)
    return first is not None and bool(_PUBCHEM_LINE.match(first))


@dataclass(frozen=True)
class SmilesSource:
    """Iterate ``(row_index, smiles)`` over a SMILES file, gzipped or not.

    ``smi`` (``.smi``/``.smiles``/``.txt``): the first whitespace-separated token of each line is
    the SMILES, the second (when present) the row's id; a first line whose first token is
    ``SMILES``/``smiles`` is a header. ``csv``/``tsv``: the column ``smiles_column``, by default
    the header cell named like ``smiles`` (a UTF-8 byte-order mark is ignored). A file with
    several columns and none named like SMILES is refused unless ``smiles_column`` is given: the
    reader does not guess. PubChem's ``CID-SMILES`` (``CID<TAB>SMILES``, no header) is
    recognised by its name or its first line and read as ``tsv``, column 1, with the CID as id.

    Attributes:
        path: The file.
        smiles_column: CSV column name, or 0-based index (then the first row is a header when
            its cell in that column is named like SMILES or is a word that is not a SMILES, see
            :func:`looks_like_column_name`). Ignored for ``smi``.
        header: Whether the CSV has a header line; ``None`` detects it (a cell named like
            ``smiles``, or ``smiles_column`` given as a name).
        fmt: ``"smi"``, ``"csv"`` or ``"tsv"``; ``None`` infers it from the name (``.gz``
            stripped) or, for PubChem's layout, from the content.
        delimiter: CSV delimiter; ``None`` means tab for ``tsv`` and comma for ``csv``.
        id_column: CSV column (name or 0-based index) holding each row's id; ``None``: no id
            (PubChem's layout: column 0, the CID). ``smi`` files take the second token.
        num_shards: Number of shards. Default 1.
        shard_id: This source's shard, in ``[0, num_shards)``. Default 0.

    Raises:
        DataFormatError: Unknown format (a ``ValueError``); on iteration, the SMILES column
            cannot be found or is ambiguous.
        ValueError: Invalid shard.
    """

    path: Path
    smiles_column: str | int | None = None
    header: bool | None = None
    fmt: SourceFormat | None = None
    delimiter: str | None = None
    id_column: str | int | None = None
    num_shards: int = 1
    shard_id: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", Path(self.path))
        if isinstance(self.smiles_column, str) and self.smiles_column.isdigit():
            object.__setattr__(self, "smiles_column", int(self.smiles_column))
        if self.fmt is not None and self.fmt not in FORMATS:
            raise DataFormatError(f"unknown format {self.fmt!r} for {self.path}; use {FORMATS}")
        if self.fmt is None:
            self._infer_format()
        if self.num_shards < 1 or not 0 <= self.shard_id < self.num_shards:
            raise ValueError(
                f"Invalid shard {self.shard_id} of {self.num_shards}: need num_shards >= 1 and "
                f"0 <= shard_id < num_shards."
            )

    def _infer_format(self) -> None:
        if is_pubchem_cid_smiles(self.path):
            defaults = {"fmt": "tsv", "header": False, "smiles_column": 1, "id_column": 0}
            for name, value in defaults.items():
                if getattr(self, name) is None:
                    object.__setattr__(self, name, value)
            logger.info(
                "%s is PubChem's CID<TAB>SMILES layout; the CID is each row's id", self.path
            )
            return
        fmt = _SUFFIXES.get(Path(_base_name(self.path)).suffix.lower())
        if fmt is None:
            raise DataFormatError(
                f"cannot tell the format of {self.path} from its name; pass --format smi|csv|tsv "
                f"(fmt=...) or use one of the suffixes {sorted(_SUFFIXES)} (optionally .gz)."
            )
        object.__setattr__(self, "fmt", fmt)

    def describe(self) -> dict:
        """How rows are read (format, columns, header, delimiter): part of a graph store's key."""
        return {
            "format": self.fmt,
            "smiles_column": self.smiles_column,
            "header": self.header,
            "delimiter": self.delimiter,
            "id_column": self.id_column,
        }

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
        for index, smiles, _ in self.records():
            yield index, smiles

    def records(self) -> Iterator[tuple[int, str, str | None]]:
        """``(row_index, smiles, id)`` of every row of this shard; ``smiles`` is ``""`` for a
        blank line or an empty cell, ``id`` is ``None`` when the file has no id column."""
        records = self._iter_smi() if self.fmt == "smi" else self._iter_csv()
        index = -1
        try:
            for record in records:
                index = record[0]
                if index % self.num_shards == self.shard_id:
                    yield record
        except csv.Error as err:
            where = f"row {index + 1}" if index >= 0 else "its first row"
            raise DataFormatError(
                f"{self.path} cannot be read at {where} ({' '.join(str(err).split())[:160]}); "
                f"a CSV cell longer than {CSV_FIELD_LIMIT:,} characters or a broken quote: fix "
                "that row or remove it"
            ) from err
        except (EOFError, gzip.BadGzipFile, zlib.error, UnicodeDecodeError) as err:
            where = f"after row {index}" if index >= 0 else "before its first row"
            raise DataFormatError(
                f"{self.path} cannot be read {where} ({type(err).__name__}: "
                f"{' '.join(str(err).split())[:160]}); the file is truncated, damaged or not "
                "UTF-8 text -- download or copy it again (`gzip -t` checks a .gz)"
            ) from err

    def _iter_smi(self) -> Iterator[tuple[int, str, str | None]]:
        with _open_text(self.path) as handle:
            lines = _skip_preamble(handle)
            first = next(lines, None)
            if first is None:
                return
            tokens = first.split(None, 2)
            if tokens[0].lower() not in _SMILES_HEADERS:
                lines = _chain_one(first, lines)
            for index, line in enumerate(lines):
                tokens = line.split(None, 2)
                yield index, (tokens[0] if tokens else ""), (tokens[1] if len(tokens) > 1 else None)

    def _iter_csv(self) -> Iterator[tuple[int, str, str | None]]:
        delimiter = self.delimiter or ("\t" if self.fmt == "tsv" else ",")
        if csv.field_size_limit() < CSV_FIELD_LIMIT:
            csv.field_size_limit(CSV_FIELD_LIMIT)  # Python's default: 131,072 characters
        with _open_text(self.path) as handle:
            rows = csv.reader(_skip_preamble(handle), delimiter=delimiter)
            first = next(rows, None)
            if first is None:
                return
            column, has_header = self._resolve_column(first)
            id_col = self._resolve_id_column(first, has_header)
            if not has_header:
                rows = _chain_one(first, rows)
            for index, row in enumerate(rows):
                smiles = row[column].strip() if column < len(row) else ""
                row_id = row[id_col].strip() if id_col is not None and id_col < len(row) else None
                yield index, smiles, row_id

    def _resolve_column(self, first_row: list[str]) -> tuple[int, bool]:
        cells = [cell.strip() for cell in first_row]
        named = [i for i, cell in enumerate(cells) if cell.lower() in _SMILES_HEADERS]
        has_header = (
            self.header
            if self.header is not None
            else (isinstance(self.smiles_column, str) or bool(named))
        )
        if isinstance(self.smiles_column, int):
            column = self.smiles_column
            if self.header is None and not has_header and column < len(cells):
                # `--smiles-col 2` on a file with a header: the header is not a failed row 0
                has_header = looks_like_column_name(cells[column])
                if has_header:
                    logger.info(
                        "%s: first line read as a header (%r in column %d is not a SMILES)",
                        self.path,
                        cells[column],
                        column,
                    )
            return column, has_header
        if not has_header:
            if self.smiles_column is not None:
                raise DataFormatError(
                    f"{self.path}: --smiles-col {self.smiles_column!r} is a name but the file has "
                    "no header; pass a 0-based column index instead (e.g. --smiles-col 0)."
                )
            if len(cells) == 1:
                return 0, False
            raise DataFormatError(
                f"{self.path}: no column is named like SMILES (first line: {cells}); pass "
                "--smiles-col NAME, or a 0-based index such as --smiles-col 0 for a file "
                "without a header."
            )
        if self.smiles_column is not None:
            if self.smiles_column in cells:
                return cells.index(self.smiles_column), True
        elif named:
            exact = [i for i in named if cells[i] in ("smiles", "SMILES")]
            return (exact or named)[0], True
        raise DataFormatError(
            f"{self.path}: SMILES column {self.smiles_column or 'smiles'!r} not found in the "
            f"header {cells}; pass --smiles-col NAME (one of these) or a 0-based index."
        )

    def _resolve_id_column(self, first_row: list[str], has_header: bool) -> int | None:
        if self.id_column is None or isinstance(self.id_column, int):
            return self.id_column
        cells = [cell.strip() for cell in first_row]
        if not has_header or self.id_column not in cells:
            raise DataFormatError(
                f"{self.path}: id column {self.id_column!r} not found in the header {cells}."
            )
        return cells.index(self.id_column)

    def check(self) -> None:
        """Read the first record now, so that a missing or ambiguous SMILES column (or an
        unreadable file) is an error before any long work starts.

        Raises:
            DataFormatError: As iteration would.
        """
        try:
            next(self.records(), None)
        except (OSError, EOFError, UnicodeDecodeError, csv.Error) as err:
            raise DataFormatError(f"cannot read {self.path}: {err}") from err

    def count(self) -> int:
        """Number of records this source yields (one full pass over the file)."""
        return sum(1 for _ in self)


def _chain_one(first: _T, rest: Iterator[_T]) -> Iterator[_T]:
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
    ``SMILES,TPSA`` without a header (read with ``SmilesSource(path, smiles_column=0)``)."""
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
