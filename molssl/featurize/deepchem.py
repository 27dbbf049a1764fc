"""DeepChem interop: molssl graphs as a ``deepchem.feat.MolecularFeaturizer``.

Importing this module imports deepchem (slow, optional: ``pip install molssl[deepchem]``);
``import molssl.featurize`` does not import it, ``molssl.featurize.DeepChemMolGraphFeaturizer``
loads it on first access.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from deepchem.feat import GraphData, MolecularFeaturizer
from rdkit import Chem
from torch_geometric.data import Data

from molssl.featurize.registry import get_featurizer

_EXTRAS = ("fp", "frag", "num_frags")


class DeepChemMolGraphFeaturizer(MolecularFeaturizer):
    """A molssl featurizer inside DeepChem pipelines (``dc.data.CSVLoader``, ``featurize``).

    ``featurize(smiles_or_mols)`` returns an object array of ``deepchem.feat.GraphData`` with
    integer ``node_features`` ``[N, F_atom]``, ``edge_index`` ``[2, E]`` and ``edge_features``
    ``[E, F_bond]`` (the molssl scheme's category indices, not one-hot), plus ``fp`` / ``frag``
    / ``num_frags`` when asked for. Convert with :func:`graph_data_to_data` to keep the ``long``
    dtype molssl encoders need (``GraphData.to_pyg_graph()`` casts every feature to float).

    As with every DeepChem ``MolecularFeaturizer``, SMILES inputs are parsed by DeepChem and
    renumbered canonically unless ``use_original_atoms_order=True``; invalid ones yield an empty
    array and a logged warning.

    Args:
        featurizer: molssl scheme name, ``"molclr"`` (default) or ``"rich"``.
        hydrogens: ``"implicit"`` (default) or ``"explicit"``.
        fingerprint: add ECFP bits (``fp``, bool ``[1, 2048]``).
        fragments: add BRICS fragment ids (``frag`` ``[N]``, ``num_frags`` ``[1]``).
        use_original_atoms_order: keep the SMILES atom order (DeepChem's option).
    """

    def __init__(
        self,
        featurizer: str = "molclr",
        hydrogens: str = "implicit",
        fingerprint: bool = False,
        fragments: bool = False,
        use_original_atoms_order: bool = False,
    ) -> None:
        super().__init__(use_original_atoms_order=use_original_atoms_order)
        self.featurizer = featurizer
        self.hydrogens = hydrogens
        self.fingerprint = fingerprint
        self.fragments = fragments
        self.graph_featurizer = get_featurizer(
            featurizer, hydrogens=hydrogens, fingerprint=fingerprint, fragments=fragments
        )

    def _featurize(self, datapoint: Chem.Mol | str, **kwargs: Any) -> GraphData:
        """Featurize one RDKit molecule (or SMILES) into ``GraphData``.

        Raises:
            InvalidSmilesError: a SMILES input is invalid (DeepChem's ``featurize`` catches it).
        """
        data = self.graph_featurizer(datapoint)
        extras = {k: data[k].numpy() for k in _EXTRAS if k in data}
        return GraphData(
            node_features=data.x.numpy(),
            edge_index=data.edge_index.numpy(),
            edge_features=data.edge_attr.numpy(),
            **extras,
        )


def graph_data_to_data(graph: GraphData, smiles: str | None = None) -> Data:
    """``GraphData`` from :class:`DeepChemMolGraphFeaturizer` -> PyG ``Data`` with long features.

    Args:
        graph: one element of the featurizer's output.
        smiles: stored as ``data.smiles`` when given.

    Returns:
        ``Data(x long, edge_index long, edge_attr long[, fp, frag, num_frags][, smiles])``.
    """
    data = Data(
        x=torch.from_numpy(np.asarray(graph.node_features, dtype=np.int64)),
        edge_index=torch.from_numpy(np.asarray(graph.edge_index, dtype=np.int64)),
        edge_attr=torch.from_numpy(np.asarray(graph.edge_features, dtype=np.int64)),
    )
    for key in _EXTRAS:
        if key in graph.kwargs:
            data[key] = torch.from_numpy(np.asarray(graph.kwargs[key]))
    if smiles is not None:
        data.smiles = smiles
    return data
