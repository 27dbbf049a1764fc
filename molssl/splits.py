"""Dataset splitters: pure functions from SMILES (or a size) to train/valid/test index arrays.

Every splitter has the signature ``splitter(smiles, sizes=(0.8, 0.1, 0.1), seed=None)`` and
returns ``(train_idx, valid_idx, test_idx)``, three ``np.ndarray`` of dtype ``int64`` indexing
into the input. Splitters are looked up by name in :data:`SPLITTERS` (see :func:`get_splitter`).
A multi-task dataset is split once and the split is shared by all of its targets.

- ``"scaffold"``: deterministic Bemis-Murcko scaffold split, identical to DeepChem's
  ``ScaffoldSplitter`` (MoleculeNet, Wu et al. 2018; used by MolCLR).
- ``"random_scaffold"``: seeded balanced scaffold split (chemprop's ``scaffold_balanced``;
  Yang et al. 2019, Hu et al. 2020).
- ``"random"``: seeded random split (MolCLR's QM9 protocol).

Invalid SMILES: the caller normally drops them before splitting. When some remain, the scaffold
splitters follow DeepChem: an unparseable SMILES gets no scaffold and is left out of every split
(a warning gives the count), while the size cutoffs are still computed on the full input length,
so the index arrays stay identical to DeepChem's on the same input.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import random
from collections.abc import Callable, Sequence

import numpy as np
from rdkit.Chem.Scaffolds import MurckoScaffold

from molssl.featurize.parsing import InvalidSmilesError, parse_smiles, quiet_rdkit_log

logger = logging.getLogger(__name__)

Split = tuple[np.ndarray, np.ndarray, np.ndarray]
Splitter = Callable[..., Split]

DEFAULT_SIZES: tuple[float, float, float] = (0.8, 0.1, 0.1)
_SIZE_TOLERANCE = 1e-6


def _as_index_array(indices: Sequence[int]) -> np.ndarray:
    return np.asarray(indices, dtype=np.int64).reshape(-1)


def validate_sizes(sizes: Sequence[float]) -> tuple[float, float, float]:
    """Checks split fractions.

    Args:
        sizes: ``(frac_train, frac_valid, frac_test)``.

    Returns:
        The fractions as a tuple of three floats.

    Raises:
        ValueError: If there are not exactly three fractions, one is negative or not finite, or
            they do not sum to 1 (within 1e-6).
    """
    fractions = tuple(float(s) for s in sizes)
    if len(fractions) != 3:
        raise ValueError(
            f"sizes must be three fractions (train, valid, test), got {tuple(sizes)!r}; "
            "pass e.g. (0.8, 0.1, 0.1)"
        )
    if any(not math.isfinite(f) or f < 0 for f in fractions):
        raise ValueError(f"split fractions must be finite and non-negative, got {fractions!r}")
    if abs(sum(fractions) - 1.0) > _SIZE_TOLERANCE:
        raise ValueError(f"split fractions must sum to 1, got {fractions!r} (sum {sum(fractions)})")
    return fractions  # type: ignore[return-value]


def murcko_scaffold(smiles: str, include_chirality: bool = False) -> str | None:
    """Bemis-Murcko scaffold SMILES of a molecule (Bemis & Murcko, J. Med. Chem. 1996).

    Args:
        smiles: Input SMILES.
        include_chirality: Keep stereo in the scaffold SMILES. Defaults to ``False``, as DeepChem.

    Returns:
        The scaffold SMILES (``""`` for an acyclic molecule) or ``None`` if
        :func:`molssl.featurize.parsing.parse_smiles` rejects ``smiles`` (unparseable, empty,
        NaN, not a str, over its length limit).
    """
    # parse_smiles (implicit hydrogens) is Chem.MolFromSmiles plus input checks, which is how
    # DeepChem parses, so scaffolds and hence splits match its ScaffoldSplitter.
    try:
        mol = parse_smiles(smiles)
    except InvalidSmilesError:
        return None
    return MurckoScaffold.MurckoScaffoldSmiles(mol=mol, includeChirality=include_chirality)


def scaffold_sets(smiles: Sequence[str], include_chirality: bool = False) -> list[list[int]]:
    """Groups molecule indices by Bemis-Murcko scaffold.

    Args:
        smiles: Input SMILES, length N.
        include_chirality: See :func:`murcko_scaffold`.

    Returns:
        One ascending index list per scaffold, in order of first occurrence. Unparseable SMILES
        belong to no group (a warning gives their count).
    """
    groups: dict[str, list[int]] = {}
    invalid: list[int] = []
    with quiet_rdkit_log():  # invalid rows are counted below, not printed by RDKit
        for index, smi in enumerate(smiles):
            scaffold = murcko_scaffold(smi, include_chirality)
            if scaffold is None:
                invalid.append(index)
            else:
                groups.setdefault(scaffold, []).append(index)
    if invalid:
        logger.warning(
            "%d of %d SMILES could not be parsed and are left out of every split "
            "(first indices: %s); drop invalid molecules before splitting",
            len(invalid),
            len(smiles),
            invalid[:10],
        )
    return list(groups.values())


def scaffold_split(
    smiles: Sequence[str],
    sizes: Sequence[float] = DEFAULT_SIZES,
    seed: int | None = None,
) -> Split:
    """Deterministic scaffold split, identical to ``deepchem.splits.ScaffoldSplitter``.

    Scaffold sets are sorted by (size, first index) descending and assigned greedily: a set
    goes to train unless that would exceed ``frac_train * N``, else to valid unless train +
    valid would exceed ``(frac_train + frac_valid) * N``, else to test. Indices within each
    split are in that set order (not sorted), exactly as DeepChem returns them.

    Args:
        smiles: Input SMILES, length N. Unparseable ones are left out (see module docstring).
        sizes: ``(frac_train, frac_valid, frac_test)``. Defaults to ``(0.8, 0.1, 0.1)``.
        seed: Ignored (the split is deterministic); accepted for the common splitter signature.

    Returns:
        ``(train_idx, valid_idx, test_idx)`` as int64 arrays.

    Raises:
        ValueError: If ``sizes`` is invalid (see :func:`validate_sizes`).
    """
    frac_train, frac_valid, _ = validate_sizes(sizes)
    n = len(smiles)
    sets = sorted(scaffold_sets(smiles), key=lambda s: (len(s), s[0]), reverse=True)
    train_cutoff = frac_train * n
    valid_cutoff = (frac_train + frac_valid) * n
    train: list[int] = []
    valid: list[int] = []
    test: list[int] = []
    for index_set in sets:
        if len(train) + len(index_set) > train_cutoff:
            if len(train) + len(valid) + len(index_set) > valid_cutoff:
                test += index_set
            else:
                valid += index_set
        else:
            train += index_set
    return _as_index_array(train), _as_index_array(valid), _as_index_array(test)


def random_scaffold_split(
    smiles: Sequence[str],
    sizes: Sequence[float] = DEFAULT_SIZES,
    seed: int | None = 0,
) -> Split:
    """Seeded balanced scaffold split (chemprop's ``scaffold_balanced``; Hu et al. 2020).

    Scaffold sets larger than half the valid or half the test size are "big": they come first,
    shuffled, then the shuffled small sets. Sets are assigned greedily to train while it stays
    within ``frac_train * N``, then to valid while within ``frac_valid * N``, else to test, so
    big scaffolds tend to land in train and the held-out splits get many small scaffolds. The
    shuffles use ``random.Random(seed)`` as chemprop does. Indices within each split are
    ascending.

    Args:
        smiles: Input SMILES, length N. Unparseable ones are left out (see module docstring).
        sizes: ``(frac_train, frac_valid, frac_test)``. Defaults to ``(0.8, 0.1, 0.1)``.
        seed: Seed of the shuffles. Defaults to 0; ``None`` draws fresh OS entropy.

    Returns:
        ``(train_idx, valid_idx, test_idx)`` as int64 arrays.

    Raises:
        ValueError: If ``sizes`` is invalid (see :func:`validate_sizes`).
    """
    frac_train, frac_valid, frac_test = validate_sizes(sizes)
    n = len(smiles)
    train_size, valid_size, test_size = frac_train * n, frac_valid * n, frac_test * n
    big: list[list[int]] = []
    small: list[list[int]] = []
    for index_set in scaffold_sets(smiles):
        is_big = len(index_set) > valid_size / 2 or len(index_set) > test_size / 2
        (big if is_big else small).append(index_set)
    rng = random.Random(seed)
    rng.shuffle(big)
    rng.shuffle(small)
    train: list[int] = []
    valid: list[int] = []
    test: list[int] = []
    for index_set in big + small:
        if len(train) + len(index_set) <= train_size:
            train += index_set
        elif len(valid) + len(index_set) <= valid_size:
            valid += index_set
        else:
            test += index_set
    return tuple(np.sort(_as_index_array(part)) for part in (train, valid, test))  # type: ignore[return-value]


def random_split(
    n_or_smiles: int | Sequence[str],
    sizes: Sequence[float] = DEFAULT_SIZES,
    seed: int | None = 0,
) -> Split:
    """Seeded random split (the protocol MolCLR uses for QM9).

    A permutation of ``range(N)`` from ``np.random.default_rng(seed)`` is cut into
    ``floor(frac_valid * N)`` valid, ``floor(frac_test * N)`` test and the remaining train
    indices (train takes the rounding remainder).

    Args:
        n_or_smiles: The number of molecules N, or a sequence of N SMILES (not parsed).
        sizes: ``(frac_train, frac_valid, frac_test)``. Defaults to ``(0.8, 0.1, 0.1)``.
        seed: Seed of the permutation. Defaults to 0; ``None`` draws fresh OS entropy.

    Returns:
        ``(train_idx, valid_idx, test_idx)`` as int64 arrays, each in permutation order.

    Raises:
        ValueError: If ``sizes`` is invalid or N is negative.
    """
    _, frac_valid, frac_test = validate_sizes(sizes)
    n = int(n_or_smiles) if isinstance(n_or_smiles, int | np.integer) else len(n_or_smiles)
    if n < 0:
        raise ValueError(f"number of molecules must be non-negative, got {n}")
    perm = np.random.default_rng(seed).permutation(n).astype(np.int64)
    n_valid = math.floor(frac_valid * n)
    n_test = math.floor(frac_test * n)
    valid, test, train = np.split(perm, [n_valid, n_valid + n_test])
    return train, valid, test


SPLITTERS: dict[str, Splitter] = {
    "scaffold": scaffold_split,
    "random_scaffold": random_scaffold_split,
    "random": random_split,
}


def get_splitter(name: str) -> Splitter:
    """Looks up a splitter in :data:`SPLITTERS`.

    Args:
        name: One of ``"scaffold"``, ``"random_scaffold"``, ``"random"``.

    Returns:
        The splitter function.

    Raises:
        ValueError: If ``name`` is not registered.
    """
    try:
        return SPLITTERS[name]
    except KeyError:
        raise ValueError(f"unknown splitter {name!r}; choose one of {sorted(SPLITTERS)}") from None


def split_sha256(rows: np.ndarray, split: Sequence[np.ndarray]) -> str:
    """The identity of a split: SHA-256 of its file rows.

    The digest is taken of the compact JSON text ``[[train rows],[valid rows],[test rows]]``
    (``json.dumps(parts, separators=(",", ":"))``, UTF-8), where each part lists the 0-based
    data rows of the file (header excluded) in the order the split holds them. A predefined
    split (:mod:`molssl.predefined_splits`) holds its rows ascending; a splitter's order is its
    own. Rows dropped for invalid SMILES are not in any part, so the digest is of the split
    actually trained and tested on and can be recomputed from the file alone.

    Args:
        rows: ``int64[n]`` file row of each molecule (``TaskData.rows``).
        split: ``(train_idx, valid_idx, test_idx)`` positions into ``rows``.

    Returns:
        64 hex digits.
    """
    parts = [[int(r) for r in np.asarray(rows)[np.asarray(p, dtype=np.int64)]] for p in split]
    return hashlib.sha256(json.dumps(parts, separators=(",", ":")).encode()).hexdigest()
