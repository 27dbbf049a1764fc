"""Vocabularies of the MolCLR / Hu et al. (2020) graph scheme.

This module is the single owner of the atom, chirality, bond-type and bond-direction
vocabularies and of the special tokens. Encoders read the sizes from here (or from the
featurizer that exposes them); nothing else hard-codes them.

Index layout (compatible with the checkpoints released with MolCLR):

- atom type: ``atomic_number - 1`` for atomic numbers 1..118, ``MASK_ATOM_INDEX`` (118) is the
  mask token used by atom masking. Atoms outside 1..118 (the dummy atom ``*``, atomic number 0)
  fall back to ``UNKNOWN_ATOM_INDEX``, which shares the mask token: both mean "an atom whose
  identity the model is not told".
- chirality: unspecified, CW, CCW, other. Every other RDKit tag (``CHI_OTHER``, tetrahedral,
  allene, square-planar, trigonal-bipyramidal, octahedral, ...) maps to ``CHIRALITY_OTHER``.
- bond type: single, double, triple, aromatic, then ``SELF_LOOP_BOND_INDEX`` (4), reserved for
  the self-loops that GIN/GCN layers add. Any other RDKit bond type (dative, hydrogen, zero,
  quadruple, ...) falls back to ``UNKNOWN_BOND_INDEX`` (single).
- bond direction: none, end-up-right, end-down-right. Other directions fall back to none.

The "rich" scheme (:class:`~molssl.featurize.RichGraphFeaturizer`) adds categorical columns
defined at the end of this module: degree 0..10, formal charge -5..+5, hybridization (S, SP,
SP2, SP3, SP3D, SP3D2), total H count 0..8 and double-bond stereo (none, any, Z, E, cis,
trans), each followed by an "other" slot for anything outside the list.
"""

from __future__ import annotations

from rdkit import Chem

NUM_ELEMENTS = 118
MASK_ATOM_INDEX = NUM_ELEMENTS
UNKNOWN_ATOM_INDEX = MASK_ATOM_INDEX
NUM_ATOM_TYPES = NUM_ELEMENTS + 1

CHIRALITY_TAGS: tuple[Chem.ChiralType, ...] = (
    Chem.ChiralType.CHI_UNSPECIFIED,
    Chem.ChiralType.CHI_TETRAHEDRAL_CW,
    Chem.ChiralType.CHI_TETRAHEDRAL_CCW,
    Chem.ChiralType.CHI_OTHER,
)
CHIRALITY_OTHER = 3
NUM_CHIRALITY_TAGS = len(CHIRALITY_TAGS)

BOND_TYPES: tuple[Chem.BondType, ...] = (
    Chem.BondType.SINGLE,
    Chem.BondType.DOUBLE,
    Chem.BondType.TRIPLE,
    Chem.BondType.AROMATIC,
)
SELF_LOOP_BOND_INDEX = len(BOND_TYPES)
UNKNOWN_BOND_INDEX = 0
NUM_BOND_TYPES = len(BOND_TYPES) + 1

BOND_DIRECTIONS: tuple[Chem.BondDir, ...] = (
    Chem.BondDir.NONE,
    Chem.BondDir.ENDUPRIGHT,
    Chem.BondDir.ENDDOWNRIGHT,
)
NUM_BOND_DIRECTIONS = len(BOND_DIRECTIONS)

_CHIRALITY_INDEX = {tag: i for i, tag in enumerate(CHIRALITY_TAGS)}
_BOND_TYPE_INDEX = {bt: i for i, bt in enumerate(BOND_TYPES)}
_BOND_DIR_INDEX = {bd: i for i, bd in enumerate(BOND_DIRECTIONS)}


def atom_type_index(atomic_number: int) -> int:
    """Index of an atomic number in the atom-type vocabulary (fallback: ``UNKNOWN_ATOM_INDEX``)."""
    if 1 <= atomic_number <= NUM_ELEMENTS:
        return atomic_number - 1
    return UNKNOWN_ATOM_INDEX


