"""Hostile checkpoint files: every bad file is one ``CheckpointError``, never another exception.

Guards against: random files escaping ``load_checkpoint`` as ``UnicodeDecodeError`` or
``IndexError`` (about 15% of them without these checks); a bad file behind
``molclr-gcn:``/``molclr-gin:`` ending in a traceback; format versions 0 and below being
accepted; checkpoints written with mode 0600; weights that do not fit the featurizer giving a
page of ``size mismatch`` lines.
"""

from __future__ import annotations

import io
import os
import random
from pathlib import Path

import pytest
import torch

from molssl.contrastive.io.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from molssl.models import EncoderConfig, MolEncoder, load_molclr_checkpoint

SMALL = {"num_layers": 2, "hidden_channels": 8, "out_channels": 8, "proj_dim": 4}


def _random_files(seed: int, count: int) -> list[bytes]:
    """Random bytes, and random bytes behind the magic numbers torch.load dispatches on."""
    rng = random.Random(seed)
    prefixes = [b"", b"PK\x03\x04", b"\x80\x02", b"\x80\x04\x95", b"\x80\x02\x8a\x0al\xfc\x9cF"]
    return [rng.choice(prefixes) + rng.randbytes(rng.randrange(0, 2048)) for _ in range(count)]


@pytest.fixture(scope="module")
def good_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cfg = EncoderConfig(**SMALL)
    path = tmp_path_factory.mktemp("ckpt") / "good.pt"
    save_checkpoint(path, MolEncoder.from_config(cfg).state_dict(), config={"encoder": cfg})
    return path


def _load_outcome(loader, path: Path) -> str:
    try:
        loader(path)
    except CheckpointError:
        return "refused"
    return "loaded"


def test_random_files_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "random.pt"
    for data in _random_files(seed=0, count=300):
        path.write_bytes(data)
        assert _load_outcome(load_checkpoint, path) == "refused", data[:40]


