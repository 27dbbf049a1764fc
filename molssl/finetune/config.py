"""Typed configuration of one fine-tuning run (``configs/finetune_molclr.yaml`` serialises it)."""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch

from molssl.contrastive.config import ConfigError, did_you_mean, load_yaml, to_dict
from molssl.finetune.profiles import get_profile
from molssl.finetune.tasks import TaskData, TaskSource, TaskSplit, resolve_split

_NOT_HASHED = (
    "seed",
    "out_dir",
    "device",
    "progress",
    "save_model",
    "flush_denormal",
    "resume",
    "conformal",
    "allow_partial",
)


@dataclass
class FinetuneConfig:
    """Everything one fine-tuning run needs (``configs/finetune_molclr.yaml`` serialises it).

    Attributes:
        task: Registered dataset (``"bbbp"``); ``None`` when ``csv`` is given.
        csv, smiles_col, targets, task_type: A user's CSV task instead of ``task``.
        data_dir: Directory searched first for MoleculeNet files.
        init: A weights string (:mod:`molssl.models.pretrained`): ``"random"``
            (``"random:gcn"``; ``"random-init"`` is stored as ``"random"``), ``"ckpt:PATH"``,
            ``"molssl:NAME"`` (a released encoder), ``"molclr-gcn:PATH"``,
            ``"molclr-gin:PATH"``, ``"hu2020-gcn:PATH"``.
        encoder: :class:`~molssl.models.EncoderConfig` fields of a random encoder.
        seed: Seed of initialisation and batch order.
        profile: ``"full"`` (MolCLR's protocol), ``"quick"`` or ``"hu2020"`` (Hu et al.'s);
            fills ``epochs``/``max_molecules``, and ``hu2020`` the optimisation and head
            fields left at their defaults (:mod:`molssl.finetune.profiles`).
        epochs: Epochs; ``None`` takes the profile's (full 100, quick 15).
        batch_size, encoder_lr, head_lr, weight_decay, dropout: MolCLR defaults 32, 1e-4,
            5e-4, 1e-6, 0.3 (dropout of the encoder layers).
        head_layers, head_hidden: MLP head depth (2) and width (``None``: ``out // 2``).
        patience: Early-stopping patience in epochs; ``None`` runs every epoch (the
            best-validation weights are kept either way).
        split: Splitter (``"scaffold"``, ``"random_scaffold"``, ``"random"``) or a predefined
            split in a column of ``csv``, ``"column:NAME"`` (each row ``train``, ``valid`` or
            ``test``; see :mod:`molssl.predefined_splits`); ``None`` uses the dataset default
            (scaffold; random for QM9).
        split_sizes, split_seed: Fractions and seed of the split (one split per dataset); with a
            predefined split they only shape the validation rows carved out of train.
        split_file: A predefined split as a JSON file of 0-based row indices,
            ``{"train": [...], "valid": [...], "test": [...]}`` (chemprop's ``--splits-file``
            format); instead of ``split``.
        valid_splitter: Splitter that carves validation rows out of the training rows of a
            predefined split that has none (``None``: ``"scaffold"``); only with a predefined
            split. The run records it in ``result.split_source["valid_from_train"]``.
        protocol: ``"joint"`` (one model for all targets) or ``"molclr"`` (one per target).
        max_molecules: Subsample larger tables; ``None`` takes the profile's, ``0`` keeps all.
        regression_loss: ``"mse"`` / ``"l1"``; ``None`` uses L1 for MAE tasks (QM7/8/9, as
            MolCLR) and MSE otherwise.
        out_dir: Where config, result, history and model are written; ``None`` writes nothing.
        device: ``"auto"``, ``"cpu"`` or ``"cuda"``.
        progress: Show a progress bar over epochs.
        save_model: Write ``model.pt`` (joint protocol) to ``out_dir``.
        conformal: Split-conformal coverage, e.g. ``0.9``: calibrated on the validation split,
            stored in ``model.pt`` (``molssl predict`` then writes ``<target>_lo``/``_hi`` or
            ``<target>_set``) and checked on the test split (``result.conformal``); ``None``
            (default) calibrates nothing. See :mod:`molssl.finetune.conformal`.
        resume: Continue an interrupted run from the per-epoch state in ``out_dir``; without
            it an ``out_dir`` holding a run is refused rather than overwritten.
        standardize: Featurize the largest fragment, neutralized
            (:func:`molssl.featurize.standardize.standardize_mol`); recorded in ``model.pt``'s
            featurizer, so ``molssl predict`` applies it too. Default off.
        allow_partial: Accept an ``init`` checkpoint lacking some encoder tensors (left at
            their initialisation, logged); by default such a file is refused.
        flush_denormal: Flush subnormal floats to zero on the CPU while training. MolCLR's
            released weights keep producing subnormals during fine-tuning, which made a BBBP
            epoch ~5x slower on the 2-core CPU without it; turned off again afterwards.

    Raises:
        ConfigError: On inconsistent or out-of-range values.
    """

    task: str | None = None
    csv: str | None = None
    smiles_col: str = "smiles"
    targets: list[str] = field(default_factory=list)
    task_type: Literal["classification", "regression"] | None = None
    data_dir: str | None = None
    init: str = "random"
    encoder: dict[str, Any] = field(default_factory=dict)
    seed: int = 0
    profile: Literal["quick", "full", "hu2020"] = "full"
    epochs: int | None = None
    batch_size: int = 32
    encoder_lr: float = 1e-4
    head_lr: float = 5e-4
    weight_decay: float = 1e-6
    dropout: float = 0.3
    head_layers: int = 2
    head_hidden: int | None = None
    patience: int | None = None
    split: str | None = None
    split_sizes: tuple[float, float, float] = (0.8, 0.1, 0.1)
    split_seed: int = 0
    split_file: str | None = None
    valid_splitter: Literal["scaffold", "random_scaffold", "random"] | None = None
    protocol: Literal["joint", "molclr"] = "joint"
    max_molecules: int | None = None
    regression_loss: Literal["mse", "l1"] | None = None
    out_dir: str | None = None
    device: str = "auto"
    progress: bool = False
    save_model: bool = True
    resume: bool = False
    conformal: float | None = None
    flush_denormal: bool = True
    standardize: bool = False
    allow_partial: bool = False

    def __post_init__(self) -> None:
        if (self.task is None) == (self.csv is None):
            raise ConfigError(
                f"give exactly one of task and csv (got task={self.task!r}, csv={self.csv!r})"
            )
        for name in ("batch_size", "head_layers"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.epochs is not None and self.epochs < 1:
            raise ConfigError(f"epochs must be >= 1, got {self.epochs}")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"dropout must be in [0, 1), got {self.dropout}")
        for name in ("encoder_lr", "head_lr", "weight_decay"):  # encoder_lr 0: a frozen encoder
            value = getattr(self, name)
            strict = name == "head_lr"
            if not ((value > 0 if strict else value >= 0) and value < float("inf")):
                bound = "> 0" if strict else ">= 0"
                raise ConfigError(f"{name} must be a finite number {bound}, got {value}")
        if self.conformal is not None and not 0.0 < self.conformal < 1.0:
            raise ConfigError(
                f"conformal must be a coverage in (0, 1), e.g. 0.9; got {self.conformal}"
            )
        _check_encoder_keys(self.encoder)
        self._apply_profile()
        self._check_split()

    def _apply_profile(self) -> None:
        """Spell ``init`` canonically; give the fields left at their defaults the profile's
        settings (:attr:`~molssl.finetune.profiles.Profile.settings`)."""
        from dataclasses import fields

        from molssl.models.sources import canonical_weights

        self.init = canonical_weights(self.init)
        defaults = {f.name: f.default for f in fields(self)}
        for name, value in get_profile(self.profile).settings.items():
            if getattr(self, name) == defaults[name]:
                setattr(self, name, value)

    def split_of(self, task: TaskData) -> TaskSplit:
        """The split of ``task`` this config names (see :func:`~molssl.finetune.tasks.resolve_split`).

        Raises:
            InvalidSplitError: A malformed predefined split (a :class:`ConfigError`).
            ValueError: An empty part of a splitter's split.
        """
        return resolve_split(
            task,
            self.split,
            self.split_sizes,
            self.split_seed,
            split_file=self.split_file,
            valid_splitter=self.valid_splitter,
        )

    @property
    def predefined_split(self) -> bool:
        """Whether the split is given by the user (a CSV column or a split file)."""
        from molssl.predefined_splits import is_column_split

        return self.split_file is not None or is_column_split(self.split)

    def _check_split(self) -> None:
        from molssl.predefined_splits import column_name, is_column_split
        from molssl.splits import SPLITTERS

        if self.split is not None and not is_column_split(self.split):
            if self.split not in SPLITTERS:
                raise ConfigError(
                    f"split: unknown split {self.split!r}{did_you_mean(self.split, SPLITTERS)}; "
                    f"choose {', '.join(SPLITTERS)} or column:NAME (a column of train/valid/test)"
                )
        if self.split_file is not None and self.split is not None:
            raise ConfigError(
                f"give one of split ({self.split!r}) and split_file "
                f"({self.split_file!r}): the split file is the whole split"
            )
        if is_column_split(self.split):
            column_name(self.split, "split")  # type: ignore[arg-type]
            if self.csv is None:
                raise ConfigError(
                    f"split {self.split!r} reads a column of your CSV (--csv FILE); "
                    "for a registered dataset give --split-file"
                )
        if self.valid_splitter is not None and not self.predefined_split:
            raise ConfigError(
                f"valid_splitter {self.valid_splitter!r} carves validation rows out of a "
                "predefined split; it needs --split column:NAME or --split-file (else use --split)"
            )
        if self.predefined_split and self.max_molecules:
            raise ConfigError(
                f"max_molecules={self.max_molecules} would subsample a predefined split; a "
                "predefined split uses every row: drop max_molecules (or set it to 0)"
            )

    def source(self) -> TaskSource:
        """The task's :class:`~molssl.finetune.tasks.TaskSource`."""
        from molssl.predefined_splits import column_name, is_column_split

        column = column_name(self.split) if is_column_split(self.split) else None  # type: ignore[arg-type]
        return TaskSource(
            self.task,
            self.csv,
            self.smiles_col,
            tuple(self.targets),
            self.task_type,
            self.data_dir,
            split_column=column,
        )


