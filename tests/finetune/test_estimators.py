"""scikit-learn estimators that fine-tune an encoder, and graph pooling for any estimator."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score
from sklearn.pipeline import make_pipeline

from molssl.featurize import MolGraphTransformer
from molssl.finetune.estimators import MolPropertyClassifier, MolPropertyRegressor

TINY = {"num_layers": 2, "hidden_channels": 16, "out_channels": 16, "proj_dim": 8}


def _data(tpsa_table, n: int = 40):
    part = tpsa_table.iloc[:n]
    return part["smiles"].tolist(), part["logtpsa"].to_numpy(), part["polar"].to_numpy()


def test_regressor_in_cross_val_score_is_reproducible(tpsa_table) -> None:
    smiles, y, _ = _data(tpsa_table)
    est = MolPropertyRegressor(encoder=TINY, epochs=2, batch_size=8, head_lr=1e-2)
    cv = KFold(2, shuffle=True, random_state=0)
    scores = cross_val_score(est, smiles, y, cv=cv, scoring="neg_root_mean_squared_error")
    assert scores.shape == (2,) and np.isfinite(scores).all()
    again = cross_val_score(clone(est), smiles, y, cv=cv, scoring="neg_root_mean_squared_error")
    np.testing.assert_array_equal(scores, again)  # seeded: same folds, same models
    assert not hasattr(est, "model_")  # cross_val_score fits clones


def test_params_round_trip_and_grid_search(tpsa_table) -> None:
    smiles, _, labels = _data(tpsa_table)
    names = np.where(labels == 1, "polar", "apolar")
    est = MolPropertyClassifier(encoder=TINY, epochs=1, batch_size=8)
    assert clone(est).get_params() == est.get_params()
    assert est.set_params(epochs=2, dropout=0.1).get_params()["epochs"] == 2
    grid = GridSearchCV(est, {"head_lr": [1e-3, 1e-2]}, cv=2, scoring="roc_auc").fit(smiles, names)
    assert grid.best_params_["head_lr"] in (1e-3, 1e-2)
    proba = grid.predict_proba(smiles[:5])
    assert proba.shape == (5, 2) and np.allclose(proba.sum(axis=1), 1.0)
    assert list(grid.classes_) == ["apolar", "polar"]
    assert set(grid.predict(smiles[:5])) <= {"apolar", "polar"}


def test_graphs_from_the_featurizer_pipeline_give_the_smiles_predictions(tpsa_table) -> None:
    smiles, y, _ = _data(tpsa_table, 24)
    est = MolPropertyRegressor(encoder=TINY, epochs=1, batch_size=8).fit(smiles, y)
    pipe = make_pipeline(MolGraphTransformer(), clone(est)).fit(smiles, y)
    np.testing.assert_allclose(pipe.predict(smiles[:6]), est.predict(smiles[:6]), rtol=1e-6)
    rich = MolGraphTransformer(featurizer="rich").fit_transform(smiles[:2])
    with pytest.raises(ValueError, match="atom feature columns"):
        est.predict(rich)


def test_bad_input_is_named(tpsa_table) -> None:
    smiles, y, labels = _data(tpsa_table, 12)
    with pytest.raises(ValueError, match="row 1 'not a smiles'"):
        MolPropertyRegressor(encoder=TINY, epochs=1).fit([smiles[0], "not a smiles"], y[:2])
    with pytest.raises(ValueError, match="two classes"):
        MolPropertyClassifier(encoder=TINY, epochs=1).fit(smiles, np.arange(12))
