"""featurize_many: bad rows reported with their index, order kept, workers agree."""

from __future__ import annotations

import logging
import pickle
import subprocess
import sys

import pandas as pd
import pytest
import torch

from molssl.featurize import (
    FeaturizeResult,
    MolGraphFeaturizer,
    RichGraphFeaturizer,
    SmilesFailure,
    featurize_many,
)

ROWS = [
    "CCO",
    "C1CC",
    "c1ccccc1",
    None,
    "[Na+].[Cl-]",
    "",
    float("nan"),
    "Xx",
    "F/C=C/F",
    "   ",
    "C" * 20_000,
    "*C(=O)O",
    "C[C@H](N)C(=O)O",
] * 3
GOOD = [
    i
    for i, s in enumerate(ROWS)
    if s in {"CCO", "c1ccccc1", "[Na+].[Cl-]", "F/C=C/F", "*C(=O)O", "C[C@H](N)C(=O)O"}
]


def _same(a: FeaturizeResult, b: FeaturizeResult) -> None:
    assert a.indices == b.indices
    assert a.failures == b.failures
    for left, right in zip(a.graphs, b.graphs, strict=True):
        assert left.keys() == right.keys()
        for key in left.keys():
            if isinstance(left[key], torch.Tensor):
                assert torch.equal(left[key], right[key]), key
            else:
                assert left[key] == right[key], key


def test_bad_rows_are_reported_in_order(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="molssl.featurize.batch"):
        result = featurize_many(ROWS, chunksize=4)
    assert isinstance(result, FeaturizeResult)
    assert result.indices == GOOD
    assert [g.smiles for g in result.graphs] == [ROWS[i].strip() for i in GOOD]
    assert [f.index for f in result.failures] == [i for i in range(len(ROWS)) if i not in GOOD]
    assert all(isinstance(f, SmilesFailure) and f.reason for f in result.failures)
    by_index = {f.index: f for f in result.failures}
    assert by_index[1].smiles == "C1CC" and "unclosed ring" in by_index[1].reason
    assert "None" in by_index[3].reason and "NaN" in by_index[6].reason
    assert "max_length" in by_index[10].reason and len(by_index[10].smiles) < 200
    assert "21 of 39 SMILES could not be featurized" in caplog.text


def test_defaults_and_empty_input() -> None:
    result = featurize_many(pd.Series(["CCO", "CCN"]))
    assert result.indices == [0, 1] and not result.failures
    assert result.graphs[0].x.shape == (3, 2)
    assert featurize_many([]) == FeaturizeResult([], [], [])
    with pytest.raises(ValueError, match="workers"):
        featurize_many(["C"], workers=0)


@pytest.mark.distributed
def test_two_workers_equal_one_worker() -> None:
    featurizer = MolGraphFeaturizer(fingerprint=True, fragments=True)
    one = featurize_many(ROWS, featurizer, workers=1)
    two = featurize_many(ROWS, featurizer, workers=2, chunksize=5, progress=True)
    _same(one, two)
    assert two.graphs[0].fp.dtype == torch.bool


def test_featurizers_and_worker_entry_points_pickle() -> None:
    """What a spawned worker receives: featurizers and module-level functions, by pickle.

    (A real ``mp_context="spawn"`` run passes too but costs ~20 s of interpreter start-ups on a
    busy 2-core machine, too slow for the default suite.)
    """
    from molssl.featurize import engine

    for featurizer in (MolGraphFeaturizer(fingerprint=True), RichGraphFeaturizer("explicit")):
        copy = pickle.loads(pickle.dumps(featurizer))
        assert copy == featurizer
        assert torch.equal(copy("CCO").x, featurizer("CCO").x)
    assert pickle.loads(pickle.dumps(engine._worker_chunk)) is engine._worker_chunk
    assert pickle.loads(pickle.dumps(engine._init_worker)) is engine._init_worker


@pytest.mark.slow
def test_import_does_not_load_deepchem_or_sklearn() -> None:
    code = (
        "import sys, molssl.featurize as f; from molssl.featurize import *; "
        "assert f.MolGraphFeaturizer()('CCO').num_nodes == 3; "
        "bad = [m for m in ('deepchem', 'tensorflow', 'sklearn') if m in sys.modules]; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, timeout=120)
