"""Fine-tuning a (pretrained) encoder on a MoleculeNet task or a user's CSV (``molssl finetune``).

``finetune(FinetuneConfig(task="bbbp", init="molclr-gcn:PATH"))`` loads the encoder with the
featurizer and hydrogen policy of its weights, featurizes the task once (cached per process,
invalid SMILES dropped and reported before splitting), splits it once for all targets, trains
encoder + MLP head with MolCLR's recipe (Wang et al., 2022) and returns the test metric of the
best-validation weights. ``protocol="molclr"`` trains one single-task model per target, as the
reference code does; the default ``"joint"`` trains the targets of a dataset together. With an
output folder, a ``"molclr"`` run records each finished target (``target-K.json``) and trains
each under its own lock, so it resumes target by target and several processes can share it
(:func:`join_finetune`).
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import hashlib
import json
import logging
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from molssl.contrastive.config import ConfigError, save_yaml, to_dict
from molssl.contrastive.io.atomic import atomic_path, write_text_atomic
from molssl.featurize import GraphFeaturizer
from molssl.finetune.config import (
    FinetuneConfig,
    config_hash,
    load_finetune_config,
    resolve_device,
)
from molssl.finetune.conformal import ConformalCalibration, calibrate_split, conformal_columns
from molssl.finetune.domain import describe_domain
from molssl.finetune.model import FinetuneModel, to_outputs
from molssl.finetune.prediction import predict_graphs
from molssl.finetune.profiles import get_profile
from molssl.finetune.saved import DOMAIN_KEY, describe, save_model
from molssl.finetune.tasks import TaskData, prepare_task
from molssl.finetune.training import (
    BEST_RULES,
    TrainOutcome,
    TrainSettings,
    evaluate,
    extra_metrics,
    hash_split,
    labels_digest,
    train_model,
)
from molssl.metrics import get_metric
from molssl.models.pretrained import LoadedEncoder, load_pretrained

logger = logging.getLogger(__name__)


@dataclass
class FinetuneResult:
    """The record of one fine-tuning run.

    Attributes:
        task, init, seed, protocol, split: What was run.
        metric: ``"roc_auc"``, ``"rmse"`` or ``"mae"``.
        value: Test metric averaged over the scorable targets, of the weights of the best
            validation epoch (what tables report).
        value_last: The same for the weights of the last epoch (NaN for a per-target run
            completed from records written without them).
        per_target: Test metric per target (NaN for a skipped single-class target).
        valid_value: Best validation metric (mean over models for the molclr protocol).
        epochs: Epochs run (the most of any model); best_epoch: epoch of the kept weights
            (median over models for the molclr protocol).
        best_rule: What chose the kept epoch (:data:`~molssl.finetune.training.BEST_RULES`:
            ``"metric"``, ``"valid_loss"`` on a metric tie, ``"later_epoch"`` on a tie of both,
            ``"last_epoch"`` without a finite validation metric); for the molclr protocol the
            rules of its models with their counts when they differ (``"metric:20,valid_loss:7"``).
        seconds: Wall time of the run (a resumed run adds the training time of its earlier
            calls, a shared per-target run the time of targets trained by other processes,
            less the time spent waiting for them); n_train/n_valid/n_test: split sizes;
        n_invalid: Rows dropped for invalid SMILES; config_hash: see :func:`config_hash`.
        split_source: Where the split came from (:class:`~molssl.finetune.tasks.TaskSplit`):
            a splitter with its sizes and seed, or a predefined split's column or file, with
            ``valid_from_train`` when its validation rows were carved out of train.
        split_sha256: :func:`molssl.splits.split_sha256` of the split used (file rows).
        conformal: With ``cfg.conformal``: the calibration (``"calibration"``) and its test
            coverage and width / set size (:func:`molssl.finetune.conformal.summarize`).
        extra_metrics: The dataset's further test metrics (HIV, MUV: ``prc_auc``).
    """

    task: str
    init: str
    seed: int
    protocol: str
    split: str
    metric: str
    value: float
    value_last: float
    per_target: dict[str, float]
    valid_value: float
    epochs: int
    best_epoch: int
    seconds: float
    n_train: int
    n_valid: int
    n_test: int
    n_invalid: int
    config_hash: str
    out_dir: str | None = None
    conformal: dict[str, Any] | None = None
    extra_metrics: dict[str, float] = field(default_factory=dict)
    split_source: dict[str, Any] = field(default_factory=dict)
    split_sha256: str = ""
    best_rule: str = "metric"

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (JSON-ready; NaN kept as float)."""
        return dataclasses.asdict(self)


