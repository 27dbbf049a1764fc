"""GraphPoolingTransformer: graphs of MolGraphTransformer -> vectors any estimator takes."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import Ridge
from sklearn.pipeline import make_pipeline

from molssl.featurize import GraphPoolingTransformer, MolGraphTransformer
from molssl.featurize.vocab import NUM_ATOM_TYPES, atom_type_index


def test_sum_pooling_counts_atoms_and_bonds() -> None:
    graphs = MolGraphTransformer().fit_transform(["CCO", "C"])
    pool = GraphPoolingTransformer(pooling="sum").fit(graphs)
    out = pool.transform(graphs)
    names = list(pool.get_feature_names_out())
    assert out.shape == (2, pool.n_features_out_) == (2, len(names))
    carbon, oxygen = (
        names.index(f"atom0_{atom_type_index(6)}"),
        names.index(f"atom0_{atom_type_index(8)}"),
    )
    assert out[0, carbon] == 2 and out[0, oxygen] == 1 and out[1, carbon] == 1
    assert out[0, names.index("n_atoms")] == 3 and out[0, names.index("n_bonds")] == 2
    assert out[0, names.index("bond0_0")] == 2  # two single bonds, each counted once
    assert out[1, names.index("n_bonds")] == 0


def test_mean_pooling_gives_fractions_and_nan_for_failed_rows() -> None:
    graphs = MolGraphTransformer(errors="none").fit_transform(["c1ccccc1O", "not a smiles"])
    out = GraphPoolingTransformer().fit_transform(graphs)
    types = out[0, :NUM_ATOM_TYPES]
    assert np.isclose(types.sum(), 1.0)  # atom-type fractions of phenol
    assert np.isnan(out[1]).all()


def test_a_featurizer_pipeline_feeds_a_plain_estimator(tpsa_table) -> None:
    part = tpsa_table.dropna(subset=["tpsa"]).iloc[:60]
    pipe = make_pipeline(MolGraphTransformer(), GraphPoolingTransformer(pooling="sum"), Ridge())
    pipe.fit(part["smiles"], part["tpsa"])
    assert pipe.score(part["smiles"], part["tpsa"]) > 0.5  # atom/bond counts explain TPSA
    with pytest.raises(ValueError, match="pooling"):
        GraphPoolingTransformer(pooling="median").fit([])
    rich = MolGraphTransformer(featurizer="rich").fit_transform(["CCO"])
    with pytest.raises(ValueError, match="featurizer"):
        GraphPoolingTransformer().fit(rich).transform(rich)
