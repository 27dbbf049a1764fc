"""Atom tokens of a SMILES string: a fast source of atom types for the featurizers.

Reading each atom through RDKit's Python wrappers costs about a microsecond per atom, as much
as the rest of featurization together. RDKit creates atoms in the order they are written in
the SMILES, so the atom tokens of the string give the atom types directly. The caller checks
that the token count equals the molecule's atom count (explicit ``[H]`` atoms removed by RDKit,
or anything this tokenizer misreads, make them differ) and otherwise reads the molecule itself.
"""

from __future__ import annotations

import re

from rdkit import Chem, rdBase

from molssl.featurize import vocab

# Bracket atoms, the organic subset (two-letter symbols first) and the dummy atom. Everything
# else in a SMILES (bonds, branches, ring closures, dots) is skipped by findall.
_ATOM_TOKEN = re.compile(r"\[[^\]]*\]|Br?|Cl?|[NOPSFI]|[bcnops]|\*")
_CACHE_LIMIT = 100_000
# token -> atom-type index, or -1 when RDKit does not read the token as one atom.
_TYPE_INDEX: dict[str, int] = {}


def atom_tokens(smiles: str) -> list[str] | None:
    """The atom tokens of a plain SMILES, in RDKit's atom order.

    Returns:
        The tokens, or None when the string holds text this tokenizer does not handle
        (whitespace followed by a name, CXSMILES extensions after ``|``).
    """
    if "|" in smiles or len(smiles.split()) != 1:
        return None
    return _ATOM_TOKEN.findall(smiles)


def _type_index_of(token: str) -> int:
    with rdBase.BlockLogs():
        mol = Chem.MolFromSmiles(token, sanitize=False)
    if mol is None or mol.GetNumAtoms() != 1:
        return -1
    return vocab.atom_type_index(mol.GetAtomWithIdx(0).GetAtomicNum())


def atom_type_indices(tokens: list[str]) -> list[int] | None:
    """Atom-type index (``vocab.atom_type_index``) of each token, as RDKit reads it.

    Each distinct token is parsed by RDKit once and cached.

    Returns:
        The indices, or None when a token is not one atom to RDKit.
    """
    cache = _TYPE_INDEX
    try:
        types = [cache[t] for t in tokens]
    except KeyError:
        types = []
        for token in tokens:
            index = cache.get(token)
            if index is None:
                index = _type_index_of(token)
                if len(cache) < _CACHE_LIMIT:
                    cache[token] = index
            types.append(index)
    return None if -1 in types else types
