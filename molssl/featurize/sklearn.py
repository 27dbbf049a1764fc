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