def _check_encoder_keys(encoder: dict[str, Any]) -> None:
    """Refuse ``encoder`` keys that :class:`~molssl.models.EncoderConfig` does not have."""
    from dataclasses import fields

    from molssl.models.config import EncoderConfig

    known = [f.name for f in fields(EncoderConfig)]
    for key in encoder:
        if key not in known:
            raise ConfigError(
                f"encoder.{key}: unknown encoder setting{did_you_mean(key, known)}; "
                f"valid: {', '.join(known)}"
            )


def load_finetune_config(path: str | Path) -> FinetuneConfig:
    """Load a YAML preset strictly into a :class:`FinetuneConfig`."""
    return load_yaml(FinetuneConfig, path)


def config_hash(cfg: FinetuneConfig, *, portable: bool = False) -> str:
    """Short hash of what determines a run's result besides its seed and where it is written.

    Args:
        cfg: The run's configuration.
        portable: Identify files by content, not by where they are on this machine: no
            ``data_dir`` (a benchmark's ``protocol.json`` pins each dataset file's SHA-256), a
            ``csv`` by its file name, a checkpoint in ``init`` by its SHA-256
            (:func:`init_identity`). Benchmark cells use this, so a ledger committed on one
            machine resumes on another whose data lives elsewhere; the default (paths as given)
            is what ``finetune --resume`` compares.
    """
    data = {k: v for k, v in to_dict(cfg).items() if k not in _NOT_HASHED}
    for key in ("split_file", "valid_splitter"):  # unset: the hash of runs before they existed
        if data.get(key) is None:
            data.pop(key, None)
    if not data.get("standardize"):  # off: the hash of runs before the option existed
        data.pop("standardize", None)
    if portable:
        data = portable_settings(data)
    return hashlib.sha1(json.dumps(data, sort_keys=True).encode()).hexdigest()[:10]


