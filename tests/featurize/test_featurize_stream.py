"""featurized_batches: ordered, collated chunks, the same with and without worker processes."""

from __future__ import annotations

import multiprocessing
import time

import pytest
import torch

from molssl.data import embedded_smiles_path
from molssl.featurize import MolGraphFeaturizer, featurize_many, featurized_batches
from molssl.featurize import stream as stream_module

BAD = {3: "notasmiles", 17: "", 40: "   ", 41: "C1CC", 77: None, 98: "c1cccc1"}


def corpus() -> list[object]:
    """100 SMILES of RDKit's bundled file with invalid, blank and missing rows at ``BAD``."""
    lines = embedded_smiles_path().read_text().splitlines()[:100]
    rows: list[object] = [line.split()[0] for line in lines]
    for position, value in BAD.items():
        rows[position] = value
    return rows


class BrokenFeaturizer(MolGraphFeaturizer):
    """Fails on the whole run (a TypeError is no row error) from its 30th molecule on."""

    def __call__(self, smiles: object):  # type: ignore[override]
        if smiles == corpus()[30]:
            raise TypeError("broken featurizer")
        return super().__call__(smiles)


def assert_no_children(timeout: float = 30.0) -> None:
    """No worker process outlives the stream.

    Polled rather than checked once: under heavy load an exiting child was seen alive for a
    moment after its stop (2 in 8 runs on a loaded 2-vCPU box); a worker that is never
    stopped still fails here.
    """
    deadline = time.monotonic() + timeout
    while multiprocessing.active_children() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not multiprocessing.active_children(), multiprocessing.active_children()


def assert_same(a: list, b: list) -> None:
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        assert (x.start, x.stop, x.indices, x.failures) == (y.start, y.stop, y.indices, y.failures)
        assert (x.batch is None) == (y.batch is None)
        if x.batch is not None:
            for key in ("x", "edge_index", "edge_attr", "batch", "ptr"):
                assert torch.equal(x.batch[key], y.batch[key]), key
            assert x.batch.smiles == y.batch.smiles


def test_serial_chunks_cover_the_input_in_order_like_featurize_many() -> None:
    rows = corpus()
    chunks = list(featurized_batches(iter(rows), MolGraphFeaturizer(), batch_size=16))
    assert [(c.start, c.stop) for c in chunks] == [(s, min(s + 16, 100)) for s in range(0, 100, 16)]
    reference = featurize_many(rows, MolGraphFeaturizer())
    assert [i for c in chunks for i in c.indices] == reference.indices
    assert [f for c in chunks for f in c.failures] == reference.failures
    assert sorted(f.index for f in reference.failures) == sorted(BAD)
    graphs = [g for c in chunks for g in c.batch.to_data_list()]
    for graph, expected in zip(graphs, reference.graphs, strict=True):
        assert torch.equal(graph.x, expected.x) and torch.equal(
            graph.edge_index, expected.edge_index
        )


def test_a_chunk_of_failures_only_has_no_batch() -> None:
    (chunk,) = featurized_batches(["", "xx"], MolGraphFeaturizer(), batch_size=4)
    assert chunk.batch is None and chunk.indices == [] and len(chunk.failures) == 2


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"batch_size": 0}, "batch_size"),
        ({"workers": -1}, "workers"),
        ({"prefetch": 0}, "prefetch"),
    ],
)
def test_bad_arguments_fail_at_the_call(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        featurized_batches(["CCO"], MolGraphFeaturizer(), **kwargs)


@pytest.mark.slow
def test_workers_give_the_serial_result_and_stop(monkeypatch: pytest.MonkeyPatch) -> None:
    rows = corpus()
    serial = list(featurized_batches(rows, MolGraphFeaturizer(), batch_size=16))
    monkeypatch.setattr(stream_module, "_LOCAL_START", False)  # every chunk from a worker
    parallel = list(featurized_batches(rows, MolGraphFeaturizer(), batch_size=16, workers=2))
    assert_same(serial, parallel)
    assert_no_children()
    # Abandoned after the first chunk: the workers are stopped when the generator is closed.
    stream = featurized_batches(iter(rows), MolGraphFeaturizer(), batch_size=8, workers=2)
    assert next(stream).stop == 8
    stream.close()
    assert_no_children()


@pytest.mark.slow
def test_a_worker_error_reaches_the_caller_and_stops_the_workers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(stream_module, "_LOCAL_START", False)
    seen = []
    with pytest.raises(TypeError, match="broken featurizer"):
        for chunk in featurized_batches(corpus(), BrokenFeaturizer(), batch_size=10, workers=1):
            seen.append(chunk.start)
    assert seen == [0, 10, 20]
    assert_no_children()


@pytest.mark.slow
def test_local_start_gives_the_serial_result() -> None:
    """With slow-starting workers this process featurizes the first chunks itself."""
    rows = corpus()[:60]
    serial = list(featurized_batches(rows, MolGraphFeaturizer(), batch_size=20))
    assert_same(
        serial, list(featurized_batches(rows, MolGraphFeaturizer(), batch_size=20, workers=1))
    )
    assert_no_children()
