"""RDKit 2D descriptors computed once per molecule, the regression targets of ``descriptors``.

The list is fixed (its order is the column order of ``data.desc``) and holds only descriptors
that take microseconds per molecule: weights and counts, Crippen logP/MR, TPSA, Labute ASA,
Gasteiger charge extremes, Kier-Hall connectivity and shape indices. Slow ones (``qed``,
``BertzCT``, ``BCUT2D_*``, ``Ipc``, ``BalabanJ``, each 0.2-4 ms) are left out. Predicting many
cheap descriptors from the graph is the pretraining task of chemprop's CheMeleon foundation
model (Burns et al. 2025).

Values are those of ``rdkit.Chem.Descriptors`` on the heavy-atom molecule (implicit hydrogens);
a descriptor RDKit cannot compute (Gasteiger charges of some elements) is NaN, which the loss
masks out.
"""

from __future__ import annotations

import math

import numpy as np
from rdkit import Chem
from rdkit.Chem import Descriptors

__all__ = ["DESCRIPTOR_NAMES", "NUM_DESCRIPTORS", "compute_descriptors"]

DESCRIPTOR_NAMES: tuple[str, ...] = (
    "MolWt",
    "HeavyAtomMolWt",
    "ExactMolWt",
    "MolLogP",
    "MolMR",
    "TPSA",
    "LabuteASA",
    "NumHDonors",
    "NumHAcceptors",
    "NumRotatableBonds",
    "RingCount",
    "NumAromaticRings",
    "NumAliphaticRings",
    "NumSaturatedRings",
    "NumHeteroatoms",
    "FractionCSP3",
    "HeavyAtomCount",
    "NHOHCount",
    "NOCount",
    "NumAromaticCarbocycles",
    "NumAromaticHeterocycles",
    "NumAliphaticCarbocycles",
    "NumAliphaticHeterocycles",
    "NumSaturatedCarbocycles",
    "NumSaturatedHeterocycles",
    "MaxPartialCharge",
    "MinPartialCharge",
    "MaxAbsPartialCharge",
    "MinAbsPartialCharge",
    "Chi0v",
    "Chi1v",
    "Chi2v",
    "Chi0n",
    "Chi1n",
    "Kappa1",
    "Kappa2",
    "HallKierAlpha",
    "NumAmideBonds",
    "NumSpiroAtoms",
    "NumBridgeheadAtoms",
    "NumAtomStereoCenters",
)
"""The descriptors of ``data.desc``, in column order (names of ``rdkit.Chem.Descriptors``)."""

NUM_DESCRIPTORS = len(DESCRIPTOR_NAMES)

_FUNCTIONS = dict(Descriptors.descList)
_MISSING = [name for name in DESCRIPTOR_NAMES if name not in _FUNCTIONS]
if _MISSING:  # pragma: no cover - depends on the installed RDKit
    raise ImportError(
        f"this RDKit lacks the descriptors {_MISSING}; install rdkit >= 2023.09 (pip install -U rdkit)"
    )
_CALLS = tuple(_FUNCTIONS[name] for name in DESCRIPTOR_NAMES)


def compute_descriptors(mol: Chem.Mol) -> np.ndarray:
    """The :data:`DESCRIPTOR_NAMES` of ``mol``.

    Args:
        mol: An RDKit molecule with implicit hydrogens (what
            :func:`molssl.featurize.parse_smiles` returns).

    Returns:
        ``float32[NUM_DESCRIPTORS]``; NaN where RDKit fails or returns a non-finite value or one
        beyond float32's range.
    """
    out = np.full(NUM_DESCRIPTORS, np.nan, dtype=np.float32)
    limit = float(np.finfo(np.float32).max)
    for i, call in enumerate(_CALLS):
        try:
            value = float(call(mol))
        except (ValueError, RuntimeError, ZeroDivisionError):
            continue
        if math.isfinite(value) and abs(value) < limit:
            out[i] = value
    return out