def chirality_index(tag: Chem.ChiralType) -> int:
    """Index of an RDKit chiral tag (fallback: ``CHIRALITY_OTHER``)."""
    return _CHIRALITY_INDEX.get(tag, CHIRALITY_OTHER)


def bond_type_index(bond_type: Chem.BondType) -> int:
    """Index of an RDKit bond type (fallback: ``UNKNOWN_BOND_INDEX``)."""
    return _BOND_TYPE_INDEX.get(bond_type, UNKNOWN_BOND_INDEX)


def bond_direction_index(direction: Chem.BondDir) -> int:
    """Index of an RDKit bond direction (fallback: none, 0)."""
    return _BOND_DIR_INDEX.get(direction, 0)


# --------------------------------------------------------------------------- "rich" scheme
# Extra categorical columns of the richer scheme (chemprop-like). Each list ends with an
# implicit "other" slot at index ``len(values)``; binary columns have no "other" slot.

DEGREES: tuple[int, ...] = tuple(range(11))
FORMAL_CHARGES: tuple[int, ...] = tuple(range(-5, 6))
HYBRIDIZATIONS: tuple[Chem.HybridizationType, ...] = (
    Chem.HybridizationType.S,
    Chem.HybridizationType.SP,
    Chem.HybridizationType.SP2,
    Chem.HybridizationType.SP3,
    Chem.HybridizationType.SP3D,
    Chem.HybridizationType.SP3D2,
)
TOTAL_HS: tuple[int, ...] = tuple(range(9))
BOND_STEREOS: tuple[Chem.BondStereo, ...] = (
    Chem.BondStereo.STEREONONE,
    Chem.BondStereo.STEREOANY,
    Chem.BondStereo.STEREOZ,
    Chem.BondStereo.STEREOE,
    Chem.BondStereo.STEREOCIS,
    Chem.BondStereo.STEREOTRANS,
)

DEGREE_OTHER = len(DEGREES)
FORMAL_CHARGE_OTHER = len(FORMAL_CHARGES)
HYBRIDIZATION_OTHER = len(HYBRIDIZATIONS)
TOTAL_HS_OTHER = len(TOTAL_HS)
BOND_STEREO_OTHER = len(BOND_STEREOS)

NUM_DEGREES = len(DEGREES) + 1
NUM_FORMAL_CHARGES = len(FORMAL_CHARGES) + 1
NUM_HYBRIDIZATIONS = len(HYBRIDIZATIONS) + 1
NUM_TOTAL_HS = len(TOTAL_HS) + 1
NUM_BOND_STEREOS = len(BOND_STEREOS) + 1

_HYBRIDIZATION_INDEX = {h: i for i, h in enumerate(HYBRIDIZATIONS)}
_BOND_STEREO_INDEX = {s: i for i, s in enumerate(BOND_STEREOS)}


def degree_index(degree: int) -> int:
    """Index of an atom degree 0..10 (fallback: ``DEGREE_OTHER``)."""
    return degree if 0 <= degree < DEGREE_OTHER else DEGREE_OTHER


def formal_charge_index(charge: int) -> int:
    """Index of a formal charge -5..+5 (fallback: ``FORMAL_CHARGE_OTHER``)."""
    return charge + 5 if -5 <= charge <= 5 else FORMAL_CHARGE_OTHER


def hybridization_index(hybridization: Chem.HybridizationType) -> int:
    """Index of an RDKit hybridization (fallback: ``HYBRIDIZATION_OTHER``)."""
    return _HYBRIDIZATION_INDEX.get(hybridization, HYBRIDIZATION_OTHER)


def total_hs_index(num_hs: int) -> int:
    """Index of a total hydrogen count 0..8 (fallback: ``TOTAL_HS_OTHER``)."""
    return num_hs if 0 <= num_hs < TOTAL_HS_OTHER else TOTAL_HS_OTHER


def bond_stereo_index(stereo: Chem.BondStereo) -> int:
    """Index of an RDKit bond stereo label (fallback: ``BOND_STEREO_OTHER``)."""
    return _BOND_STEREO_INDEX.get(stereo, BOND_STEREO_OTHER)
