"""The demo's benchmark task and its line on what the numbers mean."""

from __future__ import annotations

import pandas as pd

from molssl.demo import MOLCLR_PASSES, demo_task, meaning_line


def test_demo_tpsa_task_keeps_every_row_and_nitriles(tmp_path, monkeypatch) -> None:
    from molssl.data import read_tpsa_table

    monkeypatch.setenv("MOLSSL_OFFLINE", "1")
    monkeypatch.setenv("MOLSSL_CACHE_DIR", str(tmp_path / "empty_cache"))
    monkeypatch.delenv("MOLSSL_DATA_DIR", raising=False)
    description, fields = demo_task(tmp_path, data_dir=str(tmp_path / "nothing_here"))
    assert "TPSA" in description and fields["targets"] == ["tpsa"]
    written = pd.read_csv(fields["csv"])
    assert len(written) == len(read_tpsa_table()) == 4999
    assert written["smiles"].str.contains("C#N").sum() > 100


def test_meaning_line_states_the_budget_gap() -> None:
    line = meaning_line(300 * 128, 5)
    assert "38,400 molecule-passes" in line and f"{MOLCLR_PASSES / 38400:,.0f}x fewer" in line
    assert "5 epochs" in line and "\n" not in line


def test_demo_tpsa_description_states_the_subsample(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("MOLSSL_OFFLINE", "1")
    monkeypatch.setenv("MOLSSL_CACHE_DIR", str(tmp_path / "empty_cache"))
    monkeypatch.delenv("MOLSSL_DATA_DIR", raising=False)
    description, _ = demo_task(tmp_path, data_dir=str(tmp_path / "nothing_here"))
    assert "4,000 (the quick profile's cap) of the 4,999 molecules" in description, description


def test_demo_finds_bbbp_in_the_shared_data_folder(tmp_path, monkeypatch) -> None:
    shared = tmp_path / "shared"
    (shared / "moleculenet").mkdir(parents=True)
    (shared / "moleculenet" / "BBBP.csv").write_text("smiles,p_np\nCCO,1\n")
    monkeypatch.setenv("MOLSSL_OFFLINE", "1")
    monkeypatch.setenv("MOLSSL_CACHE_DIR", str(tmp_path / "empty_cache"))
    monkeypatch.delenv("MOLSSL_DATA_DIR", raising=False)
    monkeypatch.setenv("MOLSSL_SHARED_DATA", str(shared))
    description, fields = demo_task(tmp_path)
    assert description.startswith("BBBP") and fields["data_dir"] == str(shared / "moleculenet")


def test_demo_featurizes_the_corpus_once_and_starts_fresh(tmp_path, monkeypatch) -> None:
    """Step 1 builds the store pretraining reads; a first run does not ask to resume."""
    import molssl.featurize
    import molssl.pretrain
    from molssl.data import embedded_smiles_path
    from molssl.demo import run_demo

    corpus = tmp_path / "corpus.smi"
    corpus.write_text("".join(embedded_smiles_path().read_text().splitlines(True)[:30]))
    seen = {}

    class Stop(Exception):
        pass

    def no_second_featurization(*args, **kwargs):
        raise AssertionError("the corpus was featurized outside the store")

    def fake_pretrain(cfg):
        before = (tmp_path / "demo" / "store" / "meta.json").stat().st_mtime_ns
        molssl.pretrain.open_store(cfg.data, cfg.trainer.out_dir, progress=False)
        seen.update(
            resume=cfg.trainer.resume,
            rebuilt=(tmp_path / "demo" / "store" / "meta.json").stat().st_mtime_ns != before,
        )
        raise Stop

    monkeypatch.setattr(molssl.featurize, "featurize_many", no_second_featurization)
    monkeypatch.setattr(molssl.pretrain, "pretrain", fake_pretrain)
    lines: list[str] = []
    try:
        run_demo(tmp_path / "demo", smiles_path=corpus, report=lines.append)
    except Stop:
        pass
    assert seen == {"resume": False, "rebuilt": False}
    assert any("graphs              30" in line for line in lines), lines