def _settings(cfg: FinetuneConfig, metric: str) -> TrainSettings:
    profile = get_profile(cfg.profile)
    loss = cfg.regression_loss or ("l1" if metric == "mae" else "mse")
    return TrainSettings(
        epochs=cfg.epochs or profile.epochs,
        batch_size=cfg.batch_size,
        encoder_lr=cfg.encoder_lr,
        head_lr=cfg.head_lr,
        weight_decay=cfg.weight_decay,
        patience=cfg.patience if cfg.patience is not None else profile.patience,
        regression_loss=loss,
        progress=cfg.progress,
    )


@contextlib.contextmanager
def _flush_denormal(enabled: bool) -> Iterator[None]:
    """Flush-to-zero for subnormal floats inside the block (torch's default, off, after)."""
    if not enabled:
        yield
        return
    torch.set_flush_denormal(True)
    try:
        yield
    finally:
        torch.set_flush_denormal(False)


def _rules(outcomes: list[TrainOutcome]) -> str:
    """The rule that chose the kept epoch; with several models, each rule and its count."""
    counts = collections.Counter(o.best_rule for o in outcomes)
    if len(counts) == 1:
        return next(iter(counts))
    return ",".join(f"{rule}:{counts[rule]}" for rule in BEST_RULES if rule in counts)


def _mean_finite(values: list[float]) -> float:
    finite = [v for v in values if not math.isnan(v)]
    return float(np.mean(finite)) if finite else math.nan


def load_init(cfg: FinetuneConfig) -> LoadedEncoder:
    """The encoder ``cfg.init`` names, with its featurizer standardizing when
    ``cfg.standardize`` (see :func:`~molssl.models.pretrained.load_pretrained`)."""
    loaded = load_pretrained(cfg.init, cfg.dropout, cfg.encoder, allow_partial=cfg.allow_partial)
    if cfg.standardize and not loaded.featurizer.standardize:
        from molssl.featurize import featurizer_from_dict

        loaded.featurizer = featurizer_from_dict(
            {**loaded.featurizer.to_dict(), "standardize": True}
        )
    return loaded


def load_task(cfg: FinetuneConfig, featurizer: GraphFeaturizer) -> TaskData:
    """The featurized task of ``cfg`` (cached; :func:`molecule_cap` applied)."""
    return prepare_task(cfg.source(), featurizer, molecule_cap(cfg))


def molecule_cap(cfg: FinetuneConfig) -> int | None:
    """Rows ``cfg``'s task is subsampled to: ``max_molecules``, else the profile's; ``None``
    (every row) for a predefined split, which is used as given."""
    if cfg.predefined_split:
        return None
    return (
        cfg.max_molecules
        if cfg.max_molecules is not None
        else get_profile(cfg.profile).max_molecules
    )


def finetune(cfg: FinetuneConfig) -> FinetuneResult:
    """Fine-tune and evaluate on the test split.

    Args:
        cfg: The run's configuration.

    Returns:
        :class:`FinetuneResult`. With ``cfg.out_dir`` set, ``config.yaml`` (first),
        ``train_state*.pt`` (after every epoch, for ``resume``), then ``result.json``,
        ``history.csv``, ``test_predictions.csv`` and (joint protocol) the self-describing
        ``model.pt`` (:mod:`molssl.finetune.saved`) are written there.

    Raises:
        ConfigError: Unknown device or CUDA missing; ``resume`` with another config;
            ``RunInUseError`` when another process runs in ``out_dir``.
        FileExistsError: ``out_dir`` holds a run and ``resume`` is False.
        ValueError: Unknown init/task, bad CSV (``DataFormatError``), empty split part.
        FileNotFoundError: Missing dataset or checkpoint.
    """
    with contextlib.ExitStack() as stack:
        result = _finetune(cfg, stack)
        assert result is not None
        return result


