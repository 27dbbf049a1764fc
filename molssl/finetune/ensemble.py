"""Deep ensembles: N fine-tuning runs that differ only in their seed (``--ensemble N``).

Member ``i`` is :func:`~molssl.finetune.run.finetune` with seed ``cfg.seed + i``, written to
``out_dir/member-i/`` (its own ``model.pt``, result and per-epoch state), so ``molssl predict
--model out_dir`` averages the members and reports their spread (Lakshminarayanan et al., 2017,
"Simple and scalable predictive uncertainty estimation using deep ensembles"). The split is the
same for every member (it does not depend on the run seed); ``--resume`` continues the member
that was interrupted and skips the finished ones.

With ``cfg.conformal`` each member is calibrated alone (its ``model.pt``) and the ensemble mean
is calibrated on the validation split too (``ensemble.json``, used by ``molssl predict --model
FOLDER``), so that the intervals of the ensemble cover at the requested rate. That calibration
records each member's ``model.pt`` SHA-256: ``molssl predict`` refuses it once a member file has
changed (a member retrained or copied over after calibration).
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from molssl.contrastive.config import ConfigError
from molssl.contrastive.io.atomic import write_text_atomic
from molssl.finetune.config import FinetuneConfig
from molssl.finetune.run import FinetuneResult, finetune

logger = logging.getLogger(__name__)


@dataclass
class EnsembleResult:
    """The members' results and where they are.

    Attributes:
        out_dir: The ensemble folder (``None`` when nothing was written).
        members: One :class:`FinetuneResult` per member, in seed order.
        value: Mean test metric over the members (each member scored alone).
        conformal: With ``cfg.conformal`` and an ``out_dir``: the ensemble mean's calibration
            and its test coverage (as :attr:`FinetuneResult.conformal`).
    """

    out_dir: Path | None
    members: list[FinetuneResult]
    value: float
    conformal: dict[str, Any] | None = None


def member_dir(out_dir: str | Path, index: int) -> Path:
    """Folder of member ``index`` inside an ensemble folder."""
    return Path(out_dir) / f"member-{index}"


def finetune_ensemble(cfg: FinetuneConfig, members: int) -> EnsembleResult:
    """Train ``members`` fine-tuning runs with seeds ``cfg.seed``, ``cfg.seed + 1``, ...

    Args:
        cfg: The run's configuration (``out_dir`` is the ensemble folder).
        members: Number of members, at least 2.

    Returns:
        :class:`EnsembleResult`; ``out_dir/ensemble.json`` lists the members' results.

    Raises:
        ConfigError: ``members`` below 2, or the molclr protocol (which writes no model.pt).
        See :func:`~molssl.finetune.run.finetune` for the rest.
    """
    if members < 2:
        raise ConfigError(f"an ensemble needs at least 2 members, got {members}")
    if cfg.protocol != "joint" and cfg.out_dir is not None:
        raise ConfigError("--ensemble writes one model.pt per member: use --protocol joint")
    results = []
    for index in range(members):
        out = None if cfg.out_dir is None else str(member_dir(cfg.out_dir, index))
        member = replace(cfg, seed=cfg.seed + index, out_dir=out)
        logger.info("ensemble member %d of %d (seed %d)", index + 1, members, member.seed)
        results.append(finetune(member))
    finite = [r.value for r in results if not math.isnan(r.value)]
    value = float(np.mean(finite)) if finite else math.nan
    out_dir = None if cfg.out_dir is None else Path(cfg.out_dir)
    if out_dir is not None:
        conformal = None
        if cfg.conformal is not None:
            conformal = _calibrate_mean(cfg, [member_dir(out_dir, i) for i in range(members)])
        summary = {
            "members": [r.to_dict() for r in results],
            "value": value,
            "metric": results[0].metric,
            "conformal": conformal,
        }
        write_text_atomic(out_dir / "ensemble.json", json.dumps(summary, indent=2))
        return EnsembleResult(out_dir, results, value, conformal)
    return EnsembleResult(out_dir, results, value)


def _calibrate_mean(cfg: FinetuneConfig, dirs: list[Path]) -> dict[str, Any]:
    """Calibrate the members' mean on the validation split (their ``*_predictions.csv``)."""
    import pandas as pd

    from molssl.finetune.conformal import calibrate_split
    from molssl.finetune.run import load_init, load_task

    task = load_task(cfg, load_init(cfg).featurizer)
    split = cfg.split_of(task).parts
    names = list(task.target_names)

    def mean(kind: str) -> np.ndarray:
        frames = [pd.read_csv(d / f"{kind}_predictions.csv") for d in dirs]
        return np.mean([f[names].to_numpy(dtype=np.float64) for f in frames], axis=0)

    _, report = calibrate_split(
        task.targets[split[1]],
        mean("valid"),
        task.targets[split[2]],
        mean("test"),
        task.spec.task_type,
        cfg.conformal,
        names,
    )
    from molssl.contrastive.io.digest import file_sha256

    hashes = {d.name: file_sha256(d / "model.pt") for d in dirs}
    return {**report, "members": [d.name for d in dirs], "member_sha256": hashes}
