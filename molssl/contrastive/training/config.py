"""Typed configuration of the generic training loop."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    import torch

__all__ = ["DEVICES", "TrainerConfig", "resolve_device"]

logger = logging.getLogger(__name__)

DEVICES = ("auto", "cpu", "cuda")


@dataclass
class TrainerConfig:
    """Settings of :class:`molssl.contrastive.training.trainer.Trainer` (defaults follow MolCLR).

    Attributes:
        epochs: Planned epochs; defines the LR schedule (default 100).
        max_steps: Stop after this many optimizer steps in total (None: run all epochs). Does
            not change the schedule.
        lr: Initial learning rate of Adam (default 5e-4).
        weight_decay: Adam's L2 weight decay (default 1e-5).
        warmup_epochs: Epochs at constant LR before cosine annealing (default 10); with
            ``schedule: cosine``, epochs of linear warm-up (at most a tenth of the run).
        min_lr: LR at the end of the cosine (default 0).
        schedule: ``molclr`` (default: constant warm-up, cosine over the planned ``epochs``,
            cut short by ``max_steps``) or ``cosine`` (linear warm-up, cosine reaching
            ``min_lr`` at the last step of the run: ``max_steps`` or all epochs).
        batch_size: Samples per optimizer step *per process*; the global batch under DDP is
            ``batch_size * world_size`` (default 512).
        drop_last: Drop the last incomplete batch of each epoch (default True; keeps every
            batch the same size, which the contrastive loss and DDP equivalence rely on).
        num_workers: DataLoader worker processes (default 0).
        device: ``"auto"`` (CUDA when available), ``"cpu"`` or ``"cuda"``.
        amp: Mixed precision autocast (bf16 where supported, else fp16 with a grad scaler);
            CUDA only, ignored with a warning on CPU (default False).
        compile: ``torch.compile`` the model; CUDA only (default False).
        grad_clip: Clip the global gradient norm to this value (None: no clipping).
        log_every: Log training loss and metrics every this many steps (default 50).
        val_every: Validate every this many epochs (default 1); the best validation loss
            is kept as ``best.pt``.
        checkpoint_every_steps: Also write ``last.pt`` every this many steps (None: only at
            epoch ends, at the end and on interruption).
        seed: Seed of the weights-independent randomness: data order, augmentations, dropout.
        out_dir: Run folder for checkpoints, ``metrics.csv``, ``config.yaml``, ``run_info.json``.
        resume: Continue from ``out_dir/last.pt`` when it exists (default False).
        find_unused_parameters: Passed to DDP (default False).
        sync_batchnorm: Convert BatchNorm layers to SyncBatchNorm under DDP (default False).
        probe_every: Every this many steps, run the probe given to the trainer (a kNN, and
            optionally linear, probe of the frozen encoder on a small labelled set, supplied by
            the package) and log its scores as ``split=probe`` rows of ``metrics.csv`` and on
            the progress bar (None or 0: never, the default; the presets turn it on).
        tensorboard: Also write TensorBoard events to ``out_dir/tb`` (default False).
        progress: Show a tqdm progress bar on rank 0 (default True).
        keep_cpu_memory: When training on CPU, keep freed memory in the process for reuse
            instead of returning it to the OS after every big tensor
            (:func:`molssl.contrastive.training.allocator.keep_freed_memory`; glibc only, process-wide).
            9-27% more molecules/s on the development box; default True.

    Raises:
        ValueError: From ``__post_init__`` when a value is out of range.
    """

    epochs: int = 100
    max_steps: int | None = None
    lr: float = 5e-4
    weight_decay: float = 1e-5
    warmup_epochs: int = 10
    min_lr: float = 0.0
    schedule: str = "molclr"
    batch_size: int = 512
    drop_last: bool = True
    num_workers: int = 0
    device: Literal["auto", "cpu", "cuda"] = "auto"
    amp: bool = False
    compile: bool = False
    grad_clip: float | None = None
    log_every: int = 50
    val_every: int = 1
    checkpoint_every_steps: int | None = None
    probe_every: int | None = None
    seed: int = 0
    out_dir: str = "runs/pretrain"
    resume: bool = False
    find_unused_parameters: bool = False
    sync_batchnorm: bool = False
    tensorboard: bool = False
    progress: bool = True
    keep_cpu_memory: bool = True

    def __post_init__(self) -> None:
        if self.probe_every == 0:  # `--set trainer.probe_every=0` turns a preset's probe off
            self.probe_every = None
        positive = {
            "epochs": self.epochs,
            "batch_size": self.batch_size,
            "log_every": self.log_every,
            "val_every": self.val_every,
        }
        for name, value in positive.items():
            if value < 1:
                raise ValueError(f"TrainerConfig.{name} must be >= 1, got {value}")
        for name in ("max_steps", "checkpoint_every_steps", "probe_every"):
            value = getattr(self, name)
            if value is not None and value < 1:
                off = " (0 also turns the probe off)" if name == "probe_every" else ""
                raise ValueError(f"TrainerConfig.{name} must be >= 1 or None{off}, got {value}")
        if not (
            0 < self.lr < math.inf
            and 0 <= self.min_lr < math.inf
            and 0 <= self.weight_decay < math.inf
        ):
            raise ValueError(
                f"need a finite lr > 0, min_lr >= 0, weight_decay >= 0; got lr={self.lr}, "
                f"min_lr={self.min_lr}, weight_decay={self.weight_decay}"
            )
        if self.warmup_epochs < 0 or self.num_workers < 0 or self.seed < 0:
            raise ValueError("warmup_epochs, num_workers and seed must be >= 0")
        if self.grad_clip is not None and self.grad_clip <= 0:
            raise ValueError(f"TrainerConfig.grad_clip must be > 0 or None, got {self.grad_clip}")
        from molssl.contrastive.training.schedule import SCHEDULES

        if self.schedule not in SCHEDULES:
            raise ValueError(
                f"TrainerConfig.schedule must be one of {list(SCHEDULES)}, got {self.schedule!r}"
            )
        if self.device not in DEVICES:
            raise ValueError(f"TrainerConfig.device must be one of {DEVICES}, got {self.device!r}")
        self.out_dir = str(self.out_dir)


def resolve_device(name: str, local_rank: int = 0) -> torch.device:
    """Turn ``"auto" | "cpu" | "cuda"`` into a concrete device (``cuda:<local_rank>``).

    Args:
        name: One of :data:`DEVICES`.
        local_rank: GPU index of this process under torchrun (default 0).

    Returns:
        The ``torch.device`` to train on.

    Raises:
        ValueError: If ``name`` is not one of :data:`DEVICES`.
        molssl.contrastive.training.devices.DeviceError: If ``"cuda"`` is requested but CUDA is not
            available.
    """
    import torch

    from molssl.contrastive.training.devices import check_device

    if name not in DEVICES:
        raise ValueError(f"device must be one of {DEVICES}, got {name!r}")
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda":
        check_device(name, flag="trainer.device")
        return torch.device("cuda", local_rank % torch.cuda.device_count())
    return torch.device("cpu")
