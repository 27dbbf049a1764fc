"""Tests for the MoleculeNet dataset registry."""

from __future__ import annotations

import dataclasses

import pytest

from molssl.data import DATASETS, HARTREE_TO_EV, DatasetSpec, UnknownDatasetError, get_dataset_spec

CLASSIFICATION = {"bbbp", "tox21", "toxcast", "sider", "clintox", "muv", "hiv", "bace"}
RMSE = {"freesolv", "esol", "lipophilicity"}
MAE = {"qm7", "qm8", "qm9"}


def test_registry_has_all_14_moleculenet_sets_with_molclr_metrics() -> None:
    assert set(DATASETS) == CLASSIFICATION | RMSE | MAE
    for key, spec in DATASETS.items():
        assert spec.key == key
        assert spec.url.startswith("https://deepchemdata.s3-us-west-1.amazonaws.com/datasets/")
        assert spec.url.endswith(spec.files[0])
        if key in CLASSIFICATION:
            assert (spec.task_type, spec.metric) == ("classification", "roc_auc")
        else:
            assert spec.task_type == "regression"
            assert spec.metric == ("rmse" if key in RMSE else "mae")
        assert spec.default_split == ("random" if key == "qm9" else "scaffold")


def test_target_lists() -> None:
    assert DATASETS["bbbp"].targets == ("p_np",)
    assert len(DATASETS["tox21"].targets) == 12
    assert DATASETS["toxcast"].targets == () and DATASETS["toxcast"].num_targets == 617
    assert len(DATASETS["sider"].targets) == 27
    assert DATASETS["clintox"].targets == ("FDA_APPROVED", "CT_TOX")
    assert len(DATASETS["muv"].targets) == 17
    assert all(t.startswith("MUV-") for t in DATASETS["muv"].targets)
    assert DATASETS["bace"].smiles_column == "mol" and DATASETS["bace"].targets == ("Class",)
    assert DATASETS["esol"].targets == ("measured log solubility in mols per litre",)
    assert DATASETS["qm8"].targets == (
        "E1-CC2",
        "E2-CC2",
        "f1-CC2",
        "f2-CC2",
        "E1-PBE0",
        "E2-PBE0",
        "f1-PBE0",
        "f2-PBE0",
        "E1-CAM",
        "E2-CAM",
        "f1-CAM",
        "f2-CAM",
    )
    qm9 = DATASETS["qm9"]
    assert qm9.targets == ("mu", "alpha", "homo", "lumo", "gap", "r2", "zpve", "cv")
    assert dict(qm9.target_scale) == {t: HARTREE_TO_EV for t in ("homo", "lumo", "gap", "zpve")}


@pytest.mark.parametrize(
    ("query", "key"),
    [
        ("BBBP", "bbbp"),
        ("tox21", "tox21"),
        (" Tox21 ", "tox21"),
        ("SAMPL", "freesolv"),
        ("freesolv", "freesolv"),
        ("Delaney", "esol"),
        ("lipo", "lipophilicity"),
        ("Lipophilicity", "lipophilicity"),
        ("QM9", "qm9"),
    ],
)
def test_lookup_is_case_insensitive_with_aliases(query: str, key: str) -> None:
    assert get_dataset_spec(query) is DATASETS[key]


def test_unknown_name_lists_valid_names() -> None:
    with pytest.raises(UnknownDatasetError) as info:
        get_dataset_spec("tox22")
    message = str(info.value)
    assert "tox22" in message
    for name in ("BBBP", "Tox21", "QM9", "Lipophilicity", "lipo", "sampl", "delaney"):
        assert name in message


def test_spec_is_frozen_hashable_and_validated() -> None:
    spec = DATASETS["qm9"]
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.name = "x"  # type: ignore[misc]
    with pytest.raises(TypeError):
        spec.target_scale["mu"] = 2.0  # type: ignore[index]
    assert len({spec, DATASETS["bbbp"]}) == 2
    with pytest.raises(ValueError, match="metric"):
        DatasetSpec(
            "x", ("x.csv",), "file:///x.csv", "smiles", ("y",), "regression", "r2", "scaffold"
        )  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="files"):
        DatasetSpec("x", (), "file:///x.csv", "smiles", ("y",), "regression", "mae", "scaffold")
