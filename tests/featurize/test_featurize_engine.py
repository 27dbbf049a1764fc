"""featurize_chunks: ordered chunks and failures, one failure policy, no hang without a main guard."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from molssl.data import embedded_smiles_path
from molssl.featurize import MolGraphFeaturizer, featurize_chunks
from molssl.featurize.engine import Chunk, _dumps

REPO_ROOT = Path(__file__).resolve().parents[2]
ROWS = ["CCO", "C1CC", None, "", "c1ccccc1", "CCN", "Xx", "CC(=O)O", "F/C=C/F", "CCCl"]


class RaisingFeaturizer(MolGraphFeaturizer):
    """Raises an RDKit-style ``RuntimeError`` on ethylamine, as feature code can on odd molecules."""

    def __call__(self, smiles: object):  # type: ignore[override]
        if smiles == "CCN":
            raise RuntimeError("Pre-condition Violation: getNumImplicitHs() called without ...")
        return super().__call__(smiles)


def _num_atoms(graphs: list) -> list[int]:
    return [g.num_nodes for g in graphs]


def test_chunks_cover_the_input_in_order_with_their_failures() -> None:
    chunks = list(featurize_chunks(iter(ROWS), MolGraphFeaturizer(), chunk_size=4))
    assert all(isinstance(c, Chunk) for c in chunks)
    assert [(c.start, c.stop) for c in chunks] == [(0, 4), (4, 8), (8, 10)]
    assert [i for c in chunks for i in c.indices] == [0, 4, 5, 7, 8, 9]
    failures = [f for c in chunks for f in c.failures]
    assert [f.index for f in failures] == [1, 2, 3, 6]
    assert "unclosed ring" in failures[0].reason and failures[2].reason == "empty SMILES"
    graphs = [g for c in chunks for g in c.graphs]
    assert [g.smiles for g in graphs] == [ROWS[i] for i in [0, 4, 5, 7, 8, 9]]


def test_an_rdkit_error_while_featurizing_is_a_failed_row_not_an_error() -> None:
    (chunk,) = featurize_chunks(ROWS, RaisingFeaturizer(), chunk_size=len(ROWS))
    (failure,) = [f for f in chunk.failures if f.index == 5]
    assert failure.smiles == "CCN" and failure.reason.startswith("RuntimeError: Pre-condition")
    assert 5 not in chunk.indices and len(chunk.indices) == 5


def test_align_keeps_chunks_inside_blocks_and_pack_runs_per_chunk() -> None:
    chunks = list(
        featurize_chunks(ROWS, MolGraphFeaturizer(), chunk_size=4, align=6, pack=_num_atoms)
    )
    assert [(c.start, c.stop) for c in chunks] == [(0, 4), (4, 6), (6, 10)]
    assert chunks[0].graphs == [3] and chunks[1].graphs == [6, 3]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"chunk_size": 0}, "chunk_size"),
        ({"workers": -1}, "workers"),
        ({"prefetch": 0}, "prefetch"),
        ({"align": 0}, "align"),
    ],
)
def test_bad_arguments_fail_at_the_call(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        featurize_chunks(["CCO"], MolGraphFeaturizer(), **kwargs)


def test_chunks_cross_processes_with_tensors_as_numpy() -> None:
    """What a worker sends back: tensors (bool fingerprints included) survive unchanged."""
    import pickle

    featurizer = MolGraphFeaturizer(fingerprint=True, fragments=True)
    (chunk,) = featurize_chunks(ROWS, featurizer, chunk_size=len(ROWS))
    copy = pickle.loads(_dumps(chunk))
    assert copy.indices == chunk.indices and copy.failures == chunk.failures
    for a, b in zip(copy.graphs, chunk.graphs, strict=True):
        for key in ("x", "edge_index", "edge_attr", "fp", "frag", "num_frags"):
            assert a[key].dtype == b[key].dtype and torch.equal(a[key], b[key]), key


@pytest.mark.slow
def test_workers_give_the_serial_chunks() -> None:
    rows = [line.split()[0] for line in embedded_smiles_path().read_text().splitlines()[:120]]
    rows[7], rows[70] = "C1CC", None
    featurizer = RaisingFeaturizer()
    serial = list(featurize_chunks(rows, featurizer, chunk_size=16, align=40, pack=_num_atoms))
    parallel = list(
        featurize_chunks(rows, featurizer, workers=2, chunk_size=16, align=40, pack=_num_atoms)
    )
    assert serial == parallel
    assert [(c.start, c.stop) for c in serial][:4] == [(0, 16), (16, 32), (32, 40), (40, 56)]
    assert np.array_equal([f.index for c in serial for f in c.failures], [7, 70])


_SCRIPT = """
from molssl.data import embedded_smiles_path
from molssl.featurize import featurize_many

smiles = [line.split()[0] for line in embedded_smiles_path().read_text().splitlines()[:400]]
{body}
"""
_UNGUARDED = "result = featurize_many(smiles, workers=2)\nprint(len(result.graphs))"
_GUARDED = 'if __name__ == "__main__":\n    ' + _UNGUARDED.replace("\n", "\n    ")


def _run_script(tmp_path: Path, body: str) -> tuple[subprocess.CompletedProcess, float]:
    script = tmp_path / "featurize_script.py"
    script.write_text(_SCRIPT.format(body=body))
    path = os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "PYTHONPATH": path, "OMP_NUM_THREADS": "1"}
    began = time.monotonic()
    proc = subprocess.run(
        [sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=60
    )
    return proc, time.monotonic() - began


@pytest.mark.slow
def test_a_script_without_main_guard_fails_fast_with_one_line(tmp_path: Path) -> None:
    proc, _ = _run_script(tmp_path, _UNGUARDED)  # a hang fails here with TimeoutExpired
    assert proc.returncode != 0 and proc.stdout == ""
    hints = [line for line in proc.stderr.splitlines() if "__main__" in line]
    assert len(hints) == 1, proc.stderr[-3000:]
    assert hints[0].startswith("molssl.featurize.engine.MainGuardError: ")
    assert "featurize_script.py" in hints[0] and "workers=1" in hints[0]
    assert "bootstrapping" not in proc.stderr  # multiprocessing's own error never shows


@pytest.mark.slow
def test_the_same_script_with_main_guard_featurizes(tmp_path: Path) -> None:
    proc, _ = _run_script(tmp_path, _GUARDED)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.split() == ["400"]