def join_finetune(cfg: FinetuneConfig) -> list[str]:
    """Help a per-target run that another process leads in the same folder.

    A ``protocol="molclr"`` run trains one model per target, each under its own lock
    (``OUT/.target-K.lock``) and recorded in ``target-K.json`` when done. This trains the
    targets of ``cfg.out_dir`` that are neither finished nor being trained by another process,
    one at a time, then returns; the leading :func:`finetune` of the folder takes the records
    (waiting for targets still in training) and writes the outputs. It is what
    ``molssl finetune --join`` and two ``molssl benchmark --keep-cells`` processes on one
    results folder do, so a task with many targets (SIDER's 27, ToxCast's 617) is shared out.
    Run without a leader, it trains every open target; a later ``finetune --resume`` of the
    folder then only collects them.

    Args:
        cfg: The same configuration as the leading run (its ``out_dir``); resumes each
            target's per-epoch state left by an interrupted process.

    Returns:
        Names of the targets trained by this call (empty when none was left).

    Raises:
        ConfigError: No ``out_dir``, the joint protocol (one model: nothing to share), or
            ``out_dir`` holds a run with other settings.
    """
    if cfg.out_dir is None or cfg.protocol != "molclr":
        raise ConfigError(
            "joining a fine-tuning run needs --protocol molclr (one model per target) and the "
            "leading run's --out; the joint protocol trains one model and cannot be shared"
        )
    with contextlib.ExitStack() as stack:
        trained: list[str] = []
        _finetune(dataclasses.replace(cfg, resume=True), stack, joined=trained)
        return trained


