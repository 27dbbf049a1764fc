"""A user's own files and folders: every mistake in them ends in one line naming the file and the fix.

Unreadable tables, damaged records (``meta.json``, ``ensemble.json``, ``protocol.json``,
``search.json``, ``study.db``), outputs that cannot be written (under a file, on a full disk) and
out-of-range settings give exit status 2 and one stderr line, checked before the expensive work
where the mistake can be seen before it.

These tests run as root, which ignores folder permissions: an unwritable output is a path under
a regular file (``NotADirectoryError``), and a full disk is simulated by making every temporary
output file a symbolic link to ``/dev/full`` (the kernel's always-full device), or by making
``numpy.save`` fail with ``ENOSPC`` where the writer does not go through the atomic helpers.
"""

from __future__ import annotations

import errno
import gzip
import json
import os
import secrets
import shutil
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch
from _store_helpers import pretrained_store

from tests.reliability.test_cli_errors import TINY

ENCODER = "encoder={num_layers: 1, hidden_channels: 8, out_channels: 8, proj_dim: 4}"


def main(argv: list[str]) -> int:
    from molssl.cli import main as cli_main

    return cli_main(argv)


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory, tpsa_table: pd.DataFrame) -> dict[str, Path]:
    """A 40-molecule corpus and store, a 1-step pretraining run, a 1-epoch fine-tuned model."""
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("made")
    made = pretrained_store(root, TINY)
    table = root / "tpsa.csv"
    tpsa_table[["smiles", "tpsa"]].iloc[:60].to_csv(table, index=False)
    assert main([*_finetune(table), "--out", str(root / "ft")]) == 0
    molecules = root / "in.csv"
    molecules.write_text("smiles\nCCO\nc1ccccc1\n")
    return {
        **made,
        "table": table,
        "ft": root / "ft",
        "in": molecules,
    }


def _finetune(table: Path) -> list[str]:
    return [
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
        "--set",
        ENCODER,
    ]


def _pretrain(store: Path, out: Path) -> list[str]:
    return [
        "pretrain",
        "--data",
        str(store),
        "--out",
        str(out),
        "--device",
        "cpu",
        "--batch-size",
        "8",
        *TINY,
    ]


def assert_one_line(capsys, argv: list[str], *expected: str) -> str:
    """``molssl ARGV`` exits with 2 and one stderr line (log lines aside) holding ``expected``."""
    from molssl.cli import main as cli_main

    try:
        code = cli_main(argv)
    except SystemExit as exc:
        code = exc.code
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    errors = [line for line in lines if ": error:" in line]  # beside progress bars and logging
    assert code == 2, err
    assert len(errors) == 1 and lines[-1] == errors[0] and "Traceback" not in err, err
    for text in expected:
        assert text in errors[0], errors[0]
    return errors[0]


# --- tables given to `molssl predict` ------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("latin1.csv", b"smiles,name\nCCO,caf\xe9\n", ("is not UTF-8", "iconv")),
        (
            "comment.csv",
            b"# exported by ChemDraw\nsmiles\nCCO\n",
            ("starts with a comment line", "delete the leading '#'"),
        ),
        ("empty.csv", b"", ("is empty", "header line")),
        (
            "cut.csv.gz",
            gzip.compress(b"smiles\n" + b"CCO\n" * 5000)[:60],
            ("truncated or damaged", "compress it again"),
        ),
        ("molecules.dat", b"smiles\nCCO\n", ("cannot tell the format", "--format")),
    ],
)
def test_predict_unreadable_inputs(name, content, expected, made, tmp_path, capsys) -> None:
    bad = tmp_path / name
    bad.write_bytes(content)
    argv = [
        "predict",
        "--model",
        str(made["ft"]),
        "--input",
        str(bad),
        "-o",
        str(tmp_path / "out.csv"),
    ]
    line = assert_one_line(capsys, argv, str(bad), *expected)
    assert line.startswith("molssl predict: error:")
    assert not (tmp_path / "out.csv").exists()


def test_predict_same_model_twice_is_not_an_ensemble(made, tmp_path, capsys) -> None:
    model = made["ft"] / "model.pt"
    argv = [
        "predict",
        "--model",
        str(model),
        str(made["ft"]),
        "--input",
        str(made["in"]),
        "-o",
        str(tmp_path / "out.csv"),
    ]
    assert_one_line(capsys, argv, "names", "twice", "give each one once")


