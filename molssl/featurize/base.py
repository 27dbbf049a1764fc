"""Shared machinery of the graph featurizers: input handling, optional extras and config."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch
from rdkit import Chem
from torch_geometric.data import Data

from molssl.featurize.parsing import (
    DEFAULT_MAX_SMILES_LENGTH,
    HydrogenPolicy,
    apply_hydrogen_policy,
    parse_smiles,
)

#: Bumped whenever the features a scheme produces change, so stale caches and stores are rebuilt.
SCHEME_VERSION = 1


def long_tensor(values: list[int], *shape: int) -> torch.Tensor:
    """A ``long`` tensor of the given shape (one ``-1`` allowed) from a flat list of ints.

    ``numpy`` then ``torch.from_numpy`` is about twice as fast as ``torch.tensor`` on a list.
    """
    return torch.from_numpy(np.array(values, dtype=np.int64)).view(*shape)


def _data_fast(mapping: dict[str, Any]) -> Data:
    data = Data()
    data._store._mapping.update(mapping)
    return data


def _data_checked(mapping: dict[str, Any]) -> Data:
    return Data(**mapping)


def _fast_data_works() -> bool:
    try:
        probe = _data_fast({"x": torch.zeros(3, 1), "smiles": "CCC"})
    except AttributeError:
        return False
    return probe.num_nodes == 3 and sorted(probe.keys()) == ["smiles", "x"]


# ``Data(**kwargs)`` routes each key through three ``__setattr__`` layers, which costs as much
# as featurizing a small molecule; filling a fresh store's mapping directly gives the same
# object. Checked once against this PyG version, else the public constructor is used.
new_data = _data_fast if _fast_data_works() else _data_checked


def edge_index_from_bonds(begin: np.ndarray, end: np.ndarray) -> torch.Tensor:
    """Bonds -> ``edge_index`` long ``[2, 2B]``: bond ``k`` as edges ``2k`` and ``2k + 1``.

    Args:
        begin, end: ``[B]`` atom indices of each bond, ``begin < end``, sorted by
            ``(begin, end)`` (the project's bond order, independent of RDKit's bond numbering).

    Returns:
        Edge ``2k`` is ``begin[k] -> end[k]``, edge ``2k + 1`` is ``end[k] -> begin[k]``.
    """
    edge_index = np.empty((2, len(begin), 2), dtype=np.int64)
    edge_index[0, :, 0] = begin
    edge_index[0, :, 1] = end
    edge_index[1, :, 0] = end
    edge_index[1, :, 1] = begin
    return torch.from_numpy(edge_index.reshape(2, -1))


def edges_from_bond_table(table: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """``[B, 2 + F]`` rows ``(begin, end, *features)`` -> ``(edge_index, edge_attr [2B, F])``."""
    edge_attr = np.repeat(table[:, 2:], 2, axis=0)
    return edge_index_from_bonds(table[:, 0], table[:, 1]), torch.from_numpy(edge_attr)


def sorted_bond_table(rows: list[tuple[int, ...]], width: int) -> np.ndarray:
    """``[B, 2 + F]`` array of ``(i, j, *features)`` rows with ``i < j``, sorted by atom pair."""
    rows.sort()
    return np.array(rows, dtype=np.int64).reshape(-1, width)


FINGERPRINT_KINDS = ("ecfp", "imolclr")


class GraphFeaturizer:
    """Base class of the ``Mol -> Data`` featurizers (subclasses implement :meth:`graph`).

    A featurizer is a pure, picklable callable: no I/O, no randomness. Its :meth:`to_dict` is
    what checkpoints and graph-store keys record; :func:`molssl.featurize.featurizer_from_dict`
    rebuilds an equal featurizer from it.

    Args:
        hydrogens: hydrogen policy, ``"implicit"`` (default) or ``"explicit"``.
        fingerprint: add ``data.fp`` (bool ``[1, fingerprint_bits]``), the ECFP bits of the
            heavy-atom molecule (the same under both hydrogen policies).
        fragments: add ``data.frag`` (long ``[N]``, BRICS fragment id of each atom, ``-1`` when
            in no kept fragment) and ``data.num_frags`` (long ``[1]``).
        fingerprint_kind: ``"ecfp"`` (default): ``data.fp`` holds ECFP bits compared with bit
            Tanimoto. ``"imolclr"``: iMolCLR's exact choice instead, feature-invariant Morgan
            count fingerprints (radius ``fingerprint_radius``) of the molecule with explicit
            hydrogens, stored as ``data.fp_count`` (long ``[K]`` keys, see
            :func:`molssl.fingerprints.imolclr_count_fingerprint`) and ``data.fp_count_num``
            (long ``[1]``), compared with count Tanimoto.
        fingerprint_radius: ECFP radius (default 2, i.e. ECFP4).
        fingerprint_bits: ECFP length (default 2048).
        fragment_min_atoms: smallest BRICS fragment kept (default 4).
        descriptors: add ``data.desc`` (float32 ``[1, D]``), the RDKit 2D descriptors of
            :data:`molssl.featurize.descriptors.DESCRIPTOR_NAMES` of the heavy-atom molecule
            (NaN where RDKit fails); the targets of the ``descriptors`` objective.
        max_smiles_length: longest SMILES accepted (default 10,000 characters).
        standardize: featurize the largest fragment, neutralized
            (:func:`molssl.featurize.standardize.standardize_mol`), so every salt form of a
            compound gives the same graph; ``data.smiles`` stays the input. Default off.

    Raises:
        ValueError: ``hydrogens`` names no policy.
    """

    name: ClassVar[str] = ""
    atom_feature_sizes: ClassVar[tuple[int, ...]] = ()
    bond_feature_sizes: ClassVar[tuple[int, ...]] = ()
    self_loop_bond: ClassVar[tuple[int, ...]] = ()
    mask_atom: ClassVar[tuple[int, ...]] = ()

    def __init__(
        self,
        hydrogens: HydrogenPolicy | str = HydrogenPolicy.IMPLICIT,
        fingerprint: bool = False,
        fragments: bool = False,
        *,
        fingerprint_kind: str = "ecfp",
        fingerprint_radius: int = 2,
        fingerprint_bits: int = 2048,
        fragment_min_atoms: int = 4,
        descriptors: bool = False,
        max_smiles_length: int = DEFAULT_MAX_SMILES_LENGTH,
        standardize: bool = False,
    ) -> None:
        self.hydrogens = HydrogenPolicy.coerce(hydrogens)
        self.fingerprint = bool(fingerprint)
        self.fragments = bool(fragments)
        if fingerprint_kind not in FINGERPRINT_KINDS:
            raise ValueError(
                f"fingerprint_kind={fingerprint_kind!r}; choose from {list(FINGERPRINT_KINDS)}"
            )
        self.fingerprint_kind = fingerprint_kind
        self.fingerprint_radius = int(fingerprint_radius)
        self.fingerprint_bits = int(fingerprint_bits)
        self.fragment_min_atoms = int(fragment_min_atoms)
        self.descriptors = bool(descriptors)
        self.max_smiles_length = int(max_smiles_length)
        self.standardize = bool(standardize)

    # ------------------------------------------------------------------ subclass interface
    def graph(
        self, mol: Chem.Mol, smiles: str | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(x long[N, F_atom], edge_index long[2, E], edge_attr long[E, F_bond])`` of ``mol``.

        Bonds are ordered by their atom pair ``(i, j)``, ``i < j``; bond ``k`` becomes the
        directed edges ``2k`` (``i -> j``) and ``2k + 1`` (``j -> i``), ``E = 2 * num_bonds``.

        Args:
            mol: the molecule, already under the featurizer's hydrogen policy.
            smiles: the string ``mol`` was parsed from, when ``mol`` is exactly RDKit's parse of
                it (None otherwise: ``Mol`` inputs, explicit hydrogens); a scheme may read it to
                skip RDKit calls, never to change the result.
        """
        raise NotImplementedError

    # ------------------------------------------------------------------ calling
    def __call__(self, mol: str | Chem.Mol) -> Data:
        """Featurize a SMILES string or an RDKit molecule.

        Args:
            mol: a SMILES string (parsed with :func:`~molssl.featurize.parse_smiles` under this
                featurizer's hydrogen policy) or an RDKit ``Mol`` (brought to the policy).

        Returns:
            ``Data(x, edge_index, edge_attr, smiles)`` plus ``fp`` / ``frag`` / ``num_frags``
            when asked for. ``smiles`` is the input string stripped, or RDKit's canonical SMILES
            of a ``Mol`` input.

        Raises:
            InvalidSmilesError: the input is not a valid SMILES string (or is None, NaN, ...).
        """
        source = None
        if isinstance(mol, Chem.Mol):
            smiles = Chem.MolToSmiles(mol)
            if self.standardize:
                from molssl.featurize.standardize import standardize_mol

                mol = standardize_mol(apply_hydrogen_policy(mol, HydrogenPolicy.IMPLICIT))
            heavy = (
                apply_hydrogen_policy(mol, HydrogenPolicy.IMPLICIT)
                if self.fingerprint or self.descriptors
                else mol
            )
            graph_mol = apply_hydrogen_policy(mol, self.hydrogens)
        else:
            heavy = parse_smiles(mol, HydrogenPolicy.IMPLICIT, max_length=self.max_smiles_length)
            smiles = source = mol.strip()
            if self.standardize:
                from molssl.featurize.standardize import standardize_mol

                heavy = standardize_mol(heavy)
                source = None  # atoms no longer follow the string
            graph_mol = heavy
            if self.hydrogens is HydrogenPolicy.EXPLICIT:
                graph_mol = Chem.AddHs(heavy)
                source = None  # atoms no longer follow the string
        x, edge_index, edge_attr = self.graph(graph_mol, source)
        data = new_data(
            {"x": x, "edge_index": edge_index, "edge_attr": edge_attr, "smiles": smiles}
        )
        if self.fingerprint and self.fingerprint_kind == "imolclr":
            from molssl.fingerprints import imolclr_count_fingerprint

            keys = imolclr_count_fingerprint(heavy, radius=self.fingerprint_radius)
            data.fp_count = keys
            data.fp_count_num = torch.tensor([keys.numel()], dtype=torch.long)
        elif self.fingerprint:
            from molssl.fingerprints import ecfp_bits

            data.fp = ecfp_bits(heavy, radius=self.fingerprint_radius, n_bits=self.fingerprint_bits)
        if self.fragments:
            from molssl.fragments import brics_fragment_ids

            frag, num_frags = brics_fragment_ids(graph_mol, min_atoms=self.fragment_min_atoms)
            data.frag = frag
            data.num_frags = torch.tensor([num_frags], dtype=torch.long)
        if self.descriptors:
            from molssl.featurize.descriptors import compute_descriptors

            data.desc = torch.from_numpy(compute_descriptors(heavy)).unsqueeze(0)
        return data

    # ------------------------------------------------------------------ config
    def to_dict(self) -> dict[str, Any]:
        """JSON-ready config: scheme name and version, hydrogen policy and every option.

        ``descriptors`` appears only when on, so configs (and store keys) of featurizers without
        it are those of earlier versions.
        """
        config = {
            "name": self.name,
            "scheme_version": SCHEME_VERSION,
            "hydrogens": self.hydrogens.value,
            "fingerprint": self.fingerprint,
            "fragments": self.fragments,
            "fingerprint_kind": self.fingerprint_kind,
            "fingerprint_radius": self.fingerprint_radius,
            "fingerprint_bits": self.fingerprint_bits,
            "fragment_min_atoms": self.fragment_min_atoms,
            "max_smiles_length": self.max_smiles_length,
        }
        if self.descriptors:
            config["descriptors"] = True
        if self.standardize:
            config["standardize"] = True
        return config

    @property
    def config(self) -> dict[str, Any]:
        """Alias of :meth:`to_dict`."""
        return self.to_dict()

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, GraphFeaturizer):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    def __hash__(self) -> int:
        return hash(tuple(sorted(self.to_dict().items())))

    def __repr__(self) -> str:
        options = ", ".join(f"{k}={v!r}" for k, v in self.to_dict().items() if k != "name")
        return f"{type(self).__name__}({options})"
