"""Where the benchmark scripts find the shared data: one lookup, one order, one error.

The shared data folder holds ``moleculenet/`` (the DeepChem MoleculeNet CSVs), ``pretrain/``
(MOSES SMILES) and ``checkpoints/`` (MolCLR's released weights). Every folder is looked up in
this order, the first that exists wins:

1. ``$MOLSSL_SHARED_DATA/<folder>``;
2. for ``moleculenet/``: ``$MOLSSL_DATA_DIR`` itself (the folder ``molssl`` reads datasets
   from); for the others: ``<folder>`` beside it, in ``$MOLSSL_DATA_DIR``'s parent;
3. ``../shared/data/<folder>`` next to the repository.

Nothing found is one :class:`SharedDataError` naming the variable to set and the folder to create.
Scripts import this module as ``from _shared import ...`` when run as files
(``python benchmarks/x.py``) and as ``benchmarks._shared`` when imported as a package.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_SHARED = REPO.parent / "shared" / "data"
"""``../shared/data`` next to the repository."""


class SharedDataError(FileNotFoundError):
    """A folder of the shared data is in none of the places looked at."""


def _candidates(folder: str) -> list[Path]:
    found: list[Path] = []
    if root := os.environ.get("MOLSSL_SHARED_DATA"):
        found.append(Path(root).expanduser() / folder)
    if data_dir := os.environ.get("MOLSSL_DATA_DIR"):
        data = Path(data_dir).expanduser()
        found.append(data if folder == "moleculenet" else data.parent / folder)
    found.append(DEFAULT_SHARED / folder)
    return found


def shared_path(folder: str) -> Path:
    """The first existing ``folder`` of the shared data (see the module docstring for the order).

    Args:
        folder: ``"moleculenet"``, ``"pretrain"``, ``"checkpoints"`` or another subfolder.

    Raises:
        SharedDataError: No candidate exists; the message lists them and names
            ``MOLSSL_SHARED_DATA`` and the folder to create.
    """
    tried = _candidates(folder)
    for path in tried:
        if path.is_dir():
            return path
    what = "the shared data folder" if folder == "." else f"{folder}/ of the shared data"
    raise SharedDataError(
        f"{what} not found (looked in {', '.join(map(str, tried))}); set MOLSSL_SHARED_DATA to "
        f"the folder that holds it, or create {(DEFAULT_SHARED / folder).resolve()}"
    )


def shared_data_dir() -> Path:
    """The shared data folder itself: ``$MOLSSL_SHARED_DATA``, else ``../shared/data``.

    Raises:
        SharedDataError: Neither exists.
    """
    return shared_path(".").resolve()


def moleculenet_dir() -> Path:
    """The MoleculeNet CSV folder (``$MOLSSL_SHARED_DATA/moleculenet``, ``$MOLSSL_DATA_DIR``, ...).

    Raises:
        SharedDataError: None of the candidates exists.
    """
    return shared_path("moleculenet")


def pretrain_dir() -> Path:
    """The folder of the MOSES SMILES files (``moses_train.smi.gz``, ``moses_test.smi.gz``).

    Raises:
        SharedDataError: None of the candidates exists.
    """
    return shared_path("pretrain")


def checkpoints_dir() -> Path:
    """The folder of MolCLR's released weights (``molclr_gcn.pth``).

    Raises:
        SharedDataError: None of the candidates exists.
    """
    return shared_path("checkpoints")


def run(main: Callable[[], object]) -> None:
    """Call a script's ``main``; missing shared data ends in one line on stderr and exit code 2."""
    try:
        main()
    except SharedDataError as err:
        print(f"{Path(sys.argv[0]).name}: error: {err}", file=sys.stderr)
        raise SystemExit(2) from None