def test_predict_damaged_ensemble_record(made, tmp_path, capsys) -> None:
    folder = tmp_path / "ens"
    for member in ("member-0", "member-1"):
        (folder / member).mkdir(parents=True)
        shutil.copy(made["ft"] / "model.pt", folder / member / "model.pt")
    (folder / "ensemble.json").write_text("{oops")
    argv = [
        "predict",
        "--model",
        str(folder),
        "--input",
        str(made["in"]),
        "-o",
        str(tmp_path / "out.csv"),
    ]
    assert_one_line(capsys, argv, str(folder / "ensemble.json"), "is damaged", "delete it")


# --- outputs that cannot be written ------------------------------------------------------------


def _commands(made: dict[str, Path], out: Path) -> dict[str, list[str]]:
    """Each writing command with its output at ``out`` (a file path or a folder)."""
    return {
        "predict": [
            "predict",
            "--model",
            str(made["ft"]),
            "--input",
            str(made["in"]),
            "-o",
            str(out / "pred.csv"),
        ],
        "embed": [
            "embed",
            "--checkpoint",
            str(made["pre"] / "last.pt"),
            "--input",
            str(made["corpus"]),
            "-o",
            str(out / "emb.npy"),
        ],
        "featurize": ["featurize", str(made["corpus"]), "-o", str(out / "store")],
        "pretrain": _pretrain(made["store"], out / "run"),
        "finetune": [*_finetune(made["table"]), "--out", str(out / "run")],
    }


@pytest.mark.parametrize("command", ["predict", "embed", "featurize", "pretrain", "finetune"])
def test_output_under_a_file_is_refused_before_work(command, made, tmp_path, capsys) -> None:
    blocker = tmp_path / "results"  # a file where the output folder was meant to be
    blocker.write_text("not a folder")
    argv = _commands(made, blocker)[command]
    line = assert_one_line(capsys, argv, f"{blocker} is a file, not a folder", "choose another")
    assert line.startswith(f"molssl {command}: error:")
    assert blocker.read_text() == "not a folder"


@pytest.fixture
def full_disk(monkeypatch: pytest.MonkeyPatch):
    """Every temporary output file is a link to ``/dev/full``: its writes fail with ENOSPC."""
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full on this system")
    from molssl.contrastive.io import atomic

    def temp_on_full_disk(path, suffix=".tmp"):
        path = Path(path)
        name = path.parent / f".{path.name}.{secrets.token_hex(6)}{suffix}"
        os.symlink("/dev/full", name)
        return os.open(name, os.O_WRONLY), str(name)

    original = atomic.create_temp_beside
    for module in list(sys.modules.values()):
        if getattr(module, "create_temp_beside", None) is original:
            monkeypatch.setattr(module, "create_temp_beside", temp_on_full_disk)


@pytest.mark.parametrize("command", ["predict", "embed", "pretrain", "finetune"])
def test_full_disk_is_one_line(command, made, tmp_path, capsys, full_disk) -> None:
    argv = _commands(made, tmp_path)[command]
    line = assert_one_line(capsys, argv, "No space left on device", "free disk space")
    assert str(tmp_path) in line
    leftovers = [p.name for p in tmp_path.rglob(".*.tmp")]
    assert leftovers == [], leftovers


def test_full_disk_while_featurizing(made, tmp_path, capsys, monkeypatch) -> None:
    import numpy as np

    def no_space(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(np, "save", no_space)
    argv = ["featurize", str(made["corpus"]), "-o", str(tmp_path / "store")]
    assert_one_line(capsys, argv, f"cannot write {tmp_path / 'store'}", "free disk space")


def test_full_disk_is_seen_before_work(made, tmp_path, capsys, monkeypatch) -> None:
    real = os.statvfs

    def full(path):
        stats = real(path)
        values = list(stats)
        values[4] = 0  # f_bavail
        return os.statvfs_result(values)

    monkeypatch.setattr(os, "statvfs", full)
    argv = _pretrain(made["store"], tmp_path / "run")
    assert_one_line(capsys, argv, f"cannot write {tmp_path}", "No space left on device")
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("command", ["predict", "embed", "featurize", "pretrain", "finetune"])
def test_read_only_output_folder_is_refused_before_work(
    command, made, tmp_path, capsys, monkeypatch
) -> None:
    """A folder without write permission (``chmod 555``); root ignores it, so there the
    permission check itself is made to answer no."""
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o555)
    if os.geteuid() == 0:
        real = os.access
        monkeypatch.setattr(os, "access", lambda p, mode, **kw: Path(p) != folder and real(p, mode))
    try:
        argv = _commands(made, folder)[command]
        assert_one_line(
            capsys,
            argv,
            f"cannot write {folder}: Permission denied",
            "choose a folder you can write to",
        )
        assert list(folder.iterdir()) == []
    finally:
        folder.chmod(0o755)


