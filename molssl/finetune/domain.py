"""Applicability domain of a fine-tuned model: how far a molecule is from its training data.

``molssl finetune`` stores, in ``model.pt``, the ECFP4 fingerprints (2,048 bits, packed 8 per
byte: 256 bytes a molecule) of the training split's molecules as the model saw them
(standardized when the run was), and a summary (:func:`describe_domain`): heavy-atom range and
elements. ``molssl predict`` then adds, per row (:func:`applicability`):

- ``nn_tanimoto``: Tanimoto similarity (ECFP4, 2,048 bits) of the molecule to its nearest
  training molecule, in [0, 1]; 1 means it is (a stereo- or salt-form variant of) a training
  molecule, below about 0.3 little of it was seen in training. Empty for a failed row.
- ``multi_fragment``: the input has more than one fragment (a salt, a mixture, a solvate), read
  from the input as given, before any standardization.
- ``unseen_atoms``: elements of the molecule that no training molecule has, ``|``-separated
  (``"Na|Cl"``); empty when all were seen.
- ``size_outside``: its heavy-atom count is outside the training molecules' range.
- ``in_domain``: ``nn_tanimoto >= 0.3`` and none of the three flags (a multi-fragment input
  counts only when the model does not standardize, i.e. when the model sees the fragments).

A model from before these entries (or trained without ``save_model``) gets no such columns.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from rdkit import Chem, DataStructs
from rdkit.Chem import rdFingerprintGenerator

FINGERPRINT = {"kind": "ecfp", "radius": 2, "bits": 2048}
"""The fingerprint stored for the training molecules (ECFP4, 2,048 bits)."""

SIMILARITY_THRESHOLD = 0.3
"""Nearest-neighbour Tanimoto below which a row is not ``in_domain``."""

COLUMNS = ("nn_tanimoto", "multi_fragment", "unseen_atoms", "size_outside", "in_domain")
"""The columns :func:`applicability` returns, in output order."""


def _generator() -> Any:
    return rdFingerprintGenerator.GetMorganGenerator(
        radius=FINGERPRINT["radius"], fpSize=FINGERPRINT["bits"]
    )


def model_mol(smiles: str, standardize: bool) -> Chem.Mol | None:
    """The heavy-atom molecule a model sees for ``smiles`` (standardized if asked); ``None``
    for an invalid SMILES."""
    from molssl.featurize import InvalidSmilesError, parse_smiles

    try:
        mol = parse_smiles(smiles)
    except InvalidSmilesError:
        return None
    if standardize:
        from molssl.featurize.standardize import standardize_mol

        mol = standardize_mol(mol)
    return mol


def describe_domain(
    smiles: Sequence[str], standardize: bool
) -> tuple[dict[str, Any], torch.Tensor]:
    """Summary and packed fingerprints of the training molecules.

    Args:
        smiles: The training split's SMILES.
        standardize: Whether the model standardizes its input.

    Returns:
        ``(summary, fingerprints)``: ``summary`` is ``{fingerprint, n_molecules, heavy_atoms:
        [min, max], elements}``; ``fingerprints`` is ``uint8[n_molecules, bits / 8]``
        (``numpy.packbits`` of each ECFP4 bit vector).
    """
    gen = _generator()
    rows, sizes, elements = [], [], set()
    for text in smiles:
        mol = model_mol(text, standardize)
        if mol is None:
            continue
        rows.append(gen.GetFingerprintAsNumPy(mol).astype(bool))
        sizes.append(mol.GetNumHeavyAtoms())
        elements.update(atom.GetSymbol() for atom in mol.GetAtoms())
    bits = np.asarray(rows, dtype=bool).reshape(len(rows), FINGERPRINT["bits"])
    packed = torch.from_numpy(np.packbits(bits, axis=1))
    summary = {
        "fingerprint": dict(FINGERPRINT),
        "n_molecules": len(rows),
        "heavy_atoms": [min(sizes, default=0), max(sizes, default=0)],
        "elements": sorted(elements),
    }
    return summary, packed


@dataclass
class DomainReference:
    """The training molecules of a model, ready to compare new ones against."""

    summary: dict[str, Any]
    fingerprints: list[Any]
    standardize: bool

    @classmethod
    def from_model(cls, summary: dict[str, Any], packed: torch.Tensor, standardize: bool):
        """Rebuild RDKit bit vectors from the packed ``uint8[n, bits / 8]`` of ``model.pt``."""
        bits = np.unpackbits(packed.numpy(), axis=1)[:, : int(summary["fingerprint"]["bits"])]
        fps = []
        for row in bits:
            fp = DataStructs.ExplicitBitVect(bits.shape[1])
            fp.SetBitsFromList(np.flatnonzero(row).tolist())
            fps.append(fp)
        return cls(summary, fps, standardize)


def applicability(smiles: Sequence[str], reference: DomainReference) -> dict[str, Any]:
    """The applicability columns (:data:`COLUMNS`, see the module docstring) of ``smiles``.

    Returns:
        Column name -> values aligned with ``smiles``: ``nn_tanimoto`` float64 (NaN for an
        invalid SMILES), the flags bool, ``unseen_atoms`` str.
    """
    gen = _generator()
    low, high = reference.summary["heavy_atoms"]
    seen = set(reference.summary["elements"])
    n = len(smiles)
    sim = np.full(n, np.nan)
    multi = np.zeros(n, dtype=bool)
    outside = np.zeros(n, dtype=bool)
    unseen = [""] * n
    for i, text in enumerate(smiles):
        raw = model_mol(text, False)
        if raw is None:  # invalid: the error column says why
            continue
        multi[i] = len(Chem.GetMolFrags(raw)) > 1
        mol = raw
        if reference.standardize:
            from molssl.featurize.standardize import standardize_mol

            mol = standardize_mol(raw)
        if reference.fingerprints:
            fp = gen.GetFingerprint(mol)
            sim[i] = max(DataStructs.BulkTanimotoSimilarity(fp, reference.fingerprints))
        outside[i] = not low <= mol.GetNumHeavyAtoms() <= high
        unseen[i] = "|".join(sorted({a.GetSymbol() for a in mol.GetAtoms()} - seen))
    counted = multi & (not reference.standardize)
    ok = ~np.isnan(sim)
    inside = ok & (np.where(ok, sim, 0.0) >= SIMILARITY_THRESHOLD) & ~outside & ~counted
    inside &= np.asarray([not u for u in unseen], dtype=bool)
    return {
        "nn_tanimoto": sim,
        "multi_fragment": multi,
        "unseen_atoms": unseen,
        "size_outside": outside,
        "in_domain": inside,
    }
