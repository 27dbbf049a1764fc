"""Benchmark methods: the parsed method string, a unit of work, and the fine-tuning config of a cell.

A method string is ``[LABEL=]KIND[:ARG]``: ``random-init`` (``random`` is the same; ledgers
label it ``random-init``), a baseline (:data:`BASELINES`) or a weights kind of
:data:`molssl.models.sources.WEIGHT_KINDS` (``ckpt:PATH``, ``molssl:NAME``, ``molclr-gcn:PATH``,
``hu2020-gcn:PATH``, ...); a bare path means ``ckpt:PATH``. :data:`METHOD_KINDS` is built from
those two registries.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from molssl.contrastive.config import ConfigError, apply_overrides, did_you_mean
from molssl.finetune import FinetuneConfig, config_hash
from molssl.models.sources import RANDOM_ALIASES, WEIGHT_KINDS

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


RANDOM_INIT = "random-init"
"""The method of a fresh encoder: the weights kind ``random`` under its ledger label."""

BASELINES = ("ecfp-rf", "ecfp-mlp", "chemprop")
"""Method kinds that train no molssl encoder (their cells share the task's plain featurization)."""

METHOD_KINDS = (
    RANDOM_INIT,
    *BASELINES,
    *(name for name in WEIGHT_KINDS if name != "random"),
)
"""Every method kind a suite accepts: ``random-init``, the baselines, the other weights kinds."""

METHOD_ALIASES = {"random": RANDOM_INIT, **dict.fromkeys(RANDOM_ALIASES, RANDOM_INIT)}
"""Other spellings of a method kind."""

NEEDS_PATH = tuple(name for name, kind in WEIGHT_KINDS.items() if kind.arg_required)
"""Method kinds that need an argument: ``:PATH`` (``molssl:NAME``: a release name)."""


def methods_grammar() -> str:
    """The accepted method strings, for help texts and error messages."""
    weights = ", ".join(k.usage() for name, k in WEIGHT_KINDS.items() if name != "random")
    return (
        f"{RANDOM_INIT}[:CONV] (or random), {', '.join(BASELINES)}, {weights}; a bare PATH "
        "means ckpt:PATH; optionally LABEL=METHOD"
    )


def parse_method(text: str) -> Method:
    """Parse ``[LABEL=]KIND[:ARG]``.

    ``random`` (an alias) is stored as ``random-init``, also in the label when no label is
    given, so a ledger names a fresh encoder one way.

    Raises:
        ConfigError: Unknown kind, or a checkpoint method without its path (or release name).
    """
    label, sep, spec = text.partition("=")
    named = bool(sep) and ":" not in label
    if not named:
        label, spec = text, text
    kind, _, arg = spec.partition(":")
    if kind in METHOD_ALIASES:
        kind = METHOD_ALIASES[kind]
        if not named:
            label = f"{kind}:{arg}" if arg else kind
    if kind not in METHOD_KINDS and Path(spec).is_file():  # a bare path means ckpt:PATH
        kind, arg = "ckpt", spec
    if kind not in METHOD_KINDS:
        raise ConfigError(
            f"unknown method {text!r}{did_you_mean(kind, [*METHOD_KINDS, *METHOD_ALIASES])}; "
            f"methods: {methods_grammar()}"
        )
    if kind in NEEDS_PATH and not arg:
        what = WEIGHT_KINDS[kind].arg
        raise ConfigError(f"method {text!r} needs a {what.lower()}: {kind}:{what}")
    return Method(label.strip(), kind, arg or None)


def check_weights(methods: list[Method]) -> None:
    """Load the weights of every checkpoint method once, so a bad file stops the suite first.

    Raises:
        FileNotFoundError: A method's checkpoint does not exist.
        molssl.models.shipped.UnknownEncoderError: ``molssl:NAME`` names no released encoder.
        molssl.contrastive.io.checkpoint.CheckpointError: It is unreadable or not of its kind
            (a released encoder: its file does not match its model card's SHA-256).
    """
    from molssl.models.pretrained import load_pretrained

    for method in methods:
        if method.kind in NEEDS_PATH:
            load_pretrained(f"{method.kind}:{method.arg}")


def finetune_config(method: Method, task: str, seed: int, cfg: BenchmarkConfig) -> FinetuneConfig:
    """The fine-tuning config of one cell: ``method`` on ``task`` at ``seed`` under the suite ``cfg``
    (its overrides applied; with ``keep_cells``/``save_models`` a per-settings folder that a rerun
    resumes)."""
    from molssl.predefined_splits import is_column_split

    if method.kind == RANDOM_INIT:
        init = f"random:{method.arg}" if method.arg else "random"
    else:
        init = f"{method.kind}:{method.arg}"
    is_csv = cfg.csv is not None and task == csv_task_name(cfg)
    split: dict = {}  # a predefined split is the CSV task's; a splitter name applies to all
    if is_csv:
        split = {
            "split": cfg.split,
            "split_file": cfg.split_file,
            "valid_splitter": cfg.valid_splitter,
        }
    elif cfg.split_file is None and not is_column_split(cfg.split):
        split = {"split": cfg.split}
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
        **split,
    )
    cell = apply_overrides(base, cfg.finetune) if cfg.finetune else base
    if cfg.save_models or cfg.keep_cells:  # one folder per settings: a rerun resumes there
        name = f"{task}__{method.label}__{seed}__{config_hash(cell, portable=True)}"
        cell.out_dir = str(Path(cfg.out_dir) / "cells" / name)
        cell.resume = True
    return cell


_VOCABULARY_FIELDS = ("atom_feature_sizes", "bond_feature_sizes", "self_loop_bond")


def encoder_record(method: Method, task: str, cfg: BenchmarkConfig) -> dict[str, Any] | None:
    """The encoder ``method``'s cells fine-tune, as ``protocol.json`` records it.

    The :class:`~molssl.models.EncoderConfig` fields of the encoder built for ``task`` under
    ``cfg`` (without the featurizer's vocabulary sizes): a random encoder with the suite's
    ``finetune.encoder`` settings, a checkpoint with its own architecture (those settings do
    not apply to it). ``None`` for a baseline, which trains no encoder.
    """
    from molssl.finetune.run import load_init

    if method.kind in BASELINES:
        return None
    config = load_init(finetune_config(method, task, 0, cfg)).encoder.config.to_dict()
    return {k: v for k, v in config.items() if k not in _VOCABULARY_FIELDS}


def csv_task_name(cfg: BenchmarkConfig) -> str:
    """The task name of the suite's CSV task (its file name without suffixes; ``""`` if none)."""
    return Path(cfg.csv).name.split(".")[0] if cfg.csv else ""