def test_read_only_file_system_is_refused_before_work(made, tmp_path, capsys, monkeypatch) -> None:
    real = os.statvfs

    def read_only(path):
        values = list(real(path))
        values[8] |= os.ST_RDONLY  # f_flag
        return os.statvfs_result(values)

    monkeypatch.setattr(os, "statvfs", read_only)
    argv = _commands(made, tmp_path)["predict"]
    assert_one_line(
        capsys, argv, f"cannot write {tmp_path}", "Read-only file system", "write to another disk"
    )


def test_unreadable_input_is_not_blamed_on_the_output() -> None:
    import argparse

    from molssl.contrastive.commands import describe_os_error

    args = argparse.Namespace(output="out/pred.csv")
    denied = PermissionError(errno.EACCES, "Permission denied", "data/in.csv")
    assert describe_os_error(denied, args) == (
        "cannot open data/in.csv: Permission denied; check its permissions"
    )
    denied = PermissionError(errno.EACCES, "Permission denied", "out/.pred.csv.0a1b2c3d4e5f.tmp")
    assert "choose a folder you can write to" in describe_os_error(denied, args)


# --- damaged records -----------------------------------------------------------------------------


def test_damaged_store_meta(made, tmp_path, capsys) -> None:
    store = tmp_path / "store"
    shutil.copytree(made["store"], store)
    (store / "meta.json").write_text('{"complete": true, "shards": [')
    argv = _pretrain(store, tmp_path / "run")
    assert_one_line(capsys, argv, f"{store / 'meta.json'} is damaged", "molssl featurize")
    assert not (tmp_path / "run" / "last.pt").exists()


def test_edited_shard_size(made, tmp_path, capsys) -> None:
    store = tmp_path / "store"
    shutil.copytree(made["store"], store)
    meta = json.loads((store / "meta.json").read_text())
    meta["shards"][0]["size"] += 5
    (store / "meta.json").write_text(json.dumps(meta))
    argv = _pretrain(store, tmp_path / "run")
    assert_one_line(capsys, argv, f"the graph store {store} is damaged", "do not describe")
    assert not (tmp_path / "run" / "last.pt").exists()


def test_damaged_protocol_record(made, tmp_path, capsys) -> None:
    out = tmp_path / "bench"
    out.mkdir()
    (out / "protocol.json").write_text("[1, 2")
    argv = [
        "benchmark",
        "--csv",
        str(made["table"]),
        "--targets",
        "tpsa",
        "--task-type",
        "regression",
        "--methods",
        "ecfp-rf",
        "--seeds",
        "0",
        "--out",
        str(out),
    ]
    assert_one_line(capsys, argv, f"{out / 'protocol.json'} is damaged", "delete it")
    assert not (out / "results.csv").exists()


def test_damaged_search_record_is_refused_before_the_trials(made, tmp_path, capsys) -> None:
    pytest.importorskip("optuna")
    out = tmp_path / "run"
    out.mkdir()
    (out / "search.json").write_text("{not json")
    argv = [*_finetune(made["table"]), "--out", str(out), "--search", "1"]
    assert_one_line(capsys, argv, f"{out / 'search.json'} is damaged", "delete it")
    assert not (out / "study.db").exists()


def test_damaged_study_database(made, tmp_path, capsys) -> None:
    pytest.importorskip("optuna")
    out = tmp_path / "run"
    out.mkdir()
    (out / "study.db").write_bytes(b"this is not an SQLite database" * 50)
    argv = [*_finetune(made["table"]), "--out", str(out), "--search", "1"]
    assert_one_line(capsys, argv, f"{out / 'study.db'} is not a readable Optuna study", "delete it")


# --- settings --------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["0", "-2"])
def test_search_needs_a_trial(value, made, tmp_path, capsys) -> None:
    argv = [*_finetune(made["table"]), "--out", str(tmp_path / "run"), "--search", value]
    assert_one_line(capsys, argv, "--search", "an integer >= 1")