_DATA_KEYS = (
    "task",
    "csv",
    "smiles_col",
    "targets",
    "task_type",
    "data_dir",
    "profile",
    "split",
    "split_sizes",
    "split_seed",
    "max_molecules",
)


def data_settings(cfg: FinetuneConfig) -> dict[str, Any]:
    """The settings of ``cfg`` that choose its molecules, targets and split.

    ``split_file`` and ``valid_splitter`` are included only when set, so identities computed
    before they existed stay the same. Fine-tuning-free runs on the same data (the benchmark's
    baselines, the forest search) are identified by these.
    """
    data = {k: v for k, v in to_dict(cfg).items() if k in _DATA_KEYS}
    for key in ("split_file", "valid_splitter"):
        if getattr(cfg, key) is not None:
            data[key] = getattr(cfg, key)
    return data


def portable_settings(data: dict[str, Any]) -> dict[str, Any]:
    """Settings (a :func:`~molssl.contrastive.config.to_dict` of a config, or part of one) with files named
    by content: ``data_dir`` dropped, ``csv`` by file name, ``init``'s checkpoint and a
    ``split_file`` by SHA-256."""
    out = dict(data)
    if "data_dir" in out:
        out["data_dir"] = None
    if out.get("csv"):
        out["csv"] = Path(out["csv"]).name
    if out.get("init"):
        out["init"] = init_identity(out["init"])
    if out.get("split_file"):
        path = Path(out["split_file"])
        if path.is_file():
            stat = path.stat()
            out["split_file"] = (
                f"sha256={_digest(str(path.resolve()), stat.st_size, stat.st_mtime_ns)}"
            )
    return out


