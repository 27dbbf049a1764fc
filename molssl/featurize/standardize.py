"""Opt-in standardization of molecules: the largest fragment, neutralized (RDKit MolStandardize).

A salt such as ``CN(C)CCCN1c2ccccc2CCc2ccccc21.Cl`` (imipramine hydrochloride) becomes its
parent ``CN(C)CCCN1c2ccccc2CCc2ccccc21``, and a charged acid or base (``CC(=O)[O-].[Na+]``) its
neutral form (``CC(=O)O``), so a model sees the same graph for every salt form of a compound.
Featurizers apply it when built with ``standardize=True`` (``--standardize`` of ``featurize``,
``finetune`` and ``predict``); a fine-tuned model records it, and ``predict`` applies it then.
"""

from __future__ import annotations

from typing import Any

from rdkit import Chem

_TOOLS: dict[str, Any] = {}


def _tools() -> tuple[Any, Any]:
    if not _TOOLS:  # built once per process; RDKit's objects are not picklable
        from rdkit.Chem.MolStandardize import rdMolStandardize

        _TOOLS["chooser"] = rdMolStandardize.LargestFragmentChooser(preferOrganic=True)
        _TOOLS["uncharger"] = rdMolStandardize.Uncharger()
    return _TOOLS["chooser"], _TOOLS["uncharger"]


def standardize_mol(mol: Chem.Mol) -> Chem.Mol:
    """The largest fragment of ``mol`` (organic ones first), neutralized where possible.

    Uses RDKit's ``rdMolStandardize.LargestFragmentChooser(preferOrganic=True)`` then
    ``Uncharger`` (protonates acids and deprotonates bases; a quaternary ammonium keeps its
    charge). ``mol`` is not changed.

    Args:
        mol: A sanitized molecule without explicit hydrogen atoms.

    Returns:
        A new molecule.
    """
    chooser, uncharger = _tools()
    return uncharger.uncharge(chooser.choose(mol))
