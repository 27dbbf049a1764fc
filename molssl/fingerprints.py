"""Molecular fingerprints and their Tanimoto similarity matrices in torch.

Two fingerprints are provided:

- :func:`ecfp_bits`: a folded Morgan / ECFP bit vector, ``bool[1, n_bits]`` per molecule, which
  collates in a PyG ``Batch`` to ``bool[B, n_bits]``; :func:`tanimoto_matrix` turns a batch of
  them into a ``(B, B)`` similarity matrix with one matrix product.
- :func:`imolclr_count_fingerprint`: iMolCLR's exact choice (Wang et al. 2022, "Improving
  Molecular Contrastive Learning via Faulty Negative Mitigation and Decomposed Fragment
  Contrast", ``utils/weighted_nt_xent.py``): ``AllChem.GetMorganFingerprint(Chem.AddHs(mol), 2,
  useFeatures=True)``, an *unfolded* feature-invariant (FCFP-like) Morgan count fingerprint of the
  molecule with explicit hydrogens, compared with count Tanimoto
  ``sum_k min(a_k, b_k) / (sum_k a_k + sum_k b_k - sum_k min(a_k, b_k))``.

Storage of the count fingerprint (exact, no folding): count Tanimoto equals the binary Tanimoto
of the *unary expansion* ``{(feature, t) : 1 <= t <= count(feature)}``, because
``min(a, b) = |{1..a} & {1..b}|``. Each molecule therefore stores the sorted, unique int64 keys
``(feature_id << 20) | t`` (``feature_id`` is RDKit's unsigned 32-bit id, ``t < 2**20``), a
``long[K]`` tensor that a PyG ``Batch`` concatenates, together with its length ``long[1]`` so the
batch can be split again. :func:`count_tanimoto_matrix` maps the keys shared by at least two
molecules of the batch to dense columns and takes one matrix product; the result equals RDKit's
``DataStructs.TanimotoSimilarity`` on the unhashed fingerprints up to float32 rounding.

All similarity functions define ``0 / 0 = 0`` (two empty fingerprints, e.g. of an empty
molecule, count as dissimilar, so iMolCLR's weight ``1 - lambda_1 * s`` stays 1), as RDKit does.
"""

from __future__ import annotations

import functools
import logging

import numpy as np
import torch
from rdkit import Chem
from rdkit.Chem import rdFingerprintGenerator
from torch import Tensor

from molssl.contrastive.losses.ntxent import tanimoto_similarity

__all__ = [
    "COUNT_KEY_SHIFT",
    "count_tanimoto_matrix",
    "ecfp_bits",
    "imolclr_count_fingerprint",
    "tanimoto_matrix",
]

logger = logging.getLogger(__name__)

COUNT_KEY_SHIFT = 20
"""Bits reserved for the count index ``t`` in a count-fingerprint key."""


@functools.lru_cache(maxsize=8)
def _morgan_bits_generator(
    radius: int, n_bits: int
) -> rdFingerprintGenerator.FingerprintGenerator64:
    return rdFingerprintGenerator.GetMorganGenerator(radius=radius, fpSize=n_bits)


@functools.lru_cache(maxsize=8)
def _morgan_feature_generator(radius: int) -> rdFingerprintGenerator.FingerprintGenerator64:
    return rdFingerprintGenerator.GetMorganGenerator(
        radius=radius,
        atomInvariantsGenerator=rdFingerprintGenerator.GetMorganFeatureAtomInvGen(),
    )


def ecfp_bits(mol: Chem.Mol, radius: int = 2, n_bits: int = 2048) -> Tensor:
    """Folded Morgan (ECFP) bit vector of a molecule.

    Uses ``rdFingerprintGenerator.GetMorganGenerator(radius, fpSize=n_bits)`` with RDKit's
    defaults (connectivity invariants, no chirality, hydrogens only as implicit counts unless
    the molecule carries explicit H atoms). ``radius=2`` is ECFP4.

    Args:
        mol: RDKit molecule (the same ``Mol`` that is featurized).
        radius: Morgan radius. Default 2.
        n_bits: Fingerprint length. Default 2048.

    Returns:
        ``torch.bool`` tensor of shape ``(1, n_bits)`` (collates to ``(B, n_bits)``).

    Raises:
        ValueError: If ``radius < 0`` or ``n_bits < 1``.
    """
    if radius < 0 or n_bits < 1:
        raise ValueError(f"need radius >= 0 and n_bits >= 1, got radius={radius}, n_bits={n_bits}")
    arr = _morgan_bits_generator(radius, n_bits).GetFingerprintAsNumPy(mol)
    return torch.from_numpy(arr.astype(np.bool_)).unsqueeze(0)


