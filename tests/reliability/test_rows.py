"""Every input line is a row: output row ``i`` is input line ``i`` in every format.

Today's attacks: blank lines in ``.smi`` input vanished, so ``molssl embed`` output no longer
lined up with the file after the first blank; a UTF-8 byte-order mark turned a CSV header into
data; a CSV without a column named like SMILES was read from column 0 and "succeeded" with 100%
failures; a killed ``embed`` left a truncated output where the previous one was.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from _store_helpers import head_smiles, tiny_checkpoint

import molssl.embed
from molssl.cli import main
from molssl.data import DataFormatError, SmilesSource
from molssl.store import GraphStore, StoreError, build_graph_store


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_checkpoint(tmp_path_factory.mktemp("ckpt"))


def _failures(path: Path) -> dict[int, str]:
    with open(path, newline="") as fh:
        return {int(r["row"]): r["reason"] for r in csv.DictReader(fh)}


LINES = [*head_smiles(3), "", *head_smiles(6)[3:], "", "   ", head_smiles(7)[-1]]


@pytest.mark.parametrize("suffix", [".smi", ".txt", ".csv"])
def test_blank_lines_are_rows_of_the_store(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"corpus{suffix}"
    header = "smiles\n" if suffix == ".csv" else ""
    path.write_text(header + "\n".join(LINES) + "\n")
    store = build_graph_store(path, tmp_path / "S", progress=False)
    blank = [i for i, line in enumerate(LINES) if not line.strip()]
    assert _failures(tmp_path / "S" / "failures.csv") == {i: "empty SMILES" for i in blank}
    assert [store[i].row for i in range(len(store))] == [
        i for i in range(len(LINES)) if i not in blank
    ]
    assert store.meta["rows_done"] == len(LINES)


def test_embed_output_row_is_input_line(checkpoint: Path, tmp_path: Path) -> None:
    path = tmp_path / "input.smi"
    path.write_text("\n".join(LINES) + "\n")
    out = tmp_path / "emb.npy"
    argv = ["embed", "--checkpoint", str(checkpoint), "--input", str(path), "-o", str(out)]
    assert main(argv) == 0
    h = np.load(out)
    assert h.shape[0] == len(LINES)
    blank = [i for i, line in enumerate(LINES) if not line.strip()]
    assert np.isnan(h[blank]).all() and not np.isnan(np.delete(h, blank, axis=0)).any()
    assert _failures(out.with_name("emb.npy.failures.csv")) == {i: "empty SMILES" for i in blank}
    # row i of the output is the embedding of line i alone
    single = tmp_path / "one.smi"
    single.write_text(LINES[5] + "\n")
    assert main([*argv[:4], str(single), "-o", str(tmp_path / "one.npy")]) == 0
    np.testing.assert_allclose(np.load(tmp_path / "one.npy")[0], h[5], atol=1e-6)


def test_byte_order_mark_in_csv_header(tmp_path: Path) -> None:
    path = tmp_path / "bom.csv"
    path.write_bytes(b"\xef\xbb\xbfsmiles,name\nCCO,ethanol\nc1ccccc1,benzene\n")
    assert list(SmilesSource(path)) == [(0, "CCO"), (1, "c1ccccc1")]
    assert len(build_graph_store(path, tmp_path / "S", progress=False)) == 2


def test_no_smiles_column_is_refused_listing_the_columns(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "data.csv"
    path.write_text("compound,structure\na,CCO\nb,CCN\n")
    with pytest.raises(DataFormatError, match=r"\['compound', 'structure'\]"):
        list(SmilesSource(path))
    assert main(["featurize", str(path), "-o", str(tmp_path / "S")]) == 2
    err = capsys.readouterr().err.strip()
    assert "structure" in err and "--smiles-col" in err and len(err.splitlines()) == 1
    assert main(["featurize", str(path), "-o", str(tmp_path / "S2"), "--smiles-col", "1"]) == 0
    assert len(GraphStore(tmp_path / "S2")) == 2  # header "compound,structure" is a failure row


def test_a_run_where_every_row_fails_exits_nonzero(
    checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "names.csv"
    path.write_text("smiles,value\nethanol,1\nbenzene,2\n")
    with pytest.raises(StoreError, match="every one of the 2 rows"):
        build_graph_store(path, tmp_path / "S", progress=False)
    assert main(["featurize", str(path), "-o", str(tmp_path / "S3")]) == 2
    assert "every one of the 2 rows" in capsys.readouterr().err
    out = tmp_path / "emb.csv"
    argv = ["embed", "--checkpoint", str(checkpoint), "--input", str(path), "-o", str(out)]
    assert main(argv) == 2
    assert "every one of the 2 rows" in capsys.readouterr().err
    assert len(_failures(out.with_name("emb.csv.failures.csv"))) == 2  # still listed


def test_embed_outputs_are_written_atomically(
    checkpoint: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "input.smi"
    path.write_text("\n".join(head_smiles(20)) + "\n")
    out = tmp_path / "emb.csv"
    argv = ["embed", "--checkpoint", str(checkpoint), "--input", str(path), "-o", str(out)]
    assert main(argv) == 0
    before = out.read_bytes(), out.with_name("emb.csv.failures.csv").read_bytes()
    monkeypatch.setattr(molssl.embed, "_CHUNK", 5)
    real = molssl.embed._embedded_blocks
    calls = []

    def crash_on_third_block(*args, **kwargs):
        for block in real(*args, **kwargs):
            calls.append(1)
            if len(calls) == 3:
                raise KeyboardInterrupt("simulated kill")
            yield block

    monkeypatch.setattr(molssl.embed, "_embedded_blocks", crash_on_third_block)
    assert main([*argv, "--batch-size", "4"]) != 0  # the CLI reports "interrupted"
    assert len(calls) == 3
    assert (out.read_bytes(), out.with_name("emb.csv.failures.csv").read_bytes()) == before
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_atomic_text_writes_keep_the_old_file_on_error(tmp_path: Path) -> None:
    from molssl.contrastive.io.atomic import atomic_path

    target = tmp_path / "result.json"
    target.write_text('{"old": true}')
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text('{"new": ')
        raise RuntimeError("disk full")
    assert target.read_text() == '{"old": true}' and list(tmp_path.iterdir()) == [target]


@pytest.mark.parametrize("suffix", [".smi", ".csv"])
def test_predict_input_keeps_blank_lines_as_rows(tmp_path: Path, suffix: str) -> None:
    from molssl.finetune.predictor import read_table

    path = tmp_path / f"input{suffix}"
    header = "smiles,name\n" if suffix == ".csv" else ""
    path.write_bytes(("\ufeff" + header + "CCO,a\n\nc1ccccc1,b\n").encode())
    frame = read_table(path)
    if suffix == ".smi":
        frame = frame.assign(smiles=frame["smiles"].str.split(",").str[0])
    assert frame["smiles"].fillna("").tolist() == ["CCO", "", "c1ccccc1"]


def _csv_with_a_huge_cell(path: Path) -> Path:
    """3 rows; row 1's SMILES cell and row 2's note cell hold 200,000 characters each."""
    rows = [["smiles", "note"], ["CCO", "a"], ["C" * 200_000, "b"], ["c1ccccc1", "x" * 200_000]]
    with open(path, "w", newline="") as fh:
        csv.writer(fh).writerows(rows)
    return path


def test_featurize_reads_csv_cells_over_the_csv_default_limit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _csv_with_a_huge_cell(tmp_path / "big.csv")
    assert main(["featurize", str(path), "-o", str(tmp_path / "S")]) == 0
    assert "Traceback" not in capsys.readouterr().err
    store = GraphStore(tmp_path / "S")
    assert [store[i].row for i in range(len(store))] == [0, 2]
    (reason,) = _failures(tmp_path / "S" / "failures.csv").values()
    assert list(_failures(tmp_path / "S" / "failures.csv")) == [1] and "max_length" in reason


def test_embed_reads_csv_cells_over_the_csv_default_limit(checkpoint: Path, tmp_path: Path) -> None:
    path = _csv_with_a_huge_cell(tmp_path / "big.csv")
    out = tmp_path / "emb.npy"
    argv = ["embed", "--checkpoint", str(checkpoint), "--input", str(path), "-o", str(out)]
    assert main(argv) == 0
    h = np.load(out)
    assert h.shape[0] == 3 and np.isnan(h[1]).all() and not np.isnan(h[[0, 2]]).any()
    assert list(_failures(out.with_name("emb.npy.failures.csv"))) == [1]


def test_a_csv_cell_over_the_reader_limit_is_one_line_naming_file_and_row(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from molssl.data.smiles_source import CSV_FIELD_LIMIT

    path = tmp_path / "broken.csv"
    path.write_text("smiles\nCCO\nc1ccccc1\n" + "C" * (CSV_FIELD_LIMIT + 1) + "\nCCN\n")
    with pytest.raises(DataFormatError, match=r"broken\.csv cannot be read at row 2"):
        list(SmilesSource(path))
    assert main(["featurize", str(path), "-o", str(tmp_path / "S")]) == 2
    err = capsys.readouterr().err  # besides the progress bar: the one error line
    errors = [line for line in err.splitlines() if line.strip() and "mol/s" not in line]
    assert "Traceback" not in err and len(errors) == 1
    assert errors[0].startswith("molssl featurize: error: ") and "broken.csv" in errors[0]
    assert "row 2" in errors[0]
