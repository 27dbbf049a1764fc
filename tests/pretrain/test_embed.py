"""Embeddings: the ``molssl embed`` CLI, ``embed_smiles``, ``PretrainedEmbedder`` and MolCLR."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from _pretrain_helpers import BAD_ROWS, small_smiles
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from molssl.cli import main
from molssl.embed import PretrainedEmbedder, embed_file, embed_smiles, load_pretrained

BAD = {row for row, _ in BAD_ROWS}


@pytest.fixture(scope="module")
def reference(tiny_checkpoint: Path) -> np.ndarray:
    """``h`` of every row of :func:`small_smiles` (NaN rows for ``BAD_ROWS``)."""
    loaded = load_pretrained(tiny_checkpoint)
    model, featurizer = loaded.encoder, loaded.featurizer
    smiles = small_smiles()
    h, failures, kept = embed_smiles(model, featurizer, smiles, batch_size=50)
    assert sorted(f.index for f in failures) == sorted(BAD)
    assert kept == [i for i in range(len(smiles)) if i not in BAD]
    out = np.full((len(smiles), h.shape[1]), np.nan, np.float32)
    out[kept] = h
    return out


def test_load_pretrained_restores_the_trained_encoder(tiny_checkpoint: Path) -> None:
    loaded = load_pretrained(tiny_checkpoint)
    model, featurizer = loaded.encoder, loaded.featurizer
    assert not model.training
    assert model.config.hidden_channels == 32 and model.feat_lin.out_features == 32
    assert featurizer.name == "molclr" and not featurizer.fingerprint and not featurizer.fragments


def test_embed_smiles_is_batch_independent(tiny_checkpoint: Path, reference: np.ndarray) -> None:
    loaded = load_pretrained(tiny_checkpoint)
    model, featurizer = loaded.encoder, loaded.featurizer
    model.train()
    smiles = small_smiles()
    h, _, kept = embed_smiles(model, featurizer, smiles[::-1], batch_size=7)
    assert model.training  # mode restored
    back = [len(smiles) - 1 - i for i in kept]
    np.testing.assert_allclose(h, reference[back], atol=1e-5)


@pytest.mark.parametrize("suffix", [".npy", ".csv", ".parquet"])
def test_embed_cli_keeps_row_order_and_lists_failures(
    tiny_checkpoint: Path, reference: np.ndarray, tmp_path: Path, suffix: str, capsys
) -> None:
    smiles = small_smiles()
    table = pd.DataFrame({"id": range(len(smiles)), "structure": smiles})
    table.loc[10, "structure"] = ""  # an empty cell is a failure too, and keeps its row
    src = tmp_path / "input.csv.gz"
    table.to_csv(src, index=False)
    out = tmp_path / f"emb{suffix}"
    argv = ["embed", "--checkpoint", str(tiny_checkpoint), "--input", str(src), "-o", str(out)]
    assert main([*argv, "--smiles-col", "structure", "--batch-size", "64"]) == 0
    assert f"{len(smiles)} embeddings of width 32" in capsys.readouterr().out
    if suffix == ".npy":
        h = np.load(out)
    else:
        frame = pd.read_csv(out) if suffix == ".csv" else pd.read_parquet(out)
        assert frame["row"].tolist() == list(range(len(smiles)))
        assert frame["smiles"].fillna("").tolist()[:10] == smiles[:10]
        h = frame[[f"h_{i}" for i in range(32)]].to_numpy(np.float32)
    assert h.shape == (len(smiles), 32)
    expected = reference.copy()
    expected[10] = np.nan
    np.testing.assert_allclose(h, expected, atol=1e-5, equal_nan=True)
    failures = pd.read_csv(out.with_name(out.name + ".failures.csv"), keep_default_na=False)
    assert failures["row"].tolist() == sorted(BAD | {10})
    assert failures.set_index("row").loc[10, "reason"] == "empty SMILES"
    assert failures.set_index("row").loc[3, "smiles"] == "notasmiles"


def test_embed_cli_without_failures_says_so(tiny_checkpoint: Path, tmp_path: Path, capsys) -> None:
    src = tmp_path / "clean.smi"
    src.write_text("CCO\nc1ccccc1O\n")
    out = tmp_path / "emb.csv"
    assert (
        main(["embed", "--checkpoint", str(tiny_checkpoint), "--input", str(src), "-o", str(out)])
        == 0
    )
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert line.startswith("wrote 2 embeddings") and "every row embedded" in line, line
    assert "rows failed" not in line
    failures = pd.read_csv(out.with_name(out.name + ".failures.csv"))
    assert list(failures.columns[:3]) == ["row", "smiles", "reason"] and failures.empty


@pytest.mark.slow
def test_featurization_workers_change_nothing(
    tiny_checkpoint: Path, reference: np.ndarray, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """~100 SMILES with invalid and blank ones: the same h and failures with 0 or 2 workers."""
    from molssl.featurize import stream

    smiles = small_smiles()[:100]
    smiles[20], smiles[21], smiles[64] = "", "   ", "C1CC"
    loaded = load_pretrained(tiny_checkpoint)
    model, featurizer = loaded.encoder, loaded.featurizer
    serial = embed_smiles(model, featurizer, smiles, batch_size=16, workers=0)
    monkeypatch.setattr(stream, "_LOCAL_START", False)  # every batch featurized by a worker
    parallel = embed_smiles(model, featurizer, smiles, batch_size=16, workers=2)
    np.testing.assert_array_equal(serial[0], parallel[0])
    assert serial[1:] == parallel[1:]
    assert sorted(f.index for f in serial[1]) == sorted(BAD & set(range(100)) | {20, 21, 64})
    # The CLI streams the whole file through one pool, in blocks of rows.
    src = tmp_path / "input.smi"
    src.write_text("".join(f"{s or 'xx'}\n" for s in small_smiles()))
    out = tmp_path / "emb.npy"
    argv = ["embed", "--checkpoint", str(tiny_checkpoint), "--input", str(src), "-o", str(out)]
    monkeypatch.setattr("molssl.embed._CHUNK", 50)
    assert main([*argv, "--batch-size", "16", "--workers", "2"]) == 0
    np.testing.assert_allclose(np.load(out), reference, atol=1e-5, equal_nan=True)


def test_embed_file_rejects_unknown_suffix(tiny_checkpoint: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"\.npy"):
        embed_file(tiny_checkpoint, tmp_path / "x.smi", tmp_path / "out.h5")


def test_load_pretrained_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="molclr-gin:PATH"):
        load_pretrained(tmp_path / "missing.pt")
    with pytest.raises(FileNotFoundError):
        load_pretrained(f"molclr-gcn:{tmp_path / 'missing.pth'}")


def test_pretrained_embedder_in_pipeline(tiny_checkpoint: Path, reference: np.ndarray) -> None:
    smiles = [s for i, s in enumerate(small_smiles()) if i not in BAD]
    y = np.array(["N" in s for s in smiles], dtype=int)
    embedder = PretrainedEmbedder(str(tiny_checkpoint), batch_size=64)
    assert not hasattr(embedder, "_model")  # loaded lazily
    steps = [("embed", embedder), ("scale", StandardScaler())]
    pipe = Pipeline([*steps, ("clf", LogisticRegression(max_iter=1000))])
    pipe.fit(smiles, y)
    assert pipe.score(smiles, y) > 0.75 > max(y.mean(), 1 - y.mean())
    copy = clone(pipe)
    assert copy.get_params()["embed__checkpoint"] == str(tiny_checkpoint)
    restored = pickle.loads(pickle.dumps(pipe))
    np.testing.assert_array_equal(restored.predict_proba(smiles), pipe.predict_proba(smiles))
    np.testing.assert_allclose(
        embedder.transform(smiles),
        reference[[i for i in range(len(reference)) if i not in BAD]],
        atol=1e-5,
    )
    assert list(embedder.get_feature_names_out()[:2]) == ["h_0", "h_1"]


def test_pretrained_embedder_errors(tiny_checkpoint: Path) -> None:
    h = PretrainedEmbedder(tiny_checkpoint).fit_transform(["CCO", "notasmiles"])
    assert np.isfinite(h[0]).all() and np.isnan(h[1]).all()
    with pytest.raises(ValueError, match="notasmiles"):
        PretrainedEmbedder(tiny_checkpoint, errors="raise").transform(["CCO", "notasmiles"])
    with pytest.raises(ValueError, match="errors must be"):
        PretrainedEmbedder(tiny_checkpoint, errors="drop").transform(["CCO"])


def test_molclr_release_through_spec(shared_data: Path) -> None:
    """The released MolCLR GCN, loaded from ``molclr-gcn:PATH``, reproduces the authors' h."""
    ckpt = shared_data / "checkpoints" / "molclr_gcn.pth"
    ref_path = shared_data / "checkpoints" / "molclr_gcn_reference.npz"
    if not ckpt.is_file() or not ref_path.is_file():
        pytest.skip(f"{ckpt} or {ref_path.name} beside it is absent (README: Tests that skip)")
    ref = np.load(ref_path, allow_pickle=False)
    smiles = [str(s) for s in ref["smiles"][:64]]
    loaded = load_pretrained(f"molclr-gcn:{ckpt}")
    model, featurizer = loaded.encoder, loaded.featurizer
    assert model.config.conv == "gcn" and featurizer.name == "molclr"
    h, failures, kept = embed_smiles(model, featurizer, smiles, batch_size=32)
    assert not failures and kept == list(range(len(smiles)))
    np.testing.assert_allclose(h, ref["h"][:64], atol=1e-4)
    embedder = PretrainedEmbedder(f"molclr-gcn:{ckpt}")
    np.testing.assert_allclose(embedder.fit_transform(smiles[:8]), h[:8], atol=1e-4)
