"""``molssl benchmark --compare A B``: one table from two results folders made the same way.

The two folders' ``protocol.json`` records must agree in everything but their methods (and the
log of runs: hosts, dates, package versions); otherwise :class:`ProtocolMismatchError` names the
first difference, e.g. ``tasks.BBBP.split_sha256.0``. A method label present in both folders
gets the folder name appended (``A`` / ``B`` when the names are equal) so that both stay in the
table.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from molssl.benchmark.ledger import read_ledger
from molssl.benchmark.protocol import (
    ProtocolMismatchError,
    compare_protocols,
    read_protocol,
    write_protocol,
)
from molssl.benchmark.report import format_summary, plot_summary
from molssl.contrastive.io.atomic import atomic_path, write_text_atomic

logger = logging.getLogger(__name__)


@dataclass
class Comparison:
    """The joint table of two folders (``markdown``) and what was written where."""

    markdown: str
    ledger: pd.DataFrame
    out_dir: Path | None = None


def _ledger(folder: Path) -> pd.DataFrame:
    path = folder / "results.csv"
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist: {folder} has no finished cells yet")
    return read_ledger(path)


def compare_folders(
    folder_a: str | Path, folder_b: str | Path, out_dir: str | Path | None = None
) -> Comparison:
    """Join two benchmark results folders into one summary, if their protocols agree.

    Args:
        folder_a, folder_b: Folders written by ``molssl benchmark`` (each with
            ``protocol.json`` and ``results.csv``).
        out_dir: Where to write the joint ``results.csv``, ``protocol.json``, ``summary.md``
            and ``summary.png``; ``None`` writes nothing.

    Returns:
        :class:`Comparison`.

    Raises:
        FileNotFoundError: A folder lacks ``protocol.json`` or ``results.csv``.
        ProtocolMismatchError: The records differ outside their methods (first difference
            named).
    """
    a, b = Path(folder_a), Path(folder_b)
    pa, pb = read_protocol(a), read_protocol(b)
    problem = compare_protocols(pa, pb)
    if problem:
        raise ProtocolMismatchError(
            f"{a} and {b} were not made under the same protocol, so one table would mislead; "
            f"first difference: {problem} (first = {a}, second = {b})"
        )
    la, lb = _ledger(a), _ledger(b)
    both = set(la["method"].dropna()) & set(lb["method"].dropna())
    name_a, name_b = (a.resolve().name, b.resolve().name)
    if name_a == name_b:
        name_a, name_b = "A", "B"
    for frame, name in ((la, name_a), (lb, name_b)):
        frame["method"] = [f"{m} ({name})" if m in both else m for m in frame["method"]]
    ledger = pd.concat([la, lb], ignore_index=True)
    markdown = format_summary(ledger, title=f"Benchmark comparison: {a} and {b}")
    out = None
    if out_dir is not None:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        with atomic_path(out / "results.csv") as tmp:
            ledger.to_csv(tmp, index=False)
        write_protocol(
            out,
            {
                **pa,
                "methods": {**pa.get("methods", {}), **pb.get("methods", {})},
                "runs": pa.get("runs", []) + pb.get("runs", []),
            },
        )
        write_text_atomic(out / "summary.md", markdown)
        plot_summary(ledger, out / "summary.png")
    return Comparison(markdown, ledger, out)
