"""Files a run leaves and reads again: checksummed weights, complete encoders, leftovers of a
killed write, another command's folder, torn ledger rows, a store's source edited in place."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
import torch
from _store_helpers import pretrained_store

from molssl.contrastive.io.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from tests.reliability.test_cli_errors import TINY


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A 40-molecule store and a 1-step pretraining run on it."""
    torch.set_num_threads(1)
    return pretrained_store(tmp_path_factory.mktemp("run"), TINY)


def _cli(argv: list[str], capsys) -> tuple[int, str]:
    from molssl.cli import main

    try:
        code = main(argv)
    except SystemExit as exc:
        code = exc.code
    lines = capsys.readouterr().err.strip().splitlines()
    return code, lines[-1] if lines else ""


def test_altered_weights_are_refused(run, tmp_path) -> None:
    ckpt = torch.load(run["pre"] / "last.pt", weights_only=True)
    key = next(k for k, v in ckpt["state_dict"].items() if v.is_floating_point() and v.numel())
    ckpt["state_dict"][key].view(-1)[0] += 1.0  # a flipped bit that still unpickles
    altered = tmp_path / "last.pt"
    torch.save(ckpt, altered)
    with pytest.raises(CheckpointError, match="do not match the checksum"):
        load_checkpoint(altered)
    assert load_checkpoint(run["pre"] / "last.pt")["weights_sha256"]  # the original loads


def test_encoder_missing_half_its_tensors_needs_allow_partial(run, tmp_path, capsys) -> None:
    from molssl.models.pretrained import load_pretrained

    ckpt = load_checkpoint(run["pre"] / "last.pt")
    encoder = sorted(ckpt["state_dict"])  # the encoder's tensors (no objective parameters)
    kept = {k: v for k, v in ckpt["state_dict"].items() if k not in encoder[::2]}
    extra = {
        k: v
        for k, v in ckpt.items()
        if k
        not in (
            "state_dict",
            "config",
            "format_version",
            "versions",
            "weights_sha256",
            "optimizer",
            "scheduler",
            "step",
            "epoch",
            "best_metric",
            "rng",
            "trainer",
        )
    }
    partial = tmp_path / "partial.pt"
    save_checkpoint(partial, kept, config=ckpt["config"], metadata=extra)
    with pytest.raises(CheckpointError, match="--allow-partial"):
        load_pretrained(f"ckpt:{partial}")
    loaded = load_pretrained(f"ckpt:{partial}", allow_partial=True)
    assert len(loaded.missing_keys) == len(encoder[::2])
    argv = [
        "embed",
        "--checkpoint",
        str(partial),
        "--input",
        str(run["corpus"]),
        "-o",
        str(tmp_path / "e.npy"),
    ]
    code, line = _cli(argv, capsys)
    assert code == 2 and "pass --allow-partial" in line, line
    code, _ = _cli([*argv, "--allow-partial"], capsys)
    assert code == 0 and (tmp_path / "e.npy").is_file()


def test_resume_removes_temporary_files_of_a_killed_write(run, tmp_path, capsys) -> None:
    out = tmp_path / "pre"
    shutil.copytree(run["pre"], out)
    stale = [out / ".last.pt.0123456789ab.tmp", out / ".metrics.csv.ba9876543210.tmp"]
    for path in stale:
        path.write_bytes(b"half a file")
    keep = out / ".notes.tmp"  # not a name the atomic writer makes
    keep.write_text("mine")
    argv = [
        "pretrain",
        "--data",
        str(run["store"]),
        "--out",
        str(out),
        "--device",
        "cpu",
        "--batch-size",
        "8",
        "--resume",
        *TINY[:-2],
        "--max-steps",
        "2",
    ]
    code, line = _cli(argv, capsys)
    assert code == 0, line
    assert not any(p.exists() for p in stale) and keep.read_text() == "mine"


@pytest.mark.parametrize("marker", ["model.pt", "result.json", "results.csv"])
def test_pretrain_into_another_commands_folder_is_refused(marker, run, tmp_path, capsys) -> None:
    out = tmp_path / "finetune-run"
    out.mkdir()
    (out / marker).write_bytes(b"x")
    (out / "config.yaml").write_text("task: bbbp\n")
    argv = [
        "pretrain",
        "--data",
        str(run["store"]),
        "--out",
        str(out),
        "--device",
        "cpu",
        "--batch-size",
        "8",
        *TINY,
    ]
    code, line = _cli(argv, capsys)
    assert code == 2 and f"{out} holds another kind of run ({marker}" in line, line
    assert (out / "config.yaml").read_text() == "task: bbbp\n"


def test_torn_ledger_row_is_dropped_with_the_next_append(tmp_path) -> None:
    from molssl.benchmark.ledger import append_row, read_ledger

    path = tmp_path / "results.csv"
    append_row(
        path,
        {
            "task": "esol",
            "method": "ecfp-rf",
            "seed": 0,
            "status": "ok",
            "value": 1.0,
            "config_hash": "a",
        },
    )
    text = path.read_text()
    path.write_text(text + "esol,random-init,0,scaffold,rmse,1.5\n")  # cut off while written
    assert read_ledger(path)["method"].tolist() == ["ecfp-rf"]
    frame = append_row(
        path,
        {
            "task": "esol",
            "method": "random-init",
            "seed": 0,
            "status": "ok",
            "value": 1.4,
            "config_hash": "a",
        },
    )
    assert frame["method"].tolist() == ["ecfp-rf", "random-init"]
    assert frame["value"].tolist() == [1.0, 1.4]
    assert "1.5" not in path.read_text()


def test_verify_compares_the_source_bytes(run, tmp_path, capsys) -> None:
    corpus = tmp_path / "corpus.smi"
    shutil.copy(run["corpus"], corpus)
    store = tmp_path / "store"
    code, _ = _cli(["featurize", str(corpus), "-o", str(store)], capsys)
    assert code == 0
    stat = corpus.stat()
    text = corpus.read_text()
    corpus.write_text(text.replace("C", "N", 1))  # same size
    os.utime(corpus, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # same modification time
    code, _ = _cli(["featurize", str(corpus), "-o", str(store)], capsys)
    assert code == 0  # without --verify: size and time are all that is compared
    code, line = _cli(["featurize", str(corpus), "-o", str(store), "--verify"], capsys)
    assert code == 2 and "SHA-256 differs" in line and "delete the store" in line, line


def test_finetune_resume_removes_temporary_files(tpsa_table, tmp_path, capsys) -> None:
    table = tmp_path / "tpsa.csv"
    tpsa_table[["smiles", "tpsa"]].iloc[:60].to_csv(table, index=False)
    out = tmp_path / "ft"
    argv = [
        "finetune",
        "--csv",
        str(table),
        "--targets",
        "tpsa",
        "--task-type",
        "regression",
        "--epochs",
        "1",
        "--device",
        "cpu",
        "--out",
        str(out),
        "--set",
        "encoder={num_layers: 1, hidden_channels: 8, out_channels: 8, proj_dim: 4}",
    ]
    code, _ = _cli(argv, capsys)
    assert code == 0
    stale = out / ".train_state.pt.0123456789ab.tmp"
    stale.write_bytes(b"half a file")
    code, line = _cli([*argv, "--resume"], capsys)
    assert code == 0, line
    assert not stale.exists()
