"""Benchmark methods: the parsed method string, a unit of work, and the fine-tuning config of a cell.

A method string is ``[LABEL=]KIND[:ARG]``: ``random-init``, a baseline (``ecfp-rf``,
``ecfp-mlp``, ``chemprop``) or a weight source of :mod:`molssl.models.pretrained`
(``ckpt:PATH``, ``molclr-gcn:PATH``, ...); a bare path means ``ckpt:PATH``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from molssl.contrastive.config import ConfigError, apply_overrides, did_you_mean
from molssl.finetune import FinetuneConfig, config_hash

if TYPE_CHECKING:
    from molssl.benchmark.runner import BenchmarkConfig


@dataclass(frozen=True)
class Method:
    """A parsed method string: display ``label``, registry ``kind`` and its ``arg``."""

    label: str
    kind: str
    arg: str | None


@dataclass(frozen=True)
class Cell:
    """One unit of work."""

    task: str
    method: Method
    seed: int


METHOD_KINDS = (
    "random-init",
    "ecfp-rf",
    "ecfp-mlp",
    "chemprop",
    "ckpt",
    "molclr-gcn",
    "molclr-gin",
)
"""Every method kind a suite accepts."""

NEEDS_PATH = ("ckpt", "molclr-gcn", "molclr-gin")
BASELINES = ("ecfp-rf", "ecfp-mlp", "chemprop")
"""Method kinds that train no molssl encoder (their cells share the task's plain featurization)."""


def parse_method(text: str) -> Method:
    """Parse ``[LABEL=]KIND[:ARG]``.

    Raises:
        ConfigError: Unknown kind, or a checkpoint method without a path.
    """
    label, sep, spec = text.partition("=")
    if not sep or ":" in label:
        label, spec = text, text
    kind, _, arg = spec.partition(":")
    if kind not in METHOD_KINDS and Path(spec).is_file():  # a bare path means ckpt:PATH
        kind, arg = "ckpt", spec
    if kind not in METHOD_KINDS:
        raise ConfigError(
            f"unknown method {text!r}{did_you_mean(kind, METHOD_KINDS)}; kinds: {sorted(METHOD_KINDS)} "
            "(ckpt:PATH, ...)"
        )
    if kind in NEEDS_PATH and not arg:
        raise ConfigError(f"method {text!r} needs a path: {kind}:PATH")
    return Method(label.strip(), kind, arg or None)


def finetune_config(method: Method, task: str, seed: int, cfg: BenchmarkConfig) -> FinetuneConfig:
    """The fine-tuning config of one cell: ``method`` on ``task`` at ``seed`` under the suite ``cfg``
    (its overrides applied; with ``keep_cells``/``save_models`` a per-settings folder that a rerun
    resumes)."""
    init = {"random-init": "random"}.get(method.kind, f"{method.kind}:{method.arg}")
    is_csv = cfg.csv is not None and task == csv_task_name(cfg)
    base = FinetuneConfig(
        task=None if is_csv else task,
        csv=cfg.csv if is_csv else None,
        smiles_col=cfg.smiles_col,
        targets=list(cfg.targets) if is_csv else [],
        task_type=cfg.task_type if is_csv else None,
        data_dir=cfg.data_dir,
        init=init,
        seed=seed,
        profile=cfg.profile,
        device=cfg.device,
        save_model=cfg.save_models,
    )
    cell = apply_overrides(base, cfg.finetune) if cfg.finetune else base
    if cfg.save_models or cfg.keep_cells:  # one folder per settings: a rerun resumes there
        name = f"{task}__{method.label}__{seed}__{config_hash(cell, portable=True)}"
        cell.out_dir = str(Path(cfg.out_dir) / "cells" / name)
        cell.resume = True
    return cell


def csv_task_name(cfg: BenchmarkConfig) -> str:
    """The task name of the suite's CSV task (its file name without suffixes; ``""`` if none)."""
    return Path(cfg.csv).name.split(".")[0] if cfg.csv else ""
