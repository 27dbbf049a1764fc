"""The generic results ledger: fixed columns, keys, atomic locked appends."""

from __future__ import annotations

from pathlib import Path

import pytest

from molssl.contrastive.io.ledger import ResultsLedger

COLUMNS = ("method", "seed", "protocol", "accuracy", "note")


def test_rows_keep_column_order_and_empty_cells(tmp_path: Path) -> None:
    ledger = ResultsLedger(tmp_path / "sub" / "results.csv", COLUMNS, ("method", "seed"))
    assert ledger.rows() == [] and not ledger.has("simclr", 0)
    ledger.append({"seed": 0, "method": "simclr", "accuracy": 0.5, "note": None})
    rows = ledger.append({"method": "simclr", "seed": 1})
    assert (tmp_path / "sub" / "results.csv").read_text().splitlines()[0] == ",".join(COLUMNS)
    assert rows[0] == {
        "method": "simclr",
        "seed": "0",
        "protocol": "",
        "accuracy": "0.5",
        "note": "",
    }
    assert ledger.keys() == {("simclr", "0"), ("simclr", "1")}
    assert ledger.has("simclr", 1) and not ledger.has("simclr", 2)
    assert ResultsLedger(ledger.path, COLUMNS, ("method", "seed")).rows() == rows


def test_unknown_columns_and_keys_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="key columns"):
        ResultsLedger(tmp_path / "r.csv", COLUMNS, ("nope",))
    ledger = ResultsLedger(tmp_path / "r.csv", COLUMNS, ("method",))
    with pytest.raises(KeyError, match="unknown r.csv column"):
        ledger.append({"bogus": 1})
    assert not ledger.path.exists()  # nothing written by the refused append


def test_a_ledger_with_new_columns_reads_an_older_file(tmp_path: Path) -> None:
    old = ResultsLedger(tmp_path / "r.csv", ("method", "seed"), ("method", "seed"))
    old.append({"method": "a", "seed": 0})
    new = ResultsLedger(tmp_path / "r.csv", COLUMNS, ("method", "seed"))
    rows = new.append({"method": "b", "seed": 1, "accuracy": 0.25})
    assert [r["method"] for r in rows] == ["a", "b"] and rows[0]["accuracy"] == ""


def test_relabel_sets_values_on_the_rows_of_one_key_only(tmp_path):
    ledger = ResultsLedger(tmp_path / "r.csv", ("task", "seed", "value"), ("task", "seed"))
    for task, seed, value in (("a", 0, 1.5), ("a", 1, 2.5), ("b", 0, 3.5), ("a", 0, 4.5)):
        ledger.append({"task": task, "seed": seed, "value": value})
    before = (tmp_path / "r.csv").stat().st_mtime_ns
    assert ledger.relabel(("c", 0), value=0) == 0
    assert (tmp_path / "r.csv").stat().st_mtime_ns == before  # nothing changed: not rewritten
    assert ledger.relabel(("a", 0), value="x") == 2
    assert [r["value"] for r in ledger.rows()] == ["x", "2.5", "3.5", "x"]
