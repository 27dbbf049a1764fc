"""Supervised baseline: chemprop v2's D-MPNN trained from scratch through its Python API.

The directed message-passing network of Yang et al. (2019, "Analyzing learned molecular
representations for property prediction", J. Chem. Inf. Model.) as chemprop 2.x builds it with
its own defaults: ``BondMessagePassing`` (hidden 300, depth 3), ``NormAggregation``, a one-layer
FFN of width 300, no batch norm, Noam learning-rate schedule (1e-4 -> 1e-3 -> 1e-4, 2 warm-up
epochs), batch 64, targets standardised for regression. It trains on exactly the rows of the
benchmark's split, for the profile's epoch budget, and is tested with the checkpoint of the
lowest validation loss, as ``chemprop train`` selects it (of epochs tied on it, the later one, as
fine-tuning breaks its ties). Test predictions are scored by
:mod:`molssl.metrics`, the same code that scores every other method.

chemprop is an optional dependency (``pip install 'molssl[chemprop]'``). A missing or changed
chemprop raises :class:`ChempropUnavailableError` with one line saying what to install; the
benchmark runner records it as a failed cell and goes on.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import re
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from molssl.benchmark.baselines import BaselineResult, score_baseline
from molssl.finetune.tasks import TaskData
from molssl.splits import Split

logger = logging.getLogger(__name__)

SUPPORTED = ">=2.0,<3"
"""chemprop versions whose Python API this module uses."""

SELECTION = "chemprop default: checkpoint of the lowest validation loss (ties: the later epoch)"
"""How the tested weights are chosen (recorded in ``protocol.json``)."""


class ChempropUnavailableError(RuntimeError):
    """chemprop is not installed, or its Python API is not the 2.x API this baseline uses."""


def _install_hint() -> str:
    return f"pip install 'molssl[chemprop]' (chemprop{SUPPORTED})"


def chemprop_version() -> str | None:
    """The installed chemprop version, or ``None`` when it is not installed."""
    try:
        import chemprop
    except ImportError:
        return None
    return str(getattr(chemprop, "__version__", "unknown"))


def _api():
    """The chemprop 2.x modules this baseline uses, checked before any training starts.

    Raises:
        ChempropUnavailableError: Not installed, or a name this module calls is missing.
    """
    try:
        import lightning.pytorch as pl
        from chemprop import data, featurizers, models, nn
    except ImportError as err:
        raise ChempropUnavailableError(
            f"the chemprop baseline needs chemprop and lightning ({err}); {_install_hint()}"
        ) from None
    needed = {
        data: ("MoleculeDatapoint", "MoleculeDataset", "build_dataloader"),
        featurizers: ("SimpleMoleculeMolGraphFeaturizer",),
        models: ("MPNN",),
        nn: (
            "BondMessagePassing",
            "NormAggregation",
            "RegressionFFN",
            "BinaryClassificationFFN",
            "UnscaleTransform",
        ),
    }
    missing = [
        f"{m.__name__}.{n}" for m, names in needed.items() for n in names if not hasattr(m, n)
    ]
    if missing:
        raise ChempropUnavailableError(
            f"chemprop {chemprop_version()} lacks {', '.join(missing)}: its Python API changed; "
            f"{_install_hint()}"
        )
    return pl, data, featurizers, models, nn


@contextlib.contextmanager
def _quiet_lightning() -> Iterator[None]:
    """Lightning's per-fit INFO lines (accelerator, tips, checkpoint restores) to WARNING."""
    loggers = [logging.getLogger(n) for n in ("lightning.pytorch", "lightning.fabric")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.WARNING)
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)


def _build(task: TaskData, split: Split, seed: int, api) -> tuple:
    pl, data, featurizers, models, nn = api
    classification = task.spec.task_type == "classification"
    featurizer = featurizers.SimpleMoleculeMolGraphFeaturizer()
    points = [
        data.MoleculeDatapoint.from_smi(s, y)
        for s, y in zip(task.smiles, task.targets, strict=True)
    ]
    sets = [data.MoleculeDataset([points[i] for i in part], featurizer) for part in split]
    n_tasks = task.targets.shape[1]
    pl.seed_everything(seed, workers=True, verbose=False)
    if classification:
        ffn = nn.BinaryClassificationFFN(n_tasks=n_tasks)
    else:
        scaler = sets[0].normalize_targets()
        sets[1].normalize_targets(scaler)
        ffn = nn.RegressionFFN(
            n_tasks=n_tasks, output_transform=nn.UnscaleTransform.from_standard_scaler(scaler)
        )
    model = models.MPNN(nn.BondMessagePassing(), nn.NormAggregation(), ffn)
    loaders = [
        data.build_dataloader(sets[0], num_workers=0, seed=seed),
        data.build_dataloader(sets[1], num_workers=0, shuffle=False),
        data.build_dataloader(sets[2], num_workers=0, shuffle=False),
    ]
    return model, loaders


