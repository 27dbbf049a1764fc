"""The job behind ``make demo``: featurize the embedded default corpus and summarise it."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np


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


def run_demo(smiles_path: str | Path | None = None, workers: int = 2) -> DemoSummary:
    """Featurize a SMILES file (default: RDKit's bundled ``first_5K.smi``) and summarise it.

    Args:
        smiles_path: a ``.smi``/``.txt``/``.csv`` file, optionally gzipped.
        workers: featurization processes.

    Returns:
        A :class:`DemoSummary`.
    """
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