def _finetune(
    cfg: FinetuneConfig, stack: contextlib.ExitStack, joined: list[str] | None = None
) -> FinetuneResult | None:
    from molssl.contrastive.io.atomic import remove_stale_temps
    from molssl.contrastive.io.runlock import file_lock, run_lock
    from molssl.contrastive.training.seed import seed_everything

    start = time.perf_counter()
    device = resolve_device(cfg.device)
    check_out_dir(cfg)
    generator = seed_everything(cfg.seed)
    loaded = load_init(cfg)
    task = load_task(cfg, loaded.featurizer)
    resolved = cfg.split_of(task)
    split = resolved.parts
    out = None
    if cfg.out_dir is not None:  # written once the task is known to be good
        out = Path(cfg.out_dir)
        if joined is None:  # the leader; a joining process only takes target locks
            stack.enter_context(run_lock(out, "fine-tuning run"))  # held until outputs are in
            check_out_dir(cfg)  # again under the lock: another process may have finished a run
            if cfg.resume and cfg.protocol == "joint":  # per-target runs may have helpers writing
                remove_stale_temps(out)
            save_yaml(cfg, out / "config.yaml")
        else:
            out.mkdir(parents=True, exist_ok=True)
    metric = get_metric(task.spec.metric)
    settings = _settings(cfg, metric.name)
    n_targets = task.targets.shape[1]
    columns = (
        [list(range(n_targets))] if cfg.protocol == "joint" else [[t] for t in range(n_targets)]
    )
    test_pred = np.full((len(split[2]), n_targets), np.nan)
    last_pred = np.full((len(split[2]), n_targets), np.nan)  # the last epoch's weights
    last_known = True  # False when a per-target record from before has no last-epoch outputs
    valid_pred = np.full((len(split[1]), n_targets), np.nan)
    outcomes: dict[int, TrainOutcome] = {}
    records = None
    if out is not None and cfg.protocol != "joint":
        records = _TargetRecords(out, cfg, task, split)
    trained = 0

    def train(k: int, cols: list[int]) -> _DoneTarget:
        nonlocal generator, loaded, trained
        target_start = time.perf_counter()
        if k or trained:  # one fresh model per target, each from the same init and seed
            generator = seed_everything(cfg.seed)
            loaded = load_init(cfg)
        model = FinetuneModel(
            loaded.encoder, len(cols), task.spec.task_type, cfg.head_hidden, cfg.head_layers
        )
        state = None if out is None else out / _state_name(cfg, k)
        outcome = train_model(
            model,
            task.graphs,
            task.targets[:, cols],
            split,
            metric,
            settings,
            generator,
            device,
            [task.target_names[c] for c in cols],
            state,
            cfg.resume,
        )
        done = _DoneTarget(
            predict_graphs(model, task.graphs, split[1], device),
            predict_graphs(model, task.graphs, split[2], device),
            outcome,
        )
        done.test_last = _last_epoch_test(model, outcome, task.graphs, split[2], device, done.test)
        trained += 1
        if records is not None:
            seconds = time.perf_counter() - target_start + outcome.seconds_before
            records.save(k, outcome, done.valid, done.test, seconds, done.test_last)
            records.state(k).unlink(missing_ok=True)  # the record is what a resume needs
        if joined is not None:
            joined.append(task.target_names[k])
        return done

    def take(k: int, cols: list[int], *, wait: bool) -> _DoneTarget | None:
        """Target ``k`` from its record or trained here under its lock; ``None`` when another
        process holds the lock and ``wait`` is False."""
        nonlocal waited
        assert out is not None and records is not None
        asked = time.perf_counter()
        with file_lock(out / f".target-{k}.lock", wait=wait) as mine:
            if not mine:
                return None
            waited += time.perf_counter() - asked  # on another process's target
            if records.path(k).is_file():  # finished before, or by another process meanwhile
                done = records.load(k)
                if done is not None:
                    return done
                records.state(k).unlink(missing_ok=True)  # beside a stale record: as stale
            return train(k, cols)

    deferred: list[int] = []
    waited = 0.0
    with _flush_denormal(cfg.flush_denormal):
        for k, cols in enumerate(columns):
            done = train(k, cols) if records is None else take(k, cols, wait=False)
            if done is None:
                logger.info(
                    "target %s: being trained by another process; taking the next",
                    task.target_names[k],
                )
                deferred.append(k)
                continue
            valid_pred[:, cols], test_pred[:, cols] = done.valid, done.test
            last_known = _put_last(last_pred, cols, done) and last_known
            outcomes[k] = done.outcome
        if joined is not None:
            logger.info(
                "%s seed %d: trained %d target(s) for the run in %s; %d in training elsewhere",
                task.name,
                cfg.seed,
                len(joined),
                out,
                len(deferred),
            )
            return None
        for k in deferred:
            logger.info("target %s: waiting for the process training it", task.target_names[k])
            done = take(k, columns[k], wait=True)
            assert done is not None
            valid_pred[:, columns[k]], test_pred[:, columns[k]] = done.valid, done.test
            last_known = _put_last(last_pred, columns[k], done) and last_known
            outcomes[k] = done.outcome
    outcome_list = [outcomes[k] for k in range(len(columns))]
    value, per_target = evaluate(
        metric, task.targets[split[2]], test_pred, task.target_names, quiet=False
    )
    kind = task.spec.task_type
    outputs = _Outputs(task, split, to_outputs(valid_pred, kind), to_outputs(test_pred, kind))
    checked = None
    if cfg.conformal is not None:
        outputs.calibration, checked = calibrate_split(
            task.targets[split[1]],
            outputs.valid,
            task.targets[split[2]],
            outputs.test,
            kind,
            cfg.conformal,
            task.target_names,
        )
    result = FinetuneResult(
        task=task.name,
        init=loaded.init,
        seed=cfg.seed,
        protocol=cfg.protocol,
        split=resolved.name,
        metric=metric.name,
        value=value,
        value_last=evaluate(
            metric, task.targets[split[2]], last_pred, task.target_names, quiet=True
        )[0]
        if last_known
        else math.nan,
        per_target=dict(zip(task.target_names, per_target, strict=True)),
        valid_value=_mean_finite([o.best_valid for o in outcome_list]),
        epochs=max(o.epochs for o in outcome_list),
        best_epoch=int(np.median([o.best_epoch for o in outcome_list])),
        best_rule=_rules(outcome_list),
        seconds=time.perf_counter() - start - waited + sum(o.seconds_before for o in outcome_list),
        n_train=len(split[0]),
        n_valid=len(split[1]),
        n_test=len(split[2]),
        n_invalid=len(task.failures),
        config_hash=config_hash(cfg),
        out_dir=cfg.out_dir,
        conformal=checked,
        extra_metrics=extra_metrics(
            task.spec.extra_metrics, task.targets[split[2]], test_pred, task.target_names
        ),
        split_source=resolved.source,
        split_sha256=resolved.sha256,
    )
    logger.info(
        "%s %s seed %d: test %s %.4f (best epoch %d, %.1f s)",
        result.task,
        cfg.init,
        cfg.seed,
        metric.name,
        value,
        result.best_epoch,
        result.seconds,
    )
    if out is not None:
        _write_outputs(cfg, out, result, outcome_list, loaded, outputs)
    return result


@dataclass
class _DoneTarget:
    valid: np.ndarray
    test: np.ndarray
    outcome: TrainOutcome
    test_last: np.ndarray | None = None  # raw test outputs of the last epoch's weights