def test_seeds_must_be_integers(made, tmp_path, capsys) -> None:
    argv = [
        "benchmark",
        "--csv",
        str(made["table"]),
        "--targets",
        "tpsa",
        "--seeds",
        "a,b",
        "--out",
        str(tmp_path / "b"),
    ]
    assert_one_line(capsys, argv, "--seeds 'a,b'", "e.g. --seeds 0,1,2")
    assert not (tmp_path / "b").exists()


def test_embed_output_suffix(made, tmp_path, capsys) -> None:
    argv = [
        "embed",
        "--checkpoint",
        str(made["pre"] / "last.pt"),
        "--input",
        str(made["corpus"]),
        "-o",
        str(tmp_path / "x.txt"),
    ]
    assert_one_line(capsys, argv, "x.txt", ".npy", str(tmp_path / "x.npy"))


@pytest.mark.parametrize("command", ["pretrain", "finetune"])
def test_config_folder(command, tmp_path, capsys) -> None:
    (tmp_path / "molclr.yaml").write_text("{}\n")
    assert_one_line(
        capsys,
        [command, "--config", str(tmp_path)],
        f"--config {tmp_path} is a folder",
        str(tmp_path / "molclr.yaml"),
    )


def test_valid_size_out_of_range_before_building_a_store(made, tmp_path, capsys) -> None:
    argv = [
        "pretrain",
        "--data",
        str(made["corpus"]),
        "--out",
        str(tmp_path / "run"),
        "--batch-size",
        "8",
        "--set",
        "data.valid_size=1.5",
        *TINY,
    ]
    assert_one_line(capsys, argv, "data.valid_size", "[0, 1)", "1.5")
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    "extra", [["--lr", "inf"], ["--set", "trainer.lr=inf"], ["--set", "trainer.lr=.nan"]]
)
def test_learning_rate_must_be_finite(extra, made, tmp_path, capsys) -> None:
    argv = [*_pretrain(made["store"], tmp_path / "run"), *extra]
    assert_one_line(capsys, argv, "finite")
    assert not (tmp_path / "run" / "last.pt").exists()


def test_finetune_learning_rate_must_be_finite(made, tmp_path, capsys) -> None:
    argv = [*_finetune(made["table"]), "--out", str(tmp_path / "run"), "--set", "head_lr=inf"]
    assert_one_line(capsys, argv, "head_lr must be a finite number > 0")


# --- weights named with the wrong kind --------------------------------------------------------------


def test_molclr_kind_on_a_molssl_checkpoint(made, tmp_path, capsys) -> None:
    ckpt = made["pre"] / "last.pt"
    argv = [
        *_finetune(made["table"]),
        "--out",
        str(tmp_path / "run"),
        "--init",
        f"molclr-gcn:{ckpt}",
    ]
    assert_one_line(capsys, argv, f"{ckpt} is a molssl checkpoint", f"write ckpt:{ckpt}")


def test_ckpt_kind_on_released_weights(made, tmp_path, capsys) -> None:
    plain = tmp_path / "model.pth"
    torch.save({"gnns.0.mlp.0.weight": torch.zeros(2, 2)}, plain)
    argv = [
        "embed",
        "--checkpoint",
        str(plain),
        "--input",
        str(made["corpus"]),
        "-o",
        str(tmp_path / "e.npy"),
    ]
    assert_one_line(capsys, argv, f"molclr-gcn:{plain}", f"molclr-gin:{plain}")


def test_checkpoint_folder_names_its_files(made, tmp_path, capsys) -> None:
    argv = [
        "embed",
        "--checkpoint",
        str(made["pre"]),
        "--input",
        str(made["corpus"]),
        "-o",
        str(tmp_path / "e.npy"),
    ]
    assert_one_line(capsys, argv, f"{made['pre']} is a folder", str(made["pre"] / "last.pt"))


def test_damaged_fine_tuned_model_hint_names_no_missing_file(made, tmp_path, capsys) -> None:
    folder = tmp_path / "ft"
    folder.mkdir()
    (folder / "model.pt").write_bytes(b"garbage" * 10)
    argv = [
        "predict",
        "--model",
        str(folder),
        "--input",
        str(made["in"]),
        "-o",
        str(tmp_path / "o.csv"),
    ]
    line = assert_one_line(capsys, argv, str(folder / "model.pt"))
    assert "best.pt" not in line, line