def init_identity(init: str) -> str:
    """``init`` with its checkpoint path replaced by the file's SHA-256: ``KIND:sha256=HEX``.

    ``"random"`` / ``"random:gcn"`` and a path that is not a file (its run fails with its own
    message) come back unchanged. A released encoder (``molssl:NAME``) is named by the SHA-256
    its model card records (checked against the file when it is loaded). Digests are cached per
    path, size and modification time.
    """
    kind, _, arg = init.partition(":")
    if kind == "molssl":
        from molssl.models.shipped import ModelCardError, UnknownEncoderError, read_card

        try:
            sha = read_card(arg).weights_sha256
        except (ModelCardError, UnknownEncoderError):
            return init
        return f"molssl:sha256={sha}" if sha else init
    path = Path(arg)
    if kind == "random" or not arg or not path.is_file():
        return init
    stat = path.stat()
    return f"{kind}:sha256={_digest(str(path.resolve()), stat.st_size, stat.st_mtime_ns)}"


@functools.lru_cache(maxsize=64)
def _digest(path: str, size: int, mtime_ns: int) -> str:
    from molssl.contrastive.io.digest import file_sha256

    return file_sha256(path)


def resolve_device(name: str) -> torch.device:
    """``"auto"``, ``"cpu"``, ``"cuda"`` or ``"cuda:N"`` as a device, checked up front.

    Raises:
        ConfigError: An unknown name, or CUDA requested on a machine without it
            (:func:`molssl.contrastive.training.devices.check_device`, the check every command runs).
    """
    from molssl.contrastive.training.devices import check_device

    text = check_device(name)
    if text == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(text)
