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
from molssl.finetune.tasks import TaskSource

_NOT_HASHED = ("seed", "out_dir", "device", "progress", "save_model", "flush_denormal", "resume",
               "conformal")  # fmt: skip


@dataclass
class FinetuneConfig:
    """Everything one fine-tuning run needs (``configs/finetune_molclr.yaml`` serialises it).

    Attributes:
        task: Registered dataset (``"bbbp"``); ``None`` when ``csv`` is given.
        csv, smiles_col, targets, task_type: A user's CSV task instead of ``task``.
        data_dir: Directory searched first for MoleculeNet files.
        init: ``"random"`` (``"random:gcn"``), ``"ckpt:PATH"``, ``"molclr-gcn:PATH"`` or
            ``"molclr-gin:PATH"`` (see :mod:`molssl.models.pretrained`).
        encoder: :class:`~molssl.models.EncoderConfig` fields of a random encoder.
        seed: Seed of initialisation and batch order.
        profile: ``"full"`` (reference) or ``"quick"``; fills ``epochs``/``max_molecules``.
        epochs: Epochs; ``None`` takes the profile's (full 100, quick 15).
        batch_size, encoder_lr, head_lr, weight_decay, dropout: MolCLR defaults 32, 1e-4,
            5e-4, 1e-6, 0.3 (dropout of the encoder layers).
        head_layers, head_hidden: MLP head depth (2) and width (``None``: ``out // 2``).
        patience: Early-stopping patience in epochs; ``None`` runs every epoch (the
            best-validation weights are kept either way).
        split: Splitter; ``None`` uses the dataset default (scaffold; random for QM9).
        split_sizes, split_seed: Fractions and seed of the split (one split per dataset).
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
    profile: Literal["quick", "full"] = "full"
    epochs: int | None = None
    batch_size: int = 32
    encoder_lr: float = 1e-4
    head_lr: float = 5e-4
    weight_decay: float = 1e-6
    dropout: float = 0.3
    head_layers: int = 2
    head_hidden: int | None = None
    patience: int | None = None
    split: Literal["scaffold", "random_scaffold", "random"] | None = None
    split_sizes: tuple[float, float, float] = (0.8, 0.1, 0.1)
    split_seed: int = 0
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
        if self.conformal is not None and not 0.0 < self.conformal < 1.0:
            raise ConfigError(
                f"conformal must be a coverage in (0, 1), e.g. 0.9; got {self.conformal}"
            )
        _check_encoder_keys(self.encoder)
        get_profile(self.profile)

    def source(self) -> TaskSource:
        """The task's :class:`~molssl.finetune.tasks.TaskSource`."""
        return TaskSource(self.task, self.csv, self.smiles_col, tuple(self.targets),
                          self.task_type, self.data_dir)  # fmt: skip


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
    if portable:
        data = portable_settings(data)
    return hashlib.sha1(json.dumps(data, sort_keys=True).encode()).hexdigest()[:10]


def portable_settings(data: dict[str, Any]) -> dict[str, Any]:
    """Settings (a :func:`~molssl.contrastive.config.to_dict` of a config, or part of one) with files named
    by content: ``data_dir`` dropped, ``csv`` by file name, ``init``'s checkpoint by SHA-256."""
    out = dict(data)
    if "data_dir" in out:
        out["data_dir"] = None
    if out.get("csv"):
        out["csv"] = Path(out["csv"]).name
    if out.get("init"):
        out["init"] = init_identity(out["init"])
    return out


def init_identity(init: str) -> str:
    """``init`` with its checkpoint path replaced by the file's SHA-256: ``KIND:sha256=HEX``.

    ``"random"`` / ``"random:gcn"`` and a path that is not a file (its run fails with its own
    message) come back unchanged. Digests are cached per path, size and modification time.
    """
    kind, _, arg = init.partition(":")
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
