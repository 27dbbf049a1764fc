"""scikit-learn interop: a transformer from SMILES to molecular graphs."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sklearn.base import BaseEstimator, TransformerMixin
from torch_geometric.data import Data

from molssl.featurize.batch import featurize_many
from molssl.featurize.parsing import InvalidSmilesError
from molssl.featurize.registry import get_featurizer

_ERROR_MODES = ("raise", "skip", "none")


class MolGraphTransformer(TransformerMixin, BaseEstimator):
    """SMILES -> list of PyG ``Data``, as a scikit-learn transformer (``fit`` is a no-op).

    Its parameters mirror the featurizer's, so ``get_params`` / ``set_params`` / ``clone`` and
    grid search work; the graphs feed a downstream step that accepts ``Data`` lists (a GNN
    wrapper, or a ``FunctionTransformer`` that pools them).

    Args:
        featurizer: registered scheme name, ``"molclr"`` (default) or ``"rich"``.
        hydrogens: ``"implicit"`` (default) or ``"explicit"``.
        fingerprint: add ECFP bits as ``data.fp``.
        fragments: add BRICS fragment ids as ``data.frag`` / ``data.num_frags``.
        errors: what an invalid row does: ``"raise"`` (default) raises
            :class:`~molssl.featurize.InvalidSmilesError` naming the first bad row;
            ``"skip"`` drops it (the output is shorter than ``X``; the kept input rows are in
            ``kept_indices_`` after each ``transform``); ``"none"`` puts ``None`` in its place
            (the output stays aligned with ``X``).
        workers: processes used by ``transform`` (see :func:`~molssl.featurize.featurize_many`).

    Example:
        >>> from sklearn.pipeline import make_pipeline
        >>> graphs = make_pipeline(MolGraphTransformer()).fit_transform(["CCO", "c1ccccc1"])
        >>> len(graphs)
        2
    """

    def __init__(
        self,
        featurizer: str = "molclr",
        hydrogens: str = "implicit",
        fingerprint: bool = False,
        fragments: bool = False,
        errors: str = "raise",
        workers: int = 1,
    ) -> None:
        self.featurizer = featurizer
        self.hydrogens = hydrogens
        self.fingerprint = fingerprint
        self.fragments = fragments
        self.errors = errors
        self.workers = workers

    def fit(self, X: Iterable[str], y: Any = None) -> MolGraphTransformer:  # noqa: N803
        """No-op (featurization learns nothing); checks the parameters and returns ``self``.

        Raises:
            ValueError: ``errors`` is not one of ``"raise"``, ``"skip"``, ``"none"``.
            KeyError: ``featurizer`` names no registered scheme.
        """
        self._build()
        return self

    def _build(self):
        if self.errors not in _ERROR_MODES:
            raise ValueError(f"errors must be one of {_ERROR_MODES}, got {self.errors!r}")
        return get_featurizer(
            self.featurizer,
            hydrogens=self.hydrogens,
            fingerprint=self.fingerprint,
            fragments=self.fragments,
        )

    def transform(self, X: Iterable[str]) -> list[Data | None]:  # noqa: N803
        """Featurize each SMILES of ``X`` (a list, array, pandas Series or one-column frame).

        Returns:
            A list of ``Data`` (with ``None`` entries under ``errors="none"``).

        Raises:
            InvalidSmilesError: a row is invalid and ``errors="raise"``.
        """
        rows = _as_rows(X)
        result = featurize_many(rows, self._build(), workers=self.workers)
        if result.failures and self.errors == "raise":
            first = result.failures[0]
            raise InvalidSmilesError(
                first.smiles,
                f"{first.reason} (row {first.index}; {len(result.failures)} bad rows in all; "
                "pass errors='skip' or errors='none' to keep going)",
            )
        self.kept_indices_ = result.indices
        if self.errors == "none":
            out: list[Data | None] = [None] * len(rows)
            for i, graph in zip(result.indices, result.graphs, strict=True):
                out[i] = graph
            return out
        return list(result.graphs)

    def __sklearn_tags__(self):  # scikit-learn >= 1.6: inputs are strings, not numbers
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True
        tags.input_tags.two_d_array = False
        return tags


def _as_rows(X: Any) -> list[object]:  # noqa: N803
    """Flatten a 1-D container or a one-column 2-D one (DataFrame, ndarray) into a list."""
    shape = getattr(X, "shape", None)
    if shape is not None and len(shape) == 2:
        if shape[1] != 1:
            raise ValueError(f"expected one SMILES column, got an input of shape {shape}")
        values = X.iloc[:, 0] if hasattr(X, "iloc") else X[:, 0]
        return list(values)
    return list(X)


_POOLINGS = ("mean", "sum", "max")


class GraphPoolingTransformer(TransformerMixin, BaseEstimator):
    """Graphs -> fixed-width vectors, so :class:`MolGraphTransformer` output feeds any estimator.

    Every categorical atom column of ``x`` and bond column of ``edge_attr`` is one-hot encoded
    with the featurizer's declared sizes and pooled over the molecule, followed by the atom and
    bond counts: a bag-of-atom-and-bond-types descriptor (``mean`` gives fractions, ``sum``
    counts, ``max`` presence). ``None`` graphs (``MolGraphTransformer(errors="none")``) become NaN
    rows. Example::

        make_pipeline(MolGraphTransformer(), GraphPoolingTransformer(), RandomForestRegressor())

    Args:
        featurizer: Registered scheme the graphs were built with (``"molclr"``, ``"rich"``).
        pooling: ``"mean"`` (default), ``"sum"`` or ``"max"``.
    """

    def __init__(self, featurizer: str = "molclr", pooling: str = "mean") -> None:
        self.featurizer = featurizer
        self.pooling = pooling

    def _sizes(self) -> tuple[tuple[int, ...], tuple[int, ...]]:
        if self.pooling not in _POOLINGS:
            raise ValueError(f"pooling must be one of {_POOLINGS}, got {self.pooling!r}")
        scheme = get_featurizer(self.featurizer)
        return tuple(scheme.atom_feature_sizes), tuple(scheme.bond_feature_sizes)

    def fit(self, X: Any, y: Any = None) -> GraphPoolingTransformer:  # noqa: N803
        """Checks the parameters and records ``n_features_out_``; learns nothing."""
        atoms, bonds = self._sizes()
        self.n_features_out_ = sum(atoms) + sum(bonds) + 2
        return self

    def _pool(self, values: Any, sizes: tuple[int, ...], count: int) -> list[Any]:
        import numpy as np

        out = []
        for column, size in enumerate(sizes):
            ids = values[:, column].numpy() if count else np.zeros(0, np.int64)
            hist = np.bincount(np.clip(ids, 0, size - 1), minlength=size).astype(np.float32)
            if self.pooling == "mean":
                hist /= max(count, 1)
            elif self.pooling == "max":
                hist = (hist > 0).astype(np.float32)
            out.append(hist)
        return out

    def transform(self, X: Any) -> Any:  # noqa: N803
        """Pool each graph of ``X`` (a list of ``Data``, ``None`` allowed).

        Returns:
            ``float32[len(X), n_features_out_]``.

        Raises:
            ValueError: A graph with another number of feature columns than the featurizer's.
        """
        import numpy as np

        atoms, bonds = self._sizes()
        width = sum(atoms) + sum(bonds) + 2
        rows = list(X)
        out = np.full((len(rows), width), np.nan, dtype=np.float32)
        for i, graph in enumerate(rows):
            if graph is None:
                continue
            if graph.x.shape[1] != len(atoms) or graph.edge_attr.shape[1] != len(bonds):
                raise ValueError(
                    f"graph {i} does not come from the {self.featurizer!r} featurizer (columns "
                    f"{graph.x.shape[1]}/{graph.edge_attr.shape[1]}); set featurizer= to its scheme"
                )
            n_atoms, n_edges = int(graph.x.shape[0]), int(graph.edge_attr.shape[0])
            parts = self._pool(graph.x, atoms, n_atoms) + self._pool(
                graph.edge_attr, bonds, n_edges
            )
            if self.pooling == "sum":  # every bond is two directed edges
                for k in range(len(atoms), len(parts)):
                    parts[k] /= 2
            out[i] = np.concatenate([*parts, [n_atoms, n_edges // 2]])
        return out

    def get_feature_names_out(self, input_features: Any = None) -> Any:
        """``atom{c}_{k}``, ``bond{c}_{k}`` (column c, category k), ``n_atoms``, ``n_bonds``."""
        import numpy as np

        del input_features
        atoms, bonds = self._sizes()
        names = [f"atom{c}_{k}" for c, s in enumerate(atoms) for k in range(s)]
        names += [f"bond{c}_{k}" for c, s in enumerate(bonds) for k in range(s)]
        return np.asarray([*names, "n_atoms", "n_bonds"], dtype=object)

    def __sklearn_tags__(self):  # inputs are graphs, not numbers
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        return tags
