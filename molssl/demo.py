"""The job behind ``make demo``: featurize, pretrain, embed and benchmark on the embedded default.

Runs on a fresh machine with no data: RDKit's bundled ``first_5K.smi`` is the corpus, BBBP is the
benchmark task when its file can be found or downloaded, else RDKit's bundled TPSA table.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DemoSummary:
    """What the demo measured on one SMILES file."""

    source: str
    rows: int
    graphs: int
    failures: list
    seconds: float
    workers: int
    atoms: np.ndarray
    bonds: np.ndarray
    atom_types_used: int
    atom_feature_sizes: tuple[int, ...]
    bond_feature_sizes: tuple[int, ...]

    def format(self) -> str:
        """A human-readable report."""
        lines = [
            f"featurized {self.source}",
            f"  rows read           {self.rows}",
            f"  graphs              {self.graphs}",
            f"  failures            {len(self.failures)}",
            f"  time                {self.seconds:.2f} s with {self.workers} worker(s)"
            f" ({self.rows / max(self.seconds, 1e-9):,.0f} molecules/s)",
            f"  atoms per molecule  mean {self.atoms.mean():.1f}, min {self.atoms.min()},"
            f" max {self.atoms.max()}",
            f"  bonds per molecule  mean {self.bonds.mean():.1f}, min {self.bonds.min()},"
            f" max {self.bonds.max()}",
            f"  atom types seen     {self.atom_types_used} of {self.atom_feature_sizes[0]}",
            f"  vocabulary sizes    atoms {self.atom_feature_sizes},"
            f" bonds {self.bond_feature_sizes}",
        ]
        for failure in self.failures[:5]:
            lines.append(f"  skipped row {failure.index}: {failure.smiles!r}: {failure.reason}")
        if len(self.failures) > 5:
            lines.append(f"  ... and {len(self.failures) - 5} more failures")
        return "\n".join(lines)


def featurize_summary(smiles_path: str | Path | None = None, workers: int = 1) -> DemoSummary:
    """Featurize a SMILES file (default: RDKit's bundled ``first_5K.smi``) and summarise it."""
    from molssl.data import SmilesSource, embedded_smiles_path
    from molssl.featurize import MolGraphFeaturizer, featurize_many

    path = Path(smiles_path) if smiles_path is not None else embedded_smiles_path()
    rows = list(SmilesSource(path))
    featurizer = MolGraphFeaturizer()
    start = time.perf_counter()
    result = featurize_many([s for _, s in rows], featurizer=featurizer, workers=workers)
    seconds = time.perf_counter() - start
    atoms = np.array([g.num_nodes for g in result.graphs], dtype=np.int64)
    bonds = np.array([g.edge_index.shape[1] // 2 for g in result.graphs], dtype=np.int64)
    types = set()
    for g in result.graphs:
        types.update(g.x[:, 0].tolist())
    return DemoSummary(
        source=str(path),
        rows=len(rows),
        graphs=len(result.graphs),
        failures=list(result.failures),
        seconds=seconds,
        workers=workers,
        atoms=atoms,
        bonds=bonds,
        atom_types_used=len(types),
        atom_feature_sizes=tuple(featurizer.atom_feature_sizes),
        bond_feature_sizes=tuple(featurizer.bond_feature_sizes),
    )


def store_summary(store, source: str | Path, seconds: float, workers: int) -> DemoSummary:
    """Summarise a graph store just built from ``source`` (no second featurization)."""
    import csv
    from types import SimpleNamespace

    from molssl.featurize import featurizer_from_dict

    graphs = [store[i] for i in range(len(store))]
    with open(store.path / "failures.csv", newline="") as handle:
        failures = [
            SimpleNamespace(index=int(r["row"]), smiles=r["smiles"], reason=r["reason"])
            for r in csv.DictReader(handle)
        ]
    featurizer = featurizer_from_dict(store.featurizer_config)
    types = set()
    for g in graphs:
        types.update(g.x[:, 0].tolist())
    return DemoSummary(
        source=str(source),
        rows=int(store.meta["rows_done"]),
        graphs=len(graphs),
        failures=failures,
        seconds=seconds,
        workers=workers,
        atoms=np.array([g.num_nodes for g in graphs], dtype=np.int64),
        bonds=np.array([g.edge_index.shape[1] // 2 for g in graphs], dtype=np.int64),
        atom_types_used=len(types),
        atom_feature_sizes=tuple(featurizer.atom_feature_sizes),
        bond_feature_sizes=tuple(featurizer.bond_feature_sizes),
    )


def shared_moleculenet_dir() -> Path | None:
    """The ``moleculenet/`` folder of the shared data beside the checkout, if there is one.

    ``$MOLSSL_SHARED_DATA/moleculenet`` first, then ``../shared/data/moleculenet`` next to the
    repository (where the tests find it too).
    """
    import os

    roots = [Path(os.environ["MOLSSL_SHARED_DATA"])] if os.environ.get("MOLSSL_SHARED_DATA") else []
    roots.append(Path(__file__).resolve().parents[1].parent / "shared" / "data")
    return next((r / "moleculenet" for r in roots if (r / "moleculenet").is_dir()), None)


def demo_task(out_dir: Path, data_dir: str | None = None) -> tuple[str, dict]:
    """The benchmark task of the demo: BBBP when found or downloadable, else bundled TPSA.

    BBBP is looked for in ``data_dir``; without one, in the shared data folder
    (:func:`shared_moleculenet_dir`), then where :func:`~molssl.data.locate_dataset_file` looks.

    Returns:
        A description and the :class:`~molssl.benchmark.runner.BenchmarkConfig` task fields.
    """
    from molssl.contrastive.io.atomic import atomic_path
    from molssl.data import (
        DatasetNotFoundError,
        embedded_tpsa_path,
        locate_dataset_file,
        read_tpsa_table,
    )
    from molssl.finetune.profiles import get_profile

    if data_dir is None:
        shared = shared_moleculenet_dir()
        data_dir = str(shared) if shared is not None else None
    try:
        path = locate_dataset_file("bbbp", data_dir=data_dir, timeout_s=20.0)
        return f"BBBP ({path})", {"tasks": ["bbbp"], "data_dir": str(path.parent)}
    except (DatasetNotFoundError, OSError) as err:
        logger.info("BBBP is not available (%s); using RDKit's bundled TPSA table", err)
    frame = read_tpsa_table()
    csv_path = out_dir / "tpsa.csv"
    with atomic_path(csv_path) as tmp:
        frame.to_csv(tmp, index=False)
    cap = get_profile("quick").max_molecules
    used = len(frame) if cap is None else min(cap, len(frame))
    subset = (
        f"all {len(frame):,}"
        if used == len(frame)
        else f"{used:,} (the quick profile's cap) of the {len(frame):,}"
    )
    return (
        f"TPSA regression on {subset} molecules of RDKit's {embedded_tpsa_path().name} "
        "(BBBP not found)",
        {
            "tasks": [],
            "csv": str(csv_path),
            "smiles_col": "smiles",
            "targets": ["tpsa"],
            "task_type": "regression",
        },
    )


MOLCLR_PASSES = 10_000_000 * 50
"""Molecule-passes of MolCLR's published pretraining (10M PubChem molecules, 50 epochs)."""


def meaning_line(passes: int, finetune_epochs: int) -> str:
    """The demo's one line on what its comparison can and cannot show."""
    return (
        f"What these numbers mean: 'ours' was pretrained on {passes:,} molecule-passes, about "
        f"{MOLCLR_PASSES / max(passes, 1):,.0f}x fewer than MolCLR's published run (10M PubChem "
        f"molecules x 50 epochs), and every method was fine-tuned {finetune_epochs} epochs on one "
        "seed, so a gap of a few points between 'ours' and random-init here is noise: the demo "
        "shows the pipeline working end to end, not that pretraining pays. Real pretraining "
        "needs millions of molecule-passes or more (a GPU, hours); the measured pretraining-"
        "budget curve and the 3-seed comparisons are in benchmarks/RESULTS.md."
    )


def run_demo(
    out_dir: str | Path = "runs/demo",
    *,
    smiles_path: str | Path | None = None,
    workers: int = 1,
    pretrain_steps: int = 60,
    finetune_epochs: int = 5,
    data_dir: str | None = None,
    report=print,
) -> None:
    """Featurize, pretrain, embed and benchmark on the embedded default corpus.

    Args:
        out_dir: Where everything is written.
        smiles_path: Pretraining corpus (default: RDKit's ``first_5K.smi``).
        workers: Featurization processes.
        pretrain_steps: Optimizer steps of MolCLR pretraining (batch 128, default GIN).
        finetune_epochs: Fine-tuning epochs of the quick benchmark.
        data_dir: Where to look for BBBP first.
        report: Called with each progress line (the CLI passes ``print``).
    """
    from molssl.benchmark.runner import BenchmarkConfig, benchmark
    from molssl.contrastive.config import apply_overrides
    from molssl.data import embedded_smiles_path
    from molssl.embed import embed_file
    from molssl.pretrain import PretrainConfig, open_store, pretrain

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    corpus = Path(smiles_path) if smiles_path else embedded_smiles_path()
    cfg = apply_overrides(
        PretrainConfig(),
        {
            "data.path": str(corpus),
            "data.store": str(out / "store"),
            "data.featurize_workers": workers,
            "trainer.out_dir": str(out / "pretrain"),
            "trainer.batch_size": 128,
            "trainer.epochs": 20,
            "trainer.max_steps": pretrain_steps,
            "trainer.device": "cpu",
            "trainer.log_every": 10,
            "trainer.resume": (out / "pretrain" / "last.pt").is_file(),  # a rerun continues
        },
    )

    report("[1/4] featurizing into the graph store pretraining reads")
    start = time.perf_counter()
    store = open_store(cfg.data, cfg.trainer.out_dir, progress=False)
    report(store_summary(store, corpus, time.perf_counter() - start, workers).format())

    report(f"[2/4] pretraining MolCLR (default GIN, batch 128, {pretrain_steps} steps)")
    result = pretrain(cfg)
    checkpoint = result.last_checkpoint  # the weights after every step, as the line above says
    report(f"  checkpoint: {checkpoint} (log: {out / 'pretrain' / 'metrics.csv'})")

    report("[3/4] embedding the corpus with the pretrained encoder")
    summary = embed_file(checkpoint, corpus, out / "embeddings.npy")
    report(
        f"  {summary.rows} rows x {summary.dim} -> {summary.output}"
        f" ({summary.failed} failures listed in {summary.failures_path})"
    )

    task, fields = demo_task(out, data_dir)
    report(f"[4/4] quick benchmark on {task}: ours vs random-init GIN vs ECFP+RF, seed 0")
    bench = benchmark(
        BenchmarkConfig(
            methods=[f"ours=ckpt:{checkpoint}", "random-init", "ecfp-rf"],
            seeds=[0],
            profile="quick",
            out_dir=str(out / "benchmark"),
            device="cpu",
            finetune={"epochs": finetune_epochs},
            **fields,
        )
    )
    summary_md = out / "benchmark" / "summary.md"
    report(summary_md.read_text() if summary_md.exists() else str(bench))
    report(f"table: {summary_md}\nplot:  {out / 'benchmark' / 'summary.png'}")
    report(meaning_line(result.step * 128, finetune_epochs))
    report(f"everything is in {out}")