def test_truncated_and_flipped_checkpoints(good_checkpoint: Path, tmp_path: Path) -> None:
    data = good_checkpoint.read_bytes()
    path = tmp_path / "bad.pt"
    for cut in range(0, len(data), max(1, len(data) // 150)):
        path.write_bytes(data[:cut])
        assert _load_outcome(load_checkpoint, path) == "refused", cut
    rng = random.Random(1)
    for _ in range(150):  # a flipped byte may land in tensor data and load: anything but a crash
        flipped = bytearray(data)
        flipped[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
        path.write_bytes(bytes(flipped))
        _load_outcome(load_checkpoint, path)


@pytest.mark.parametrize(
    "payload",
    [
        [1, 2, 3],
        torch.zeros(3),
        7,
        {"weight": torch.zeros(1)},
        {"format_version": 1, "state_dict": [torch.zeros(1)]},
        {"format_version": 0, "state_dict": {}},
        {"format_version": -3, "state_dict": {}},
        {"format_version": True, "state_dict": {}},
        {"format_version": "1", "state_dict": {}},
        {"format_version": 1.0, "state_dict": {}},
    ],
    ids=[
        "list",
        "tensor",
        "int",
        "plain-state-dict",
        "list-state-dict",
        "version-0",
        "version-negative",
        "version-bool",
        "version-str",
        "version-float",
    ],
)
def test_non_checkpoint_pt_files_are_refused(payload, tmp_path: Path) -> None:
    path = tmp_path / "other.pt"
    torch.save(payload, path)
    with pytest.raises(CheckpointError):
        load_checkpoint(path)


@pytest.mark.parametrize("umask", [0o022, 0o002, 0o077])
def test_checkpoint_mode_follows_the_umask(umask: int, tmp_path: Path) -> None:
    old = os.umask(umask)
    try:
        path = save_checkpoint(tmp_path / "c.pt", {}, config={})
        reference = tmp_path / "plain"
        reference.write_bytes(b"")
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask
    assert path.stat().st_mode & 0o777 == reference.stat().st_mode & 0o777


# ---- MolCLR's released format behind molclr-gcn: / molclr-gin: ----


def _molclr_state(conv: str) -> dict[str, torch.Tensor]:
    """A tiny encoder's weights under MolCLR's key names (``x_embedding1`` ...)."""
    state = MolEncoder.from_config(EncoderConfig(conv=conv, **SMALL)).state_dict()
    out = {}
    for key, value in state.items():
        if key.startswith("atom_encoder.embeddings."):
            key = f"x_embedding{int(key.split('.')[2]) + 1}.weight"
        elif ".bond_encoder.embeddings." in key:
            parts = key.split(".")
            key = f"gnns.{parts[1]}.edge_embedding{int(parts[4]) + 1}.weight"
        out[key] = value
    return out


def test_the_molclr_fixture_loads(tmp_path: Path) -> None:
    path = tmp_path / "model.pth"
    torch.save(_molclr_state("gcn"), path)
    encoder, report = load_molclr_checkpoint(path, arch="gcn")
    assert report.missing_keys == [] and report.config.num_layers == 2


def _mutations(state: dict[str, torch.Tensor]) -> dict[str, object]:
    def without(prefix: str) -> dict:
        return {k: v for k, v in state.items() if not k.startswith(prefix)}

    def replaced(key: str, value: object) -> dict:
        return {**state, key: value}

    return {
        "list": list(state.values()),
        "empty": {},
        "numbers": {k: 1.0 for k in state},
        "int-keys": {i: v for i, v in enumerate(state.values())},
        "no-feat-lin": without("feat_lin"),
        "no-atom-embedding": without("x_embedding1"),
        "1d-embedding": replaced("x_embedding1.weight", torch.zeros(8)),
        "scalar-feat-lin": replaced("feat_lin.weight", torch.tensor(1.0)),
        "wide-vocabulary": replaced("x_embedding1.weight", torch.zeros(500, 8)),
        "wrong-width": replaced("feat_lin.weight", torch.zeros(8, 3)),
        "layer-gap": {k.replace("gnns.1.", "gnns.7."): v for k, v in state.items()},
        "gin-not-gcn": _molclr_state("gin"),
        "nested": {"model": {"state_dict": state}},
    }


@pytest.mark.parametrize("name", list(_mutations(_molclr_state("gcn"))))
def test_bad_molclr_files_are_refused(name: str, tmp_path: Path) -> None:
    path = tmp_path / "model.pth"
    torch.save(_mutations(_molclr_state("gcn"))[name], path)
    with pytest.raises(CheckpointError):
        load_molclr_checkpoint(path, arch="gcn")


def test_random_and_truncated_molclr_files_are_refused(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    torch.save(_molclr_state("gin"), buffer)
    data = buffer.getvalue()
    cuts = [data[:cut] for cut in range(0, len(data), max(1, len(data) // 60))]
    path = tmp_path / "model.pth"
    for blob in [*_random_files(seed=2, count=100), *cuts]:
        path.write_bytes(blob)
        with pytest.raises(CheckpointError):
            load_molclr_checkpoint(path, arch="gin")


@pytest.mark.parametrize("kind", ["molclr-gcn", "molclr-gin"])
def test_embed_with_a_bad_molclr_file_is_one_line(kind: str, tmp_path: Path, capsys) -> None:
    from molssl.cli import main

    bad = tmp_path / "model.pth"
    bad.write_bytes(random.Random(3).randbytes(300))
    smi = tmp_path / "x.smi"
    smi.write_text("CCO\n")
    argv = ["embed", "--checkpoint", f"{kind}:{bad}", "--input", str(smi), "-o", "e.npy"]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("molssl embed: error:") and str(bad) in err[-1]


# ---- weights that do not fit the featurizer ----


def test_encoder_refuses_weights_of_another_featurizer() -> None:
    from molssl.featurize import RichGraphFeaturizer

    molclr = MolEncoder.from_config(EncoderConfig(**SMALL))
    rich = MolEncoder.from_config(EncoderConfig.from_featurizer(RichGraphFeaturizer(), **SMALL))
    for strict in (True, False):
        with pytest.raises(CheckpointError, match="atom_encoder.embeddings"):
            rich.load_state_dict(molclr.state_dict(), strict=strict)


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from molssl.cli import main
    from molssl.data import embedded_smiles_path

    root = tmp_path_factory.mktemp("stores")
    corpus = root / "small.smi"
    corpus.write_text("".join(embedded_smiles_path().read_text().splitlines(True)[:40]))
    for name in ("molclr", "rich"):
        assert main(["featurize", str(corpus), "-o", str(root / name), "--featurizer", name]) == 0
    return {"molclr": root / "molclr", "rich": root / "rich"}


def test_resume_with_another_featurizer_is_one_line(stores, tmp_path: Path, capsys) -> None:
    from molssl.cli import main

    tiny = [f"--set=encoder.{k}={v}" for k, v in SMALL.items()]
    common = [
        "--out",
        str(tmp_path),
        "--batch-size",
        "8",
        "--device",
        "cpu",
        *tiny,
        "--set",
        "trainer.progress=false",
    ]
    assert main(["pretrain", "--data", str(stores["molclr"]), "--max-steps", "1", *common]) == 0
    before = (tmp_path / "last.pt").read_bytes()
    argv = ["pretrain", "--data", str(stores["rich"]), "--max-steps", "2", "--resume", *common]
    assert main(argv) == 2
    line = capsys.readouterr().err.strip().splitlines()[-1]
    assert line.startswith("molssl pretrain: error: the weights in") and "do not fit" in line
    assert (tmp_path / "last.pt").read_bytes() == before  # nothing already written is lost
