"""Contrastive pretraining of a molecular graph encoder (``molssl pretrain``).

``pretrain(config)`` resolves the data (a graph store, or a SMILES file featurized once into a
store; RDKit's bundled ``first_5K.smi`` when none is given), holds out a validation set, builds
the encoder and the objective, and runs the generic :class:`~molssl.contrastive.training.trainer.Trainer`
(checkpoints, resume, DDP under ``torchrun``, logging). The featurizer config travels in every
checkpoint so that embedding and fine-tuning featurize exactly as pretraining did.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from torch.utils.data import Subset
from torch_geometric.data import Batch

from molssl.contrastive.config import ConfigError, from_dict, load_yaml, to_dict
from molssl.contrastive.training.seed import seed_everything
from molssl.contrastive.training.trainer import Trainer, TrainerConfig, TrainResult
from molssl.models import EncoderConfig, MolEncoder
from molssl.objectives import ObjectiveConfig, build_objective
from molssl.probe import MoleculeProbe, ProbeConfig

logger = logging.getLogger(__name__)


@dataclass
class DataConfig:
    """Where pretraining molecules come from.

    Attributes:
        path: A graph store directory (from ``molssl featurize``) or a SMILES file
            (.smi/.txt/.csv, optionally gzipped). None: RDKit's bundled ``first_5K.smi``.
        smiles_column: SMILES column of a CSV file, name or 0-based index (auto-detected from a
            header cell named like ``smiles`` when None).
        format: ``smi``, ``csv`` or ``tsv`` (None: from the file name).
        store: Where to build the store for a SMILES file (default: ``<out_dir>/store``).
        featurizer: Featurizer scheme (``molclr`` or ``rich``). None: the store's when ``path``
            is a store, ``molclr`` when building one. A value that differs from a given store's
            is an error, not ignored.
        hydrogens: Hydrogen policy (``implicit`` or ``explicit``); None as for ``featurizer``
            (``implicit`` when building).
        fingerprint_kind: Fingerprints stored for iMolCLR's Tanimoto weights: ``ecfp`` (ECFP4
            bits, 2048) or ``imolclr`` (iMolCLR's exact count fingerprints); None as for
            ``featurizer`` (``ecfp`` when building).
        featurize_workers: Processes used to build a store.
        valid_size: Fraction held out for validation (MolCLR: 0.05).
        limit: Use only the first ``limit`` molecules of the store (None: all).
    """

    path: str | None = None
    smiles_column: str | int | None = None
    format: str | None = None
    store: str | None = None
    featurizer: str | None = None
    hydrogens: str | None = None
    fingerprint_kind: str | None = None
    featurize_workers: int = 1
    valid_size: float = 0.05
    limit: int | None = None

    def __post_init__(self) -> None:
        if not 0.0 <= self.valid_size < 1.0:  # before a store is built, not after
            raise ConfigError(
                f"data.valid_size must be a fraction in [0, 1), e.g. 0.05; got {self.valid_size}"
            )


@dataclass
class PretrainConfig:
    """Everything a pretraining run needs; ``configs/*.yaml`` are serialisations of it."""

    data: DataConfig = field(default_factory=DataConfig)
    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    objective: ObjectiveConfig = field(default_factory=ObjectiveConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    probe: ProbeConfig = field(default_factory=ProbeConfig)

    def __post_init__(self) -> None:
        if self.trainer.batch_size < 2:
            raise ConfigError(
                f"--batch-size {self.trainer.batch_size}: contrastive pretraining needs at least "
                "2 molecules per batch (the others in the batch are each one's negatives); use "
                "--batch-size 2 or more"
            )


def load_pretrain_config(path: str | Path) -> PretrainConfig:
    """Load a YAML preset strictly into a :class:`PretrainConfig`."""
    return load_yaml(PretrainConfig, path)


def open_store(
    data: DataConfig, out_dir: str | Path, *, progress: bool = True, descriptors: bool = False
):
    """The graph store named by ``data`` (building it from a SMILES file when needed).

    ``descriptors``: a store built here also holds the RDKit descriptors of every molecule.
    """
    from molssl.data import embedded_smiles_path
    from molssl.featurize import get_featurizer
    from molssl.store import GraphStore, build_graph_store

    path = Path(data.path) if data.path else embedded_smiles_path()
    if path.is_dir():
        return _check_store_settings(GraphStore(path), data)
    if not path.exists():
        raise FileNotFoundError(
            f"pretraining data {path} does not exist; pass a SMILES file or a graph store "
            "directory built by `molssl featurize` (--data PATH)."
        )
    store_dir = Path(data.store) if data.store else Path(out_dir) / "store"
    featurizer = get_featurizer(
        data.featurizer or "molclr",
        hydrogens=data.hydrogens or "implicit",
        fingerprint=True,
        fragments=True,
        fingerprint_kind=data.fingerprint_kind or "ecfp",
        descriptors=descriptors,
    )
    return build_graph_store(
        path,
        store_dir,
        featurizer=featurizer,
        smiles_column=data.smiles_column,
        fmt=data.format,
        workers=data.featurize_workers,
        progress=progress,
    )


def _check_store_settings(store, data: DataConfig):
    """A given store, after checking that the featurizer settings set in ``data`` match its own."""
    from molssl.store import StoreError

    built = store.featurizer_config
    wanted = {
        "featurizer": (data.featurizer, built.get("name")),
        "hydrogens": (data.hydrogens, built.get("hydrogens")),
        "fingerprint_kind": (data.fingerprint_kind, built.get("fingerprint_kind")),
    }
    differ = {k: v for k, v in wanted.items() if v[0] is not None and v[0] != v[1]}
    if differ:
        shown = ", ".join(f"data.{k}={a!r} but the store has {b!r}" for k, (a, b) in differ.items())
        raise StoreError(
            f"{store.path} was built with other settings ({shown}); drop those settings (or set "
            "them to null) to train on the store as built, or build a store with them: "
            "`molssl featurize INPUT -o NEW_STORE ...`."
        )
    return store


_OTHER_RUNS = (
    "model.pt",
    "result.json",
    "train_state.pt",
    "ensemble.json",
    "results.csv",
    "protocol.json",
    "search.json",
)
"""Files that mark a folder as the output of a command other than ``molssl pretrain``."""


def split_store(n: int, valid_size: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded random train/validation indices (validation gets ``floor(valid_size * n)``)."""
    if not 0.0 <= valid_size < 1.0:
        raise ConfigError(
            f"data.valid_size must be a fraction in [0, 1), e.g. 0.05; got {valid_size}"
        )
    perm = np.random.default_rng(seed).permutation(n)
    n_valid = int(valid_size * n)
    return np.sort(perm[n_valid:]), np.sort(perm[:n_valid])


def pretrain(config: PretrainConfig) -> TrainResult:
    """Pretrain an encoder with a contrastive objective.

    Args:
        config: The run's configuration; written to ``config.trainer.out_dir/config.yaml``.

    Returns:
        The trainer's result (final step, checkpoint paths, history).

    Raises:
        FileNotFoundError: The data path does not exist.
        molssl.store.StoreError: The store is incomplete or belongs to another source.
    """
    from molssl.contrastive.training.devices import check_device
    from molssl.featurize import featurizer_from_dict

    tcfg = config.trainer
    check_device(tcfg.device, flag="--device")
    last = Path(tcfg.out_dir) / "last.pt"
    other = [n for n in _OTHER_RUNS if (Path(tcfg.out_dir) / n).exists()]
    if other:  # its config.yaml would be overwritten
        raise FileExistsError(
            f"{tcfg.out_dir} holds another kind of run ({', '.join(other)}: `molssl finetune` or "
            "`molssl benchmark`), not a pretraining run; pick a new --out (out_dir)"
        )
    if last.exists() and not tcfg.resume:  # before building a store, not after
        raise FileExistsError(
            f"{last} exists; pass --resume to continue that run or pick a new --out (out_dir)"
        )
    if int(os.environ.get("RANK", "0")) == 0:
        wants_desc = "descriptors" in config.objective.terms()
        store = open_store(
            config.data, tcfg.out_dir, progress=tcfg.progress, descriptors=wants_desc
        )
    else:
        store = _wait_for_store(config.data, tcfg.out_dir)
    featurizer = featurizer_from_dict(store.featurizer_config)
    n = len(store) if config.data.limit is None else min(len(store), config.data.limit)
    train_idx, valid_idx = split_store(n, config.data.valid_size, tcfg.seed)
    if len(train_idx) < tcfg.batch_size and tcfg.drop_last:
        raise ConfigError(
            f"--batch-size {tcfg.batch_size} is larger than the {len(train_idx)} training "
            f"molecules of {store.path} (after holding out {len(valid_idx)} for validation); "
            "lower --batch-size or give more data"
        )
    _check_extras(config.objective, store)
    encoder_cfg = config.encoder
    if tuple(encoder_cfg.atom_feature_sizes) != tuple(featurizer.atom_feature_sizes) or tuple(
        encoder_cfg.bond_feature_sizes
    ) != tuple(featurizer.bond_feature_sizes):
        encoder_cfg = from_dict(
            EncoderConfig,
            {
                **to_dict(encoder_cfg),
                "atom_feature_sizes": list(featurizer.atom_feature_sizes),
                "bond_feature_sizes": list(featurizer.bond_feature_sizes),
                "self_loop_bond": list(featurizer.self_loop_bond),
            },
        )
    seed_everything(tcfg.seed)  # the initial weights follow --seed, also when called in-process
    objective = build_objective(
        config.objective, mask_atom=featurizer.mask_atom, mask_bond=featurizer.self_loop_bond
    )
    if hasattr(objective, "prepare"):  # e.g. the descriptor scaler, on training molecules only
        objective.prepare(store, train_idx)
    ecfp = featurizer.fingerprint and featurizer.fingerprint_kind == "ecfp"
    fp_bits = featurizer.fingerprint_bits if ecfp else None
    model = objective.build_model(MolEncoder.from_config(encoder_cfg), fingerprint_bits=fp_bits)
    run_config = to_dict(
        PretrainConfig(config.data, encoder_cfg, config.objective, tcfg, config.probe)
    )
    probe = None
    if tcfg.probe_every and int(os.environ.get("RANK", "0")) == 0:
        probe = MoleculeProbe(config.probe, featurizer)
    settings = config.objective.effective()
    logger.info(
        "pretraining %s on %d molecules (%d held out) from %s; %s",
        config.objective.name,
        len(train_idx),
        len(valid_idx),
        store.path,
        _describe(settings),
    )
    trainer = Trainer(
        model,
        objective,
        Subset(store, train_idx),
        tcfg,
        val_data=Subset(store, valid_idx) if len(valid_idx) >= 2 else None,
        collate_fn=Batch.from_data_list,
        run_config=run_config,
        metadata={
            "featurizer": featurizer.to_dict(),
            "store": str(store.path),
            "encoder_prefix": objective.encoder_prefix,
            **(
                objective.checkpoint_metadata() if hasattr(objective, "checkpoint_metadata") else {}
            ),
        },
        run_info={"objective": settings},
        probe=probe,
    )
    return trainer.fit()


def _describe(settings: dict[str, Any]) -> str:
    """``"weights imolclr 1 + attrmask 0.5, temperature 0.1, attrmask.mask_rate 0.15"``."""
    parts = []
    for key, value in settings.items():
        if key == "terms":
            if len(value) > 1:
                parts.append("weights " + " + ".join(f"{n} {w:g}" for n, w in value.items()))
        elif isinstance(value, dict):
            parts += [f"{key}.{k} {v}" for k, v in value.items()]
        else:
            parts.append(f"{key} {value}")
    return ", ".join(parts)


def _check_extras(objective: ObjectiveConfig, store) -> None:
    """Refuse an objective whose losses need per-molecule extras the store was built without."""
    lambda_1, lambda_2 = objective.resolved()
    feats = store.featurizer_config
    if "descriptors" in objective.terms() and not feats.get("descriptors"):
        raise ConfigError(
            f"objective {objective.name!r} regresses RDKit descriptors, but the store "
            f"{store.path} was built without them; pass the SMILES file as --data (pretrain "
            "builds a store with them) or rebuild it with `molssl featurize --descriptors` "
            "(MolGraphFeaturizer(descriptors=True))"
        )
    missing = [
        what
        for what, needed, key in (
            ("fingerprints (objective.lambda_1 > 0)", lambda_1 > 0, "fingerprint"),
            ("BRICS fragments (objective.lambda_2 > 0)", lambda_2 > 0, "fragments"),
        )
        if needed and not feats.get(key)
    ]
    if missing:
        raise ConfigError(
            f"objective {objective.name!r} needs {' and '.join(missing)}, but the store "
            f"{store.path} was built without them (molssl featurize --no-extras); rebuild it "
            "without --no-extras, or use --set objective.name=molclr"
        )


def _wait_for_store(data: DataConfig, out_dir: str | Path, poll_s: float = 2.0):
    """On ranks other than 0: wait until rank 0 has finished building the store, then open it."""
    from molssl.store import GraphStore

    if data.path and Path(data.path).is_dir():
        return GraphStore(data.path)
    store_dir = Path(data.store) if data.store else Path(out_dir) / "store"
    meta = store_dir / "meta.json"
    while True:
        if meta.exists():
            try:
                if json.loads(meta.read_text()).get("complete"):
                    return GraphStore(store_dir)
            except json.JSONDecodeError:
                pass
        time.sleep(poll_s)
