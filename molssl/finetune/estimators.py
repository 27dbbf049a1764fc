"""scikit-learn estimators that fine-tune an encoder: ``MolPropertyRegressor`` / ``Classifier``.

``MolPropertyClassifier(init="ckpt:runs/x/best.pt").fit(smiles, y)`` loads the encoder (see
:mod:`molssl.models.pretrained`), puts an MLP head on it and fine-tunes both with the same loop
as ``molssl finetune``. The constructor only stores its arguments (scikit-learn's convention),
so ``clone``, ``get_params`` / ``set_params``, ``cross_val_score`` and ``GridSearchCV`` work.
``X`` is a sequence of SMILES or the graphs of a :class:`~molssl.featurize.MolGraphTransformer`
built with the init's featurizer (``"molclr"`` for ``random`` and the MolCLR weights).

A predefined split goes to ``fit(X, y, split=...)``: one of ``train`` / ``valid`` / ``test`` per
row (a CSV's split column as it is) or ``{"train": [...], "valid": [...]}`` of row positions
(:mod:`molssl.predefined_splits`). ``valid`` rows choose the best epoch (and early stopping);
``test`` rows are left out of fitting. Being one value per row, it is sliced with ``X`` by
scikit-learn's cross-validation (``cross_val_score(..., params={"split": column})``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from torch_geometric.data import Data

from molssl.featurize import GraphFeaturizer, featurize_many
from molssl.finetune.model import FinetuneModel, to_outputs
from molssl.finetune.prediction import predict_graphs
from molssl.finetune.training import TrainSettings, train_model
from molssl.metrics import get_metric

logger = logging.getLogger(__name__)


def _rows(X: Any) -> list[Any]:  # noqa: N803
    shape = getattr(X, "shape", None)
    if shape is not None and len(shape) == 2:
        if shape[1] != 1:
            raise ValueError(f"expected one SMILES column, got an input of shape {shape}")
        return list(X.iloc[:, 0] if hasattr(X, "iloc") else X[:, 0])
    return list(X)


def _graphs(X: Any, featurizer: GraphFeaturizer) -> list[Data]:  # noqa: N803
    """Featurize SMILES (or check given graphs); a bad row raises, naming it."""
    rows = _rows(X)
    if rows and all(isinstance(r, Data) for r in rows):
        width = len(featurizer.atom_feature_sizes)
        bad = next((i for i, g in enumerate(rows) if g.x.shape[1] != width), None)
        if bad is not None:
            raise ValueError(
                f"graph {bad} has {rows[bad].x.shape[1]} atom feature columns, the encoder reads "
                f"{width} ({featurizer.name}); build MolGraphTransformer(featurizer="
                f"{featurizer.name!r}) or pass SMILES"
            )
        return rows
    if any(r is None or isinstance(r, Data) for r in rows):
        raise ValueError(
            "X mixes graphs with SMILES or holds None (an invalid molecule); "
            "use MolGraphTransformer(errors='raise') or pass SMILES"
        )
    result = featurize_many([str(r) for r in rows], featurizer)
    if result.failures:
        shown = "; ".join(f"row {f.index} {f.smiles!r}: {f.reason}" for f in result.failures[:3])
        raise ValueError(
            f"{len(result.failures)} of {len(rows)} SMILES could not be featurized "
            f"({shown}); fix or drop them before fitting/predicting"
        )
    return list(result.graphs)


class _MolPropertyEstimator(BaseEstimator):
    """Shared fit/predict of the two estimators (see the module docstring).

    Args:
        init: Encoder weights: ``"random"``, ``"ckpt:PATH"`` (or a path), ``"molssl:NAME"``
            (an encoder released with molssl: ``molssl models``), ``"molclr-gcn:PATH"``,
            ``"molclr-gin:PATH"``.
        encoder: :class:`~molssl.models.EncoderConfig` fields of a random encoder.
        epochs, batch_size, encoder_lr, head_lr, weight_decay, dropout: As ``molssl finetune``
            (defaults: 15 epochs, the quick profile; MolCLR's 32, 1e-4, 5e-4, 1e-6, 0.3).
        head_layers, head_hidden: MLP head depth and width (``None``: ``out // 2``).
        validation_fraction: Share of the training molecules held out (seeded) to keep the
            best-validation epoch's weights; 0 (default) trains every epoch, keeps the last.
            With ``fit(..., split=)`` it carves validation rows out of a split's ``train`` rows
            when the split has no ``valid`` rows.
        patience: Early stopping on that hold-out (``None``: off).
        seed: Seed of the initialisation, hold-out and batch order.
        device: ``"cpu"`` (default), ``"cuda"`` or ``"auto"``.
    """

    _task_type = "regression"
    _metric = "rmse"

    def __init__(
        self,
        init: str = "random",
        encoder: dict[str, Any] | None = None,
        epochs: int = 15,
        batch_size: int = 32,
        encoder_lr: float = 1e-4,
        head_lr: float = 5e-4,
        weight_decay: float = 1e-6,
        dropout: float = 0.3,
        head_layers: int = 2,
        head_hidden: int | None = None,
        validation_fraction: float = 0.0,
        patience: int | None = None,
        seed: int = 0,
        device: str = "cpu",
    ) -> None:
        self.init = init
        self.encoder = encoder
        self.epochs = epochs
        self.batch_size = batch_size
        self.encoder_lr = encoder_lr
        self.head_lr = head_lr
        self.weight_decay = weight_decay
        self.dropout = dropout
        self.head_layers = head_layers
        self.head_hidden = head_hidden
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.seed = seed
        self.device = device

    def _fit_targets(self, X: Any, targets: np.ndarray, split: Any = None) -> None:  # noqa: N803
        from molssl.contrastive.training.seed import seed_everything
        from molssl.finetune.config import resolve_device
        from molssl.models.pretrained import load_pretrained

        if not 0.0 <= self.validation_fraction < 1.0:
            raise ValueError(
                f"validation_fraction must be in [0, 1), got {self.validation_fraction}"
            )
        device = resolve_device(self.device)
        generator = seed_everything(self.seed)
        loaded = load_pretrained(self.init, self.dropout, self.encoder or {})
        graphs = _graphs(X, loaded.featurizer)
        if len(graphs) != len(targets):
            raise ValueError(f"X has {len(graphs)} molecules but y has {len(targets)} rows")
        parts = self._split(split, len(graphs))
        model = FinetuneModel(
            loaded.encoder, targets.shape[1], self._task_type, self.head_hidden, self.head_layers
        )
        settings = TrainSettings(
            epochs=self.epochs,
            batch_size=self.batch_size,
            encoder_lr=self.encoder_lr,
            head_lr=self.head_lr,
            weight_decay=self.weight_decay,
            patience=self.patience,
        )
        train_model(
            model, graphs, targets, parts, get_metric(self._metric), settings, generator, device
        )
        self.model_ = model.eval()
        self.featurizer_ = loaded.featurizer
        self.n_targets_ = targets.shape[1]

    def _split(self, split: Any, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(train, valid, empty)`` positions: the given split, or a seeded hold-out."""
        from molssl.predefined_splits import InvalidSplitError, rows_split

        rows = np.arange(n, dtype=np.int64)
        if split is not None:
            given = rows_split(split, n)
            rows, valid = given.parts[0], given.parts[1]
            if len(rows) == 0:
                raise InvalidSplitError("split: no train rows; mark the rows to fit on train")
            if len(given.parts[2]):
                logger.info(
                    "split: %d rows marked test are left out of fitting", len(given.parts[2])
                )
            if len(valid):
                if self.validation_fraction:
                    raise ValueError(
                        f"split gives valid rows and validation_fraction="
                        f"{self.validation_fraction} asks for a hold-out; set "
                        "validation_fraction=0 or drop the valid rows"
                    )
                return rows, valid, np.zeros(0, np.int64)
        order = rows[np.random.default_rng(self.seed).permutation(len(rows))]
        n_valid = int(round(self.validation_fraction * len(rows)))
        return np.sort(order[n_valid:]), np.sort(order[:n_valid]), np.zeros(0, np.int64)

    def _outputs(self, X: Any) -> np.ndarray:  # noqa: N803
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self, "model_")
        graphs = _graphs(X, self.featurizer_)
        if not graphs:
            return np.zeros((0, self.n_targets_))
        device = next(self.model_.parameters()).device
        raw = predict_graphs(self.model_, graphs, np.arange(len(graphs)), device)
        return to_outputs(raw, self._task_type)

    def __sklearn_tags__(self):  # inputs are SMILES strings (or graphs), not numbers
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True
        tags.input_tags.two_d_array = False
        return tags


class MolPropertyRegressor(RegressorMixin, _MolPropertyEstimator):
    """Fine-tuned encoder + MLP head as a scikit-learn regressor (targets standardised inside).

    ``y`` is ``[n]`` or ``[n, T]`` (NaN = missing label); ``predict`` returns the same shape.
    """

    def fit(self, X: Sequence[str], y: Any, split: Any = None) -> MolPropertyRegressor:  # noqa: N803
        """Fine-tune on SMILES (or graphs) ``X`` and targets ``y``.

        Args:
            X: SMILES or graphs.
            y: Targets ``[n]`` or ``[n, T]``.
            split: Optional predefined split of the rows (see the module docstring).

        Raises:
            ValueError: An invalid SMILES (named), ``X`` and ``y`` of different lengths, or a
                malformed ``split`` (``InvalidSplitError``).
        """
        y = np.array(y, dtype=np.float64)  # a copy: torch cannot wrap a read-only view
        self.single_target_ = y.ndim == 1
        self._fit_targets(X, y.reshape(len(y), -1), split)
        return self

    def predict(self, X: Sequence[str]) -> np.ndarray:  # noqa: N803
        """Predictions in target units, ``float64[n]`` (or ``[n, T]``)."""
        out = self._outputs(X)
        return out[:, 0] if self.single_target_ else out


class MolPropertyClassifier(ClassifierMixin, _MolPropertyEstimator):
    """Fine-tuned encoder + MLP head as a binary scikit-learn classifier.

    ``y`` holds two classes of any type (``classes_``, sorted); ``predict_proba`` returns
    ``[n, 2]`` and ``predict`` the class of probability >= 0.5.
    """

    _task_type = "classification"
    _metric = "roc_auc"

    def fit(self, X: Sequence[str], y: Any, split: Any = None) -> MolPropertyClassifier:  # noqa: N803
        """Fine-tune on SMILES (or graphs) ``X`` and binary labels ``y``.

        Args:
            X: SMILES or graphs.
            y: Two classes of any type.
            split: Optional predefined split of the rows (see the module docstring).

        Raises:
            ValueError: ``y`` has other than two classes, an invalid SMILES, ``X`` and ``y``
                of different lengths, or a malformed ``split`` (``InvalidSplitError``).
        """
        y = np.asarray(y)
        self.classes_ = np.unique(y)
        if y.ndim != 1 or len(self.classes_) != 2:
            raise ValueError(
                f"MolPropertyClassifier is binary: y must be 1-D with two classes, "
                f"got shape {y.shape} and classes {self.classes_[:5]}"
            )
        labels = (y == self.classes_[1]).astype(np.float64)
        self._fit_targets(X, labels[:, None], split)
        return self

    def predict_proba(self, X: Sequence[str]) -> np.ndarray:  # noqa: N803
        """``float64[n, 2]``: probabilities of ``classes_[0]`` and ``classes_[1]``."""
        p = self._outputs(X)[:, 0]
        return np.stack([1.0 - p, p], axis=1)

    def predict(self, X: Sequence[str]) -> np.ndarray:  # noqa: N803
        """The more probable class of each molecule."""
        return self.classes_[(self.predict_proba(X)[:, 1] >= 0.5).astype(int)]
