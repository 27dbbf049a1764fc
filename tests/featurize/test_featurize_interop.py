"""scikit-learn and DeepChem interop."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone
from sklearn.pipeline import FunctionTransformer, Pipeline

from molssl.featurize import InvalidSmilesError, MolGraphFeaturizer, quiet_rdkit_log
from molssl.featurize.sklearn import MolGraphTransformer

SMILES = ["CCO", "c1ccccc1", "[Na+].[Cl-]"]


def _num_atoms(graphs: list) -> np.ndarray:
    return np.array([[g.num_nodes] for g in graphs])


def test_pipeline_and_fit_transform() -> None:
    pipe = Pipeline([("graphs", MolGraphTransformer()), ("size", FunctionTransformer(_num_atoms))])
    assert pipe.fit_transform(SMILES).tolist() == [[3], [6], [2]]
    graphs = MolGraphTransformer(featurizer="rich").fit(SMILES).transform(pd.Series(SMILES))
    assert [g.x.shape[1] for g in graphs] == [8, 8, 8]
    expected = MolGraphFeaturizer()("CCO")
    assert torch.equal(graphs[0].edge_index, expected.edge_index)


def test_one_column_frame_and_params() -> None:
    frame = pd.DataFrame({"smiles": SMILES})
    assert len(MolGraphTransformer().fit_transform(frame)) == 3
    with pytest.raises(ValueError, match="one SMILES column"):
        MolGraphTransformer().transform(pd.DataFrame({"a": SMILES, "b": SMILES}))
    transformer = MolGraphTransformer(hydrogens="explicit", errors="skip")
    copy = clone(transformer)
    assert copy.get_params() == transformer.get_params()
    assert copy.fit_transform(["CCO"])[0].num_nodes == 9


def test_error_modes() -> None:
    rows = ["CCO", "C1CC", None, "c1ccccc1"]
    with quiet_rdkit_log(), pytest.raises(InvalidSmilesError, match="row 1; 2 bad rows"):
        MolGraphTransformer().fit_transform(rows)
    skip = MolGraphTransformer(errors="skip")
    assert [g.smiles for g in skip.fit_transform(rows)] == ["CCO", "c1ccccc1"]
    assert skip.kept_indices_ == [0, 3]
    aligned = MolGraphTransformer(errors="none").fit_transform(rows)
    assert [g is None for g in aligned] == [False, True, True, False]
    with pytest.raises(ValueError, match="errors must be one of"):
        MolGraphTransformer(errors="ignore").fit(rows)
    with pytest.raises(KeyError, match="registered featurizers"):
        MolGraphTransformer(featurizer="nope").fit(rows)


@pytest.mark.slow
def test_deepchem_featurizer_on_three_smiles() -> None:
    try:
        import deepchem  # noqa: F401
    except ImportError as err:  # deepchem is an optional extra
        pytest.skip(
            f"deepchem is not importable ({err}); it is a dependency of molssl: "
            "pip install -c constraints.txt -e ."
        )
    from deepchem.feat import GraphData, MolecularFeaturizer

    from molssl.featurize import DeepChemMolGraphFeaturizer
    from molssl.featurize.deepchem import graph_data_to_data

    featurizer = DeepChemMolGraphFeaturizer(use_original_atoms_order=True, fingerprint=True)
    assert isinstance(featurizer, MolecularFeaturizer)
    assert "featurizer='molclr'" in repr(featurizer)
    out = featurizer.featurize(SMILES)
    assert len(out) == 3 and all(isinstance(g, GraphData) for g in out)
    for smiles, graph in zip(SMILES, out, strict=True):
        ours = MolGraphFeaturizer(fingerprint=True)(smiles)
        assert graph.node_features.shape == tuple(ours.x.shape)
        assert graph.edge_index.shape == tuple(ours.edge_index.shape)
        assert graph.edge_features.shape == tuple(ours.edge_attr.shape)
        back = graph_data_to_data(graph, smiles)
        for key in ("x", "edge_index", "edge_attr", "fp"):
            assert back[key].dtype == ours[key].dtype
            assert torch.equal(back[key], ours[key]), key
    assert out[0].to_pyg_graph().x.shape == (3, 2)
    # DeepChem's own SMILES path renumbers atoms canonically: same graph size, maybe reordered
    canonical = DeepChemMolGraphFeaturizer(featurizer="rich").featurize(SMILES)
    assert [g.node_features.shape for g in canonical] == [(3, 8), (6, 8), (2, 8)]