def _put_last(last_pred: np.ndarray, cols: list[int], done: _DoneTarget) -> bool:
    """Copy ``done``'s last-epoch test outputs into ``last_pred``; False when it has none."""
    if done.test_last is None:
        return False
    last_pred[:, cols] = done.test_last
    return True


def _last_epoch_test(
    model: FinetuneModel,
    outcome: TrainOutcome,
    graphs: Any,
    rows: np.ndarray,
    device: torch.device,
    best: np.ndarray,
) -> np.ndarray:
    """Test outputs of the last epoch's weights (``best`` when those are the kept ones)."""
    if outcome.last_state is None:
        return best
    kept = {k: v.detach().clone() for k, v in model.state_dict().items()}
    model.load_state_dict(outcome.last_state)
    last = predict_graphs(model, graphs, rows, device)
    model.load_state_dict(kept)
    outcome.last_state = None
    return last


class _TargetRecords:
    """``target-K.json`` in a ``protocol="molclr"`` run folder: one finished target's
    predictions (raw model outputs on the validation and test rows) and training summary; in
    this protocol model K is target column K.

    Small text, no weights: a run of many single-target models (SIDER's 27 take hours) that is
    interrupted resumes after its last finished target even where its ``train_state-K.pt``
    files are gone (a benchmark ledger committed on one machine and resumed on another). A
    record is used only when it was written for the same settings (portable
    :func:`config_hash`: checkpoints by content), seed, molecules, labels and split; otherwise
    that target is trained again, from scratch, and the record replaced. A target's
    ``train_state-K.pt`` (15 MB for MolCLR's GCN) is deleted once its record is written (it
    would add up to 9 GB over ToxCast's 617 targets) and when its record is found stale.
    """

    VERSION = 1

    def __init__(
        self,
        out: Path,
        cfg: FinetuneConfig,
        task: TaskData,
        split: tuple[np.ndarray, np.ndarray, np.ndarray],
    ) -> None:
        self.out, self.task, self.split = out, task, split
        self.settings = config_hash(cfg, portable=True)
        self.seed = cfg.seed
        self.data = hash_split(hashlib.sha256("\n".join(task.smiles).encode()), split).hexdigest()

    def _key(self, column: int) -> dict[str, Any]:
        return {
            "version": self.VERSION,
            "target": self.task.target_names[column],
            "seed": self.seed,
            "settings": self.settings,
            "data": self.data,
            "labels": labels_digest(self.task.targets[:, column]).hexdigest(),
        }

    def path(self, k: int) -> Path:
        return self.out / f"target-{k}.json"

    def state(self, k: int) -> Path:
        """Target ``k``'s per-epoch training state (see :func:`_state_name`)."""
        return self.out / f"train_state-{k}.pt"

    def load(self, k: int) -> _DoneTarget | None:
        path = self.path(k)
        if not path.is_file():
            return None
        name = self.task.target_names[k]
        try:
            record = json.loads(path.read_text())
            key = self._key(k)
            if {f: record.get(f) for f in key} != key:
                logger.info(
                    "%s was written for other settings or data; training target %s "
                    "again from scratch",
                    path,
                    name,
                )
                return None
            valid = np.asarray(record["valid"], dtype=np.float64).reshape(len(self.split[1]), 1)
            test = np.asarray(record["test"], dtype=np.float64).reshape(len(self.split[2]), 1)
            test_last = (
                None
                if record.get("test_last") is None
                else np.asarray(record["test_last"], dtype=np.float64).reshape(
                    len(self.split[2]), 1
                )
            )
            outcome = TrainOutcome(
                model=None,
                epochs=int(record["epochs"]),  # type: ignore[arg-type]
                best_epoch=int(record["best_epoch"]),
                best_valid=float(record["best_valid"]),
                history=list(record["history"]),
                seconds_before=float(record["seconds"]),
                best_rule=str(record.get("best_rule", "metric")),
            )
        except (ValueError, KeyError, TypeError) as err:
            logger.warning(
                "%s is unreadable (%s); training target %s again from scratch", path, err, name
            )
            return None
        logger.info("target %s: finished before (%s), not trained again", name, path.name)
        return _DoneTarget(valid, test, outcome, test_last)

    def save(
        self,
        k: int,
        outcome: TrainOutcome,
        valid: np.ndarray,
        test: np.ndarray,
        seconds: float,
        test_last: np.ndarray | None = None,
    ) -> None:
        def floats(a: np.ndarray) -> list[float | None]:
            return [None if math.isnan(v) else float(v) for v in np.asarray(a).ravel()]

        record = {
            **self._key(k),
            "epochs": outcome.epochs,
            "best_epoch": outcome.best_epoch,
            "best_rule": outcome.best_rule,
            "best_valid": outcome.best_valid,
            "seconds": seconds,
            "history": outcome.history,
            "valid": floats(valid),
            "test": floats(test),
            "test_last": None if test_last is None else floats(test_last),
        }
        write_text_atomic(self.path(k), json.dumps(record, default=float))