def imolclr_count_fingerprint(mol: Chem.Mol, radius: int = 2, add_hs: bool = True) -> Tensor:
    """iMolCLR's count fingerprint, stored exactly as unary-expanded keys.

    Feature-invariant Morgan count fingerprint (``useFeatures=True``, radius 2, unfolded) of
    ``Chem.AddHs(mol)``, identical to RDKit's legacy ``AllChem.GetMorganFingerprint(Chem.AddHs(
    mol), 2, useFeatures=True)``. See the module docstring for the key layout.

    Args:
        mol: RDKit molecule.
        radius: Morgan radius. Default 2 (iMolCLR).
        add_hs: Add explicit hydrogens first, as iMolCLR does. Default True.

    Returns:
        Sorted unique ``torch.long`` keys of shape ``(K,)``, ``K`` the sum of all feature counts.
        Store ``torch.tensor([K])`` beside it to split a collated batch.

    Raises:
        ValueError: If ``radius < 0``.
    """
    if radius < 0:
        raise ValueError(f"radius must be >= 0, got {radius}")
    if add_hs:
        mol = Chem.AddHs(mol)
    counts = _morgan_feature_generator(radius).GetSparseCountFingerprint(mol).GetNonzeroElements()
    if not counts:
        return torch.zeros(0, dtype=torch.long)
    ids = torch.tensor(list(counts.keys()), dtype=torch.long)
    reps = torch.tensor(list(counts.values()), dtype=torch.long)
    if int(reps.max()) >= 1 << COUNT_KEY_SHIFT:
        raise ValueError(f"a feature count of {int(reps.max())} does not fit the key layout")
    starts = torch.cumsum(reps, 0) - reps
    t = torch.arange(int(reps.sum())) - starts.repeat_interleave(reps) + 1
    keys = (ids.repeat_interleave(reps) << COUNT_KEY_SHIFT) | t
    return torch.sort(keys).values


def tanimoto_matrix(bits: Tensor, other: Tensor | None = None) -> Tensor:
    """Pairwise Tanimoto similarity of binary fingerprints with one matrix product.

    ``inter = A @ B.T`` (float), ``union = |a| + |b| - inter``, ``s = inter / union`` and
    ``0 / 0 = 0``. Matches ``DataStructs.BulkTanimotoSimilarity`` to float32 precision.

    Args:
        bits: Fingerprints ``(B, n_bits)``, bool / uint8 / 0-1 float (e.g. the collated ``fp``).
        other: Optional ``(M, n_bits)`` fingerprints for a rectangular ``(B, M)`` result, e.g.
            local x gathered global batch in distributed training. Default: ``bits``.

    Returns:
        Float tensor ``(B, M)``.

    Raises:
        ValueError: If the inputs are not 2-D or their widths differ.
    """
    return tanimoto_similarity(bits, other)


def _key_split(keys: Tensor, num: Tensor, name: str) -> Tensor:
    if keys.dim() != 1 or num.dim() != 1:
        raise ValueError(
            f"{name}: keys and num must be 1-D (collated fp_count / fp_count_num), got shapes "
            f"{tuple(keys.shape)} and {tuple(num.shape)}"
        )
    if int(num.sum()) != keys.numel():
        raise ValueError(
            f"{name}: num sums to {int(num.sum())} but there are {keys.numel()} keys; pass the "
            "per-molecule key counts collated alongside the keys"
        )
    return torch.repeat_interleave(torch.arange(num.numel(), device=keys.device), num)


def count_tanimoto_matrix(
    keys: Tensor,
    num: Tensor,
    other_keys: Tensor | None = None,
    other_num: Tensor | None = None,
) -> Tensor:
    """Exact count Tanimoto between molecules stored by :func:`imolclr_count_fingerprint`.

    Keys found in only one molecule cannot contribute to an intersection between different
    molecules, so only keys shared by two or more molecules become dense columns; the intersection is one matrix product and the
    cardinalities are the per-molecule key counts.

    Args:
        keys: Concatenated keys of ``B`` molecules, ``long[K_total]``.
        num: Keys per molecule, ``long[B]`` (sums to ``K_total``).
        other_keys: Optional keys of ``M`` other molecules (rectangular result).
        other_num: Keys per other molecule, ``long[M]``; required with ``other_keys``.

    Returns:
        Float tensor ``(B, M)`` (``M = B`` without ``other_keys``); ``0 / 0 = 0``.

    Raises:
        ValueError: On inconsistent shapes or when only one of ``other_keys`` / ``other_num``
            is given.
    """
    if (other_keys is None) != (other_num is None):
        raise ValueError("pass both other_keys and other_num, or neither")
    rows = _key_split(keys, num, "keys")
    square = other_keys is None
    if square:
        other_keys, other_num, other_rows = keys, num, rows
        pool = keys
    else:
        other_rows = _key_split(other_keys, other_num, "other_keys")
        pool = torch.cat([keys, other_keys])
    uniq, inverse, counts = torch.unique(pool, return_inverse=True, return_counts=True)
    shared = counts >= 2
    column = torch.cumsum(shared.long(), 0) - 1
    n_cols = int(shared.sum())

    def dense(inv: Tensor, r: Tensor, n_rows: int) -> Tensor:
        keep = shared[inv]
        out = torch.zeros(n_rows, n_cols, device=keys.device)
        out[r[keep], column[inv[keep]]] = 1.0
        return out

    a = dense(inverse[: keys.numel()], rows, num.numel())
    b = a if square else dense(inverse[keys.numel() :], other_rows, other_num.numel())
    inter = a @ b.T
    if square:
        # keys unique to one molecule were dropped but still count in its self-intersection
        inter = inter + torch.diag(num.to(inter.dtype) - inter.diagonal())
    union = num.to(inter.dtype).unsqueeze(1) + other_num.to(inter.dtype).unsqueeze(0) - inter
    return torch.where(union > 0, inter / union.clamp_min(1.0), torch.zeros_like(inter))
