"""The "molclr" graph scheme: atom type + chirality, bond type + direction.

The scheme of Hu et al., "Strategies for Pre-training Graph Neural Networks" (ICLR 2020), used by
MolCLR (Wang et al., Nature Machine Intelligence 2022) and iMolCLR. Its indices match the
checkpoints released with MolCLR; the vocabularies live in :mod:`molssl.featurize.vocab`.
"""

from __future__ import annotations

import numpy as np
import torch
from rdkit import Chem

from molssl.featurize import vocab
from molssl.featurize.atom_tokens import atom_tokens, atom_type_indices
from molssl.featurize.base import (
    GraphFeaturizer,
    edge_index_from_bonds,
    edges_from_bond_table,
    long_tensor,
    sorted_bond_table,
)


class MolGraphFeaturizer(GraphFeaturizer):
    """SMILES / RDKit ``Mol`` -> ``Data`` in the MolCLR scheme.

    Columns:

    - ``x[:, 0]``: atom type, ``atomic_number - 1``; the dummy atom ``*`` and anything outside
      1..118 map to ``vocab.UNKNOWN_ATOM_INDEX`` (118, shared with the mask token).
    - ``x[:, 1]``: chirality (unspecified, CW, CCW, other); newer RDKit tags map to other.
    - ``edge_attr[:, 0]``: bond type (single, double, triple, aromatic; 4 is the self-loop);
      dative and other types fall back to single.
    - ``edge_attr[:, 1]``: bond direction (none, end-up-right, end-down-right).

    Each bond becomes two directed edges: bonds are ordered by their atom pair ``(i, j)``,
    ``i < j``, and bond ``k`` gives edges ``2k`` (``i -> j``) and ``2k + 1`` (``j -> i``) with
    the same features. (MolCLR followed RDKit's bond numbering; the sorted order is the same
    graph and does not depend on how the molecule was built.) Nothing out of vocabulary raises.
    Molecules without bonds get ``edge_index`` of shape ``[2, 0]`` and ``edge_attr`` of shape
    ``[0, 2]``.

    Args:
        hydrogens: ``"implicit"`` (default) or ``"explicit"``.
        fingerprint: add ``data.fp`` (bool ``[1, n_bits]``, ECFP via ``molssl.fingerprints``).
        fragments: add ``data.frag`` / ``data.num_frags`` (BRICS via ``molssl.fragments``).
        **options: ``fingerprint_radius``, ``fingerprint_bits``, ``fragment_min_atoms``,
            ``max_smiles_length``; see :class:`~molssl.featurize.base.GraphFeaturizer`.

    Example:
        >>> data = MolGraphFeaturizer()("CCO")
        >>> data.x.tolist()
        [[5, 0], [5, 0], [7, 0]]
    """

    name = "molclr"
    atom_feature_sizes = (vocab.NUM_ATOM_TYPES, vocab.NUM_CHIRALITY_TAGS)
    bond_feature_sizes = (vocab.NUM_BOND_TYPES, vocab.NUM_BOND_DIRECTIONS)
    self_loop_bond = (vocab.SELF_LOOP_BOND_INDEX, 0)
    mask_atom = (vocab.MASK_ATOM_INDEX, 0)

    def graph(
        self, mol: Chem.Mol, smiles: str | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """See :meth:`GraphFeaturizer.graph`.

        RDKit's Python wrappers cost about a microsecond per atom or bond object and more for
        enum getters, several times the parse itself. When ``mol`` was parsed from ``smiles``,
        atom types come from the string's atom tokens (:mod:`~molssl.featurize.atom_tokens`),
        chirality is read only for atoms written with ``@``, and, without ``/``, ``\\`` or
        ``|`` (CXSMILES) in the string, bonds come from one adjacency-matrix call. Every shortcut checks its
        precondition and falls back to reading the molecule; the result is the same either way
        (tested on MoleculeNet and MOSES).
        """
        x = self._atoms_from_smiles(mol, smiles) if smiles is not None else None
        if x is None:
            x = self._atoms(mol)
        edges = None
        if smiles is not None and not any(c in smiles for c in "/\\|"):
            edges = _bonds_from_adjacency(mol)
        if edges is None:
            edges = _bonds(mol)
        return (x, *edges)

    @staticmethod
    def _atoms(mol: Chem.Mol) -> torch.Tensor:
        atom_index = vocab.atom_type_index
        chirality = vocab.chirality_index
        x: list[int] = []
        for atom in mol.GetAtoms():
            x += (atom_index(atom.GetAtomicNum()), chirality(atom.GetChiralTag()))
        return long_tensor(x, -1, 2)

    @staticmethod
    def _atoms_from_smiles(mol: Chem.Mol, smiles: str) -> torch.Tensor | None:
        tokens = atom_tokens(smiles)
        if tokens is None or len(tokens) != mol.GetNumAtoms():
            return None
        types = atom_type_indices(tokens)
        if types is None:
            return None
        x = np.zeros((len(types), 2), dtype=np.int64)
        x[:, 0] = types
        if "@" in smiles:
            for k, token in enumerate(tokens):
                if "@" in token:
                    x[k, 1] = vocab.chirality_index(mol.GetAtomWithIdx(k).GetChiralTag())
        return torch.from_numpy(x)


def _bonds(mol: Chem.Mol) -> tuple[torch.Tensor, torch.Tensor]:
    """Bonds read one by one through RDKit (any molecule)."""
    bond_type = vocab.bond_type_index
    bond_dir = vocab.bond_direction_index
    rows: list[tuple[int, int, int, int]] = []
    for bond in mol.GetBonds():
        i = bond.GetBeginAtomIdx()
        j = bond.GetEndAtomIdx()
        t = bond_type(bond.GetBondType())
        d = bond_dir(bond.GetBondDir())
        rows.append((i, j, t, d) if i < j else (j, i, t, d))
    return edges_from_bond_table(sorted_bond_table(rows, 4))


_NO_BONDS = np.zeros(0, dtype=np.int64)
# Twice the bond order (as RDKit's adjacency matrix reports it) -> bond-type index. Only the
# bond types a SMILES string can produce are met on this path: single, double, triple,
# aromatic (1.5), and quadruple or dative (both vocab.UNKNOWN_BOND_INDEX, as bond_type_index).
_ORDER_X2_TO_TYPE = np.full(16, vocab.UNKNOWN_BOND_INDEX, dtype=np.int64)
for _bt, _order in (
    (Chem.BondType.SINGLE, 1.0),
    (Chem.BondType.DOUBLE, 2.0),
    (Chem.BondType.TRIPLE, 3.0),
    (Chem.BondType.AROMATIC, 1.5),
):
    _ORDER_X2_TO_TYPE[int(2 * _order)] = vocab.bond_type_index(_bt)
# 2 above the diagonal, 0 elsewhere: one product keeps each bond once and doubles its order.
_MAX_ADJACENCY_ATOMS = 128
_UPPER_X2 = np.triu(np.full((_MAX_ADJACENCY_ATOMS,) * 2, 2.0), k=1)


def _bonds_from_adjacency(mol: Chem.Mol) -> tuple[torch.Tensor, torch.Tensor] | None:
    """Bonds of a molecule parsed from a SMILES without bond directions, in one RDKit call."""
    num_atoms = mol.GetNumAtoms()
    num_bonds = mol.GetNumBonds()
    if num_bonds == 0:
        return edge_index_from_bonds(_NO_BONDS, _NO_BONDS), torch.zeros((0, 2), dtype=torch.long)
    if num_atoms > _MAX_ADJACENCY_ATOMS:
        return None
    order_x2 = Chem.GetAdjacencyMatrix(mol, useBO=True) * _UPPER_X2[:num_atoms, :num_atoms]
    begin, end = order_x2.nonzero()  # row-major: sorted by (begin, end)
    if len(begin) != num_bonds:  # a zero-order bond: not in the matrix
        return None
    codes = _ORDER_X2_TO_TYPE.take(order_x2[begin, end].astype(np.intp), mode="clip")
    edge_attr = np.zeros((num_bonds, 2, 2), dtype=np.int64)  # both directions of each bond
    edge_attr[:, :, 0] = codes[:, None]
    return edge_index_from_bonds(begin, end), torch.from_numpy(edge_attr.reshape(-1, 2))
