"""Checks of paths and columns that run before any heavy import (torch, RDKit, pandas).

A missing file or a misspelt column should be answered at once, not after the 10-30 s that
importing torch takes on a loaded machine; the CLI calls these first. Standard library only.
"""

from __future__ import annotations

import csv
import gzip
import io
from collections.abc import Sequence
from pathlib import Path

from molssl.contrastive.config import ConfigError


def require_file(path: str | Path, what: str, fix: str) -> None:
    """Raise ``FileNotFoundError`` naming ``path`` and ``fix`` when it is not a file or folder."""
    if not Path(path).exists():
        raise FileNotFoundError(f"{what} {path} does not exist; {fix}")


def csv_header(path: str | Path) -> list[str] | None:
    """The header cells of a ``.csv``/``.tsv`` (optionally ``.gz``), or ``None`` when the file is
    no such table or its first line cannot be read (the full reader then says why)."""
    path = Path(path)
    name = path.name[:-3] if path.name.endswith(".gz") else path.name
    suffix = Path(name).suffix.lower()
    if suffix not in (".csv", ".tsv"):
        return None
    try:
        raw = gzip.open(path, "rb") if path.name.endswith(".gz") else open(path, "rb")  # noqa: SIM115
        with raw:
            line = raw.readline(1 << 20).decode("utf-8-sig")
        row = next(csv.reader(io.StringIO(line), delimiter="\t" if suffix == ".tsv" else ","))
    except (OSError, UnicodeDecodeError, StopIteration, csv.Error, EOFError):
        return None
    return [cell.strip() for cell in row]


def require_columns(path: str | Path, columns: Sequence[str], flag: str) -> None:
    """Raise ``ConfigError`` when a named column is not in ``path``'s header.

    Column indices (digits) and files without a readable header are left to the full reader.
    """
    header = csv_header(path)
    if header is None:
        return
    for column in columns:
        if column and not str(column).isdigit() and column not in header:
            shown = ", ".join(header[:10])
            raise ConfigError(f"{path} has no column {column!r} (columns: {shown}); fix {flag}")


def require_smiles_input(path: str | Path, smiles_column: str | None, fix: str) -> None:
    """Check a command's molecule ``input`` file and, when one is named, its ``--smiles-col``.

    Raises:
        FileNotFoundError: ``path`` does not exist (the message ends with ``fix``).
        ConfigError: ``smiles_column`` is not in ``path``'s header.
    """
    require_file(path, "input", fix)
    if smiles_column is not None:
        require_columns(path, [smiles_column], "--smiles-col")
