"""Objective registry, presets and compositions through ``molssl pretrain``."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
from _pretrain_helpers import TINY
from torch import Tensor, nn
from torch_geometric.data import Batch

from molssl.cli import main
from molssl.contrastive.config import ConfigError, apply_overrides
from molssl.contrastive.io.checkpoint import load_checkpoint
from molssl.models.pretrained import load_pretrained
from molssl.objectives import OBJECTIVES, ObjectiveConfig, build_objective, register_objective
from molssl.pretrain import PretrainConfig

SMALL = ["--set", "data.limit=52", "--set", "data.valid_size=0.1", "--batch-size", "16"]
COMPOSED = [
    "--set",
    "objective.name=imolclr+attrmask+descriptors",
    "--set",
    "objective.weights=1,1,0.5",
]


def _pretrain(data: Path, out: Path, *extra: str) -> int:
    argv = ["pretrain", "--data", str(data), "--out", str(out), "--epochs", "6"]
    return main([*argv, *TINY, "--set", "trainer.log_every=1", *SMALL, *extra])


def _train_rows(out: Path) -> list[dict[str, str]]:
    with open(out / "metrics.csv", newline="") as fh:
        return [r for r in csv.DictReader(fh) if r["split"] == "train"]


@pytest.fixture(scope="module")
def desc_store(smiles_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store of ``smiles_file`` with fingerprints, fragments and RDKit descriptors."""
    from molssl.featurize import MolGraphFeaturizer
    from molssl.store import build_graph_store

    out = tmp_path_factory.mktemp("desc_store") / "store"
    featurizer = MolGraphFeaturizer(fingerprint=True, fragments=True, descriptors=True)
    build_graph_store(smiles_file, out, featurizer=featurizer, progress=False)
    return out


def test_moco_preset_temperature_is_0_2_via_set() -> None:
    cfg = apply_overrides(PretrainConfig(), {"objective.name": "moco"})
    assert cfg.objective.temperature is None and cfg.objective.value("temperature") == 0.2
    assert build_objective(cfg.objective).moco_loss.temperature == 0.2
    molclr = build_objective(apply_overrides(PretrainConfig(), {}).objective)
    assert molclr.loss.temperature == 0.1
    effective = cfg.objective.effective()
    assert effective["terms"] == {"moco": 1.0} and effective["temperature"] == 0.2
    assert effective["moco"] == {"queue_size": 4096} and "attrmask" not in effective


class _Centering:
    """A two-view objective defined only in this file: pull both views' projections together."""

    encoder_prefix = ""

    def __init__(self, augment, scale: float) -> None:
        self.augment, self.scale = augment, scale

    def build_model(self, encoder: nn.Module, *, fingerprint_bits: int | None = None) -> nn.Module:
        return encoder

    def __call__(
        self, model: nn.Module, batch: Batch, generator: torch.Generator
    ) -> tuple[Tensor, Mapping[str, float]]:
        from molssl.objectives import forward_two_views

        out, n = forward_two_views(model, self.augment, batch, generator)
        loss = self.scale * (out.z[:n] - out.z[n:]).pow(2).sum(-1).mean()
        return loss, {"gap": float(loss.detach())}


@dataclass
class _CenteringConfig:
    """The section ``objective.centering.*`` of the test objective."""

    scale: float = 0.5

    def __post_init__(self) -> None:
        if not self.scale > 0:
            raise ConfigError(f"objective.centering.scale must be > 0, got {self.scale}")


@pytest.fixture
def centering() -> Iterator[str]:
    register_objective("centering", description="test objective", config=_CenteringConfig)(
        lambda config, augment: _Centering(augment, config.section("centering").scale)
    )
    yield "centering"
    del OBJECTIVES["centering"]