def chemprop_dmpnn(
    task: TaskData, split: Split, seed: int = 0, epochs: int = 50, device: str = "cpu"
) -> BaselineResult:
    """Train chemprop's D-MPNN on a prepared task's split and score it on the test rows.

    Args:
        task: Prepared task (its valid SMILES and targets, NaN where missing).
        split: ``(train_idx, valid_idx, test_idx)`` shared with the other methods.
        seed: Seed of initialisation and batch order (``lightning.seed_everything``).
        epochs: Training epochs (the benchmark passes its profile's budget; chemprop's own
            default is 50).
        device: ``"cpu"`` or ``"cuda"`` (``"auto"`` lets Lightning choose).

    Returns:
        :class:`~molssl.benchmark.baselines.BaselineResult`; ``valid_value`` is the metric of
        the selected checkpoint on the validation rows.

    Raises:
        ChempropUnavailableError: chemprop missing or with a different API.
    """
    api = _api()
    pl = api[0]
    start = time.perf_counter()
    try:
        model, loaders = _build(task, split, seed, api)
    except (AttributeError, TypeError) as err:
        raise ChempropUnavailableError(
            f"chemprop {chemprop_version()} rejected the 2.x API calls ({type(err).__name__}: "
            f"{err}); {_install_hint()}"
        ) from err
    accelerator = {"auto": "auto", "cuda": "gpu"}.get(device, "cpu")
    with _quiet_lightning(), tempfile.TemporaryDirectory(prefix="molssl-chemprop-") as ckpt_dir:
        best = later_on_tie_checkpoint(ckpt_dir)
        trainer = pl.Trainer(
            logger=False,
            enable_progress_bar=False,
            enable_model_summary=False,
            accelerator=accelerator,
            devices=1,
            max_epochs=epochs,
            callbacks=[best],
            deterministic=False,
        )
        trainer.fit(model, loaders[0], loaders[1])
        weights = {"weights_only": False}
        preds = [
            _stack(trainer.predict(model, loader, ckpt_path=best.best_model_path, **weights))
            for loader in loaders[1:]
        ]
        best_epoch = _epoch_of(best.best_model_path)
    result = score_baseline(task, split, preds[0], preds[1], start)
    return dataclasses.replace(result, best_epoch=best_epoch, best_rule=best.best_rule)


def later_on_tie_checkpoint(dirpath: str) -> Any:
    """A Lightning ``ModelCheckpoint`` of the lowest ``val_loss`` that takes the later epoch on a
    tie (Lightning's own keeps the earlier one), the tie rule of :func:`molssl.finetune.train_model`.

    Its ``best_rule`` attribute says what chose the kept epoch: ``"valid_loss"`` (the lowest
    validation loss) or ``"later_epoch"`` (tied on it).
    """
    import torch
    from lightning.pytorch.callbacks import ModelCheckpoint

    class _LaterOnTie(ModelCheckpoint):
        best_rule = "valid_loss"

        def check_monitor_top_k(self, trainer: Any, current: Any = None) -> bool:
            kept = self.best_k_models.get(self.kth_best_model_path)
            if current is not None and kept is not None and bool(torch.eq(current, kept)):
                self.best_rule = "later_epoch"
                return True
            better = super().check_monitor_top_k(trainer, current)
            if better:
                self.best_rule = "valid_loss"
            return better

    return _LaterOnTie(dirpath, monitor="val_loss", mode="min", save_top_k=1)


def _epoch_of(path: str) -> int:
    """1-based epoch of a Lightning checkpoint named ``epoch=E-step=S.ckpt`` (E is 0-based)."""
    found = re.search(r"epoch=(\d+)", Path(path).name)
    return int(found.group(1)) + 1 if found else 0


def _stack(batches) -> np.ndarray:
    import torch

    out = torch.cat([b.detach().cpu() for b in batches]).numpy().astype(np.float64)
    return out.reshape(len(out), -1)