def _state_name(cfg: FinetuneConfig, k: int) -> str:
    return "train_state.pt" if cfg.protocol == "joint" else f"train_state-{k}.pt"


_RUN_FILES = ("config.yaml", "result.json", "model.pt", "train_state.pt")


def check_out_dir(cfg: FinetuneConfig) -> None:
    """Refuse to overwrite a run in ``out_dir`` unless resuming that same run."""
    if cfg.out_dir is None:
        return
    out = Path(cfg.out_dir)
    found = [
        p.name
        for p in out.glob("*")
        if p.name in _RUN_FILES or p.match("train_state-*.pt") or p.match("target-*.json")
    ]
    if found and not cfg.resume:
        raise FileExistsError(
            f"{out} already holds a fine-tuning run ({', '.join(sorted(found))}); pass --resume "
            "to continue it, or choose another --out"
        )
    if cfg.resume and (out / "config.yaml").is_file():
        previous = load_finetune_config(out / "config.yaml")
        if (config_hash(previous), previous.seed) != (config_hash(cfg), cfg.seed):
            raise ConfigError(
                f"--resume: {out} holds a run with other settings (config.yaml differs); resume "
                "with the same settings, or choose another --out"
            )


@dataclass
class _Outputs:
    task: TaskData
    split: tuple[np.ndarray, np.ndarray, np.ndarray]
    valid: np.ndarray  # probabilities / target units
    test: np.ndarray
    calibration: ConformalCalibration | None = None

    def table(self, part: int) -> Any:
        """Predictions of split part 1 (valid) or 2 (test), with conformal columns."""
        import pandas as pd

        idx, values = self.split[part], (self.valid if part == 1 else self.test)
        frame = pd.DataFrame(
            {
                "row": self.task.rows[idx],
                self.task.spec.smiles_column: [self.task.smiles[i] for i in idx],
            }
        )
        for t, name in enumerate(self.task.target_names):
            frame[name] = values[:, t]
        if self.calibration is not None:
            for name, column in conformal_columns(values, self.calibration).items():
                frame[name] = column
        return frame


def _write_outputs(
    cfg: FinetuneConfig,
    out: Path,
    result: FinetuneResult,
    outcomes: list[TrainOutcome],
    loaded: LoadedEncoder,
    outputs: _Outputs,
) -> None:
    import pandas as pd

    task = outputs.task
    rows = [{"model": k, **h} for k, o in enumerate(outcomes) for h in o.history]
    with atomic_path(out / "history.csv") as tmp:
        pd.DataFrame(rows).to_csv(tmp, index=False)
    for split, name in ((1, "valid_predictions.csv"), (2, "test_predictions.csv")):
        with atomic_path(out / name) as tmp:
            outputs.table(split).to_csv(tmp, index=False)
    write_text_atomic(out / "result.json", json.dumps(result.to_dict(), indent=2))
    if not cfg.save_model:
        return
    if cfg.protocol != "joint":
        logger.info(
            "protocol molclr trains one model per target; model.pt is written for the "
            "joint protocol only"
        )
        return
    model = outcomes[0].model
    task_info = {
        "name": result.task,
        "metric": result.metric,
        "smiles_col": task.spec.smiles_column,
    }
    info = describe(
        model,
        loaded.featurizer,
        list(task.target_names),
        task=task_info,
        training_data=task.path,
        init=loaded.init,
    )
    if outputs.calibration is not None:
        info["calibration"] = outputs.calibration.to_dict()
    train_smiles = [task.smiles[i] for i in outputs.split[0]]
    info["domain"], fingerprints = describe_domain(train_smiles, loaded.featurizer.standardize)
    save_model(
        out / "model.pt",
        model,
        info,
        config=to_dict(cfg),
        metadata={"result": result.to_dict(), DOMAIN_KEY: fingerprints},
    )