def test_objective_registered_in_a_test_file_runs_through_pretrain(
    centering: str, desc_store: Path, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    extra = ["--set", f"objective.name={centering}+attrmask", "--max-steps", "2"]
    assert _pretrain(desc_store, out, *extra) == 0
    rows = _train_rows(out)
    assert len(rows) == 2 and float(rows[0]["gap"]) > 0 and float(rows[0]["loss_attrmask"]) > 0
    assert float(rows[0]["loss_centering"]) == pytest.approx(float(rows[0]["gap"]))
    assert load_checkpoint(out / "last.pt")["config"]["objective"]["name"] == "centering+attrmask"


def test_objective_registered_in_a_test_file_declares_its_own_section(
    centering: str, desc_store: Path, tmp_path: Path
) -> None:
    from molssl.contrastive.config import from_dict, load_yaml

    cfg = apply_overrides(
        PretrainConfig(), {"objective.name": centering, "objective.centering.scale": "2"}
    )
    assert cfg.objective.section(centering) == _CenteringConfig(scale=2.0)
    assert build_objective(cfg.objective).scale == 2.0
    assert build_objective(ObjectiveConfig(name=centering)).scale == 0.5  # the default
    path = tmp_path / "centering.yaml"
    path.write_text("objective:\n  name: centering+attrmask\n  centering:\n    scale: 3\n")
    assert load_yaml(PretrainConfig, path).objective.section(centering).scale == 3.0
    for bad, message in (({"scal": 1}, "did you mean 'scale'"), ({"scale": 0}, "must be > 0")):
        with pytest.raises(ConfigError, match=message) as err:
            from_dict(ObjectiveConfig, {"name": centering, centering: bad}, where="objective")
        assert "objective.centering" in str(err.value) and "\n" not in str(err.value)

    out = tmp_path / "run"
    extra = ["--set", f"objective.name={centering}", "--set", "objective.centering.scale=4"]
    assert _pretrain(desc_store, out, *extra, "--max-steps", "1") == 0
    saved = load_checkpoint(out / "last.pt")["config"]["objective"]
    assert saved["centering"] == {"scale": 4.0} and "sections" not in saved


def test_objective_sections_read_the_old_flat_keys() -> None:
    from molssl.contrastive.config import from_dict, to_dict

    moco = from_dict(ObjectiveConfig, {"name": "moco", "queue_size": 24}, where="objective")
    assert moco.moco.queue_size == 24 and moco.queue_size is None
    assert build_objective(moco).queue_size == 24
    byol = from_dict(ObjectiveConfig, {"name": "byol", "predictor_hidden": 64}, where="objective")
    assert byol.byol.predictor_hidden == 64 and build_objective(byol).predictor_hidden == 64
    saved = to_dict(moco)
    assert saved["moco"] == {"queue_size": 24} and saved["queue_size"] is None
    assert from_dict(ObjectiveConfig, saved) == moco  # a saved config reads back the same
    new = apply_overrides(PretrainConfig(), {"objective.moco.queue_size": "24"}).objective
    old = apply_overrides(PretrainConfig(), {"objective.queue_size": "24"}).objective
    assert new == old
    with pytest.raises(ConfigError, match="old name of objective.moco.queue_size") as err:
        from_dict(ObjectiveConfig, {"queue_size": 24, "moco": {"queue_size": 32}})
    assert "\n" not in str(err.value)
    with pytest.raises(ConfigError, match="objective.moco.queue_size must be >= 1"):
        from_dict(ObjectiveConfig, {"name": "moco", "moco": {"queue_size": 0}})


def test_composed_objectives_log_terms_and_checkpoint_loads_as_encoder(
    desc_store: Path, tmp_path: Path
) -> None:
    out = tmp_path / "composed"
    assert _pretrain(desc_store, out, *COMPOSED, "--max-steps", "3") == 0
    rows = _train_rows(out)
    for key in ("loss_imolclr", "loss_attrmask", "loss_descriptors", "loss_fragment"):
        assert all(float(r[key]) > 0 for r in rows), key
    first = rows[0]
    weighted = (
        float(first["loss_imolclr"])
        + float(first["loss_attrmask"])
        + 0.5 * float(first["loss_descriptors"])
    )
    assert float(first["loss"]) == pytest.approx(weighted, rel=1e-5)
    info = json.loads((out / "run_info.json").read_text())["objective"]
    assert info["terms"] == {"imolclr": 1.0, "attrmask": 1.0, "descriptors": 0.5}
    assert (info["temperature"], info["lambda_1"], info["lambda_2"]) == (0.1, 0.5, 0.5)
    assert info["attrmask"] == {"mask_rate": 0.15} and info["descriptors"] == {"hidden": 512}
    ckpt = load_checkpoint(out / "last.pt")
    assert ckpt["encoder_prefix"] == "primary."
    assert ckpt["objective_weights"] == [1.0, 1.0, 0.5]
    scale = ckpt["state_dict"]["heads.descriptors.scale"]
    assert scale.tolist() == pytest.approx(ckpt["descriptors"]["scale"]) and (scale > 0).all()
    loaded = load_pretrained(out / "last.pt")
    assert not loaded.missing_keys and not loaded.unexpected_keys
    assert not loaded.featurizer.descriptors and not loaded.featurizer.fingerprint
    torch.testing.assert_close(
        loaded.encoder.state_dict()["feat_lin.weight"],
        ckpt["state_dict"]["primary.feat_lin.weight"],
    )


def test_composed_objectives_resume_exactly(desc_store: Path, tmp_path: Path) -> None:
    """Interrupted (2 + 3 steps, inside an epoch) == uninterrupted, with moco + pretext terms."""
    extra = [*COMPOSED[:1], "objective.name=moco+attrmask+descriptors", *COMPOSED[2:]]
    extra += ["--set", "objective.moco.queue_size=24"]
    straight, split = tmp_path / "straight", tmp_path / "split"
    assert _pretrain(desc_store, straight, *extra, "--max-steps", "5") == 0
    assert _pretrain(desc_store, split, *extra, "--max-steps", "2") == 0
    assert _pretrain(desc_store, split, *extra, "--max-steps", "5", "--resume") == 0
    a, b = load_checkpoint(straight / "last.pt"), load_checkpoint(split / "last.pt")
    assert a["step"] == b["step"] == 5 and a["encoder_prefix"] == "primary.online."
    assert a["state_dict"].keys() == b["state_dict"].keys()
    assert (
        "primary.queue.queue" in a["state_dict"] and "heads.attrmask.atom.weight" in a["state_dict"]
    )
    for key, value in a["state_dict"].items():
        torch.testing.assert_close(b["state_dict"][key], value, atol=1e-5, rtol=0, msg=key)
    assert load_pretrained(straight / "last.pt").unexpected_keys == []


def test_descriptors_on_a_store_without_them_is_one_line(
    store_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    extra = ["--set", "objective.name=descriptors", "--max-steps", "1"]
    assert _pretrain(store_dir, tmp_path / "x", *extra) == 2
    err = capsys.readouterr().err.strip()
    assert "built without them" in err and "descriptors=True" in err and "\n" not in err


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"name": "molclr+moco"}, "two two-view objectives"),
        ({"name": "imolclr+attrmask", "weights": "1"}, "1 values for the 2 terms"),
        ({"name": "imolclr+attrmask", "weights": "1,x"}, "one number per term"),
        ({"name": "attrmask+atrmask"}, "did you mean 'attrmask'"),
        ({"name": "attrmask", "attrmask": {"mask_rate": 0}}, "mask_rate must be in"),
    ],
)
def test_bad_compositions_fail_with_one_line(settings: dict, message: str) -> None:
    from molssl.contrastive.config import from_dict

    with pytest.raises(ConfigError, match=message) as err:
        from_dict(ObjectiveConfig, settings, where="objective")
    assert "\n" not in str(err.value)


def test_featurize_descriptors_flag_builds_a_store_descriptors_can_train_on(
    smiles_file: Path, tmp_path: Path
) -> None:
    from molssl.featurize.descriptors import NUM_DESCRIPTORS
    from molssl.store import GraphStore

    plain, with_desc = tmp_path / "plain", tmp_path / "desc"
    assert main(["featurize", str(smiles_file), "-o", str(plain)]) == 0
    assert main(["featurize", str(smiles_file), "-o", str(with_desc), "--descriptors"]) == 0
    assert "descriptors" not in GraphStore(plain).featurizer_config
    store = GraphStore(with_desc)
    assert store.featurizer_config["descriptors"] is True
    assert store.featurizer_config["fingerprint"] is True  # the default extras stay on
    desc = store.per_molecule("desc")
    assert desc.shape == (len(store), NUM_DESCRIPTORS) and np.isfinite(desc[:, 0]).all()
    extra = ["--set", "objective.name=molclr+descriptors", "--max-steps", "1"]
    assert _pretrain(with_desc, tmp_path / "run", *extra) == 0
    assert float(_train_rows(tmp_path / "run")[0]["loss_descriptors"]) > 0
