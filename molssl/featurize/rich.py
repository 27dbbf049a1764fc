"""The "rich" graph scheme: eight categorical atom columns and four bond columns.

A chemprop-like set of RDKit atom and bond properties, every column a small integer index (no
one-hot, no floats) so the same embedding-sum encoders read it as they read the MolCLR scheme.
The vocabularies live in :mod:`molssl.featurize.vocab`.
"""

from __future__ import annotations

import torch
from rdkit import Chem

from molssl.featurize import vocab
from molssl.featurize.base import (
    GraphFeaturizer,
    edges_from_bond_table,
    long_tensor,
    sorted_bond_table,
)

ATOM_COLUMNS: tuple[str, ...] = (
    "atom_type",
    "degree",
    "formal_charge",
    "hybridization",
    "aromatic",
    "total_hs",
    "in_ring",
    "chirality",
)
BOND_COLUMNS: tuple[str, ...] = ("bond_type", "conjugated", "in_ring", "stereo")


class RichGraphFeaturizer(GraphFeaturizer):
    """SMILES / RDKit ``Mol`` -> ``Data`` with richer categorical atom and bond features.

    Atom columns (``x[:, k]``, sizes in ``atom_feature_sizes``):

    ====  ==============  ====  ==========================================================
    k     column          size  values
    ====  ==============  ====  ==========================================================
    0     atom type       119   ``atomic_number - 1``; 118 = mask / unknown (as "molclr")
    1     degree          12    0..10, 11 = other
    2     formal charge   12    -5..+5 as 0..10, 11 = other
    3     hybridization   7     S, SP, SP2, SP3, SP3D, SP3D2, 6 = other (incl. unspecified)
    4     aromatic        2     0 / 1
    5     total Hs        10    0..8, 9 = other
    6     in ring         2     0 / 1
    7     chirality       4     unspecified, CW, CCW, other (as "molclr")
    ====  ==============  ====  ==========================================================

    Bond columns (``edge_attr[:, k]``): bond type (5, 4 = self-loop, as "molclr"),
    conjugated (2), in ring (2), stereo (7: none, any, Z, E, cis, trans, 6 = other).

    ``mask_atom`` is ``(118, 11, 11, 6, 0, 9, 0, 0)``: the mask atom type, the "other" slot of
    every column that has one (the model is told nothing about the masked atom), and 0 for the
    binary columns and chirality (as in the MolCLR scheme's ``(118, 0)``).
    ``self_loop_bond`` is ``(4, 0, 0, 0)``.

    Args:
        hydrogens, fingerprint, fragments, **options: as for
            :class:`~molssl.featurize.MolGraphFeaturizer`.
    """

    name = "rich"
    atom_feature_sizes = (
        vocab.NUM_ATOM_TYPES,
        vocab.NUM_DEGREES,
        vocab.NUM_FORMAL_CHARGES,
        vocab.NUM_HYBRIDIZATIONS,
        2,
        vocab.NUM_TOTAL_HS,
        2,
        vocab.NUM_CHIRALITY_TAGS,
    )
    bond_feature_sizes = (vocab.NUM_BOND_TYPES, 2, 2, vocab.NUM_BOND_STEREOS)
    self_loop_bond = (vocab.SELF_LOOP_BOND_INDEX, 0, 0, 0)
    mask_atom = (
        vocab.MASK_ATOM_INDEX,
        vocab.DEGREE_OTHER,
        vocab.FORMAL_CHARGE_OTHER,
        vocab.HYBRIDIZATION_OTHER,
        0,
        vocab.TOTAL_HS_OTHER,
        0,
        0,
    )

    def graph(
        self, mol: Chem.Mol, smiles: str | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """See :meth:`GraphFeaturizer.graph`."""
        x: list[int] = []
        for atom in mol.GetAtoms():
            x += (
                vocab.atom_type_index(atom.GetAtomicNum()),
                vocab.degree_index(atom.GetDegree()),
                vocab.formal_charge_index(atom.GetFormalCharge()),
                vocab.hybridization_index(atom.GetHybridization()),
                int(atom.GetIsAromatic()),
                vocab.total_hs_index(atom.GetTotalNumHs()),
                int(atom.IsInRing()),
                vocab.chirality_index(atom.GetChiralTag()),
            )

        rows: list[tuple[int, ...]] = []
        for bond in mol.GetBonds():
            i = bond.GetBeginAtomIdx()
            j = bond.GetEndAtomIdx()
            rows.append(
                (
                    min(i, j),
                    max(i, j),
                    vocab.bond_type_index(bond.GetBondType()),
                    int(bond.GetIsConjugated()),
                    int(bond.IsInRing()),
                    vocab.bond_stereo_index(bond.GetStereo()),
                )
            )
        table = sorted_bond_table(rows, 2 + len(self.bond_feature_sizes))
        edge_index, edge_attr = edges_from_bond_table(table)
        return long_tensor(x, -1, len(self.atom_feature_sizes)), edge_index, edge_attr
