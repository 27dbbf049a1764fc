"""``protocol.json``: how a results folder was made, and comparing two folders by it.

Papers disagree by several points because split variants, checkpoint selection and tuning
budgets differ and are rarely stated. Every ``molssl benchmark`` folder therefore records, per
task: the dataset file and its SHA-256, the split variant, sizes and seed, the SHA-256 of each run
seed's split, the metric (and extra metrics), how single-class targets are handled, epochs and
molecule cap; per method: its kind, how its tested weights are selected and the encoder it
fine-tunes (a checkpoint's own architecture; none for a baseline); and the search
budget and package versions of the run; after a search (``--search N``), ``searches`` holds each
(task, method)'s best settings, their validation value and the retrained seeds' test values
(:func:`record_protocol_searches`). :func:`compare_protocols` names the first difference
between two records outside their methods; ``molssl benchmark --compare A B`` refuses to put
two folders in one table when there is one.

The split hash is the SHA-256 of the JSON text ``[[train rows], [valid rows], [test rows]]``
(file rows, 0-based, after invalid SMILES are dropped and any subsample is drawn), so it can be
recomputed by any implementation from the file alone (:func:`molssl.splits.split_sha256`). A
task split by the user (``--split column:NAME`` or ``--split-file``) is recorded as ``split``
``"column:NAME"`` / ``"file:NAME.json"`` with ``split_source`` (the column or the file and its
SHA-256, and ``valid_from_train`` when validation rows were carved out of train); its
``split_sha256`` is of the split as used.
"""

from __future__ import annotations

import json
import logging
import platform
import socket
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from molssl.contrastive.io.atomic import write_text_atomic
from molssl.contrastive.io.digest import file_sha256
from molssl.contrastive.io.ledger import locked
from molssl.splits import split_sha256 as split_sha256

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1
FILENAME = "protocol.json"
NOT_COMPARED = ("methods", "runs", "searches")
"""Top-level fields that may differ between two folders put in one table."""

SINGLE_CLASS_RULE = (
    "a target with no labels or a single class on the test split is skipped: it is NaN in "
    "per_target and left out of the task's mean (listed here as single_class_test_targets)"
)
SELECTION_RULES: dict[str, str] = {
    "finetune": "weights of the best validation epoch (validation metric), tested once "
    "(value); the last epoch's test value is recorded beside it (value_last)",
    "ecfp-rf": "no selection: one forest per target on the training rows",
    "ecfp-mlp": "early stopping on 10% of the training rows (scikit-learn MLP)",
    "chemprop": "chemprop default: checkpoint of the lowest validation loss",
}


class ProtocolMismatchError(ValueError):
    """Two protocol records differ outside their methods."""


def package_versions(extra: tuple[str, ...] = ()) -> dict[str, str]:
    """Versions of Python and the libraries that change results (``extra``: more modules)."""
    import importlib

    versions = {"python": platform.python_version()}
    for name in (
        "molssl",
        "torch",
        "torch_geometric",
        "rdkit",
        "sklearn",
        "numpy",
        "pandas",
        *extra,
    ):
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        versions[name] = str(getattr(module, "__version__", "unknown"))
    return versions


def single_class_targets(targets: np.ndarray, rows: np.ndarray, names: tuple[str, ...]) -> list:
    """Names of the targets with no labels or one class among ``rows``."""
    out = []
    for t, name in enumerate(names):
        labels = targets[rows, t]
        if np.unique(labels[~np.isnan(labels)]).size < 2:
            out.append(name)
    return out


def diff_records(a: Any, b: Any, path: str = "") -> str | None:
    """The first difference between two JSON-like records, as ``path: a != b``; ``None``."""
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        for key in sorted(set(a) | set(b), key=str):
            where = f"{path}.{key}" if path else str(key)
            if key not in a or key not in b:
                side = "first" if key not in b else "second"
                return f"{where}: only in the {side} record"
            found = diff_records(a[key], b[key], where)
            if found:
                return found
        return None
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for k, (x, y) in enumerate(zip(a, b, strict=True)):
            found = diff_records(x, y, f"{path}[{k}]")
            if found:
                return found
        return None
    return None if a == b else f"{path}: {a!r} != {b!r}"


def _finetune_defaults() -> dict[str, Any]:
    from molssl.contrastive.config import to_dict
    from molssl.finetune import FinetuneConfig

    return to_dict(FinetuneConfig(task="bbbp"))


def _normalised(record: Mapping[str, Any]) -> dict[str, Any]:
    """``record`` without :data:`NOT_COMPARED`, its fine-tuning settings completed with today's
    defaults and empty values dropped, so a field added by a later molssl version (at its
    default) does not make an older folder look different."""
    out = {k: v for k, v in record.items() if k not in NOT_COMPARED and v not in (None, [], {})}
    if "finetune" in out:
        defaults = {k: v for k, v in _finetune_defaults().items() if k not in out["finetune"]}
        out["finetune"] = {**defaults, **out["finetune"]}
    return out


def compare_protocols(a: Mapping[str, Any], b: Mapping[str, Any]) -> str | None:
    """The first difference between two protocol records outside :data:`NOT_COMPARED`.

    Fine-tuning settings missing from one record count as the current default; empty top-level
    fields count as absent.
    """
    return diff_records(_normalised(a), _normalised(b))


def read_protocol(folder: str | Path) -> dict[str, Any]:
    """Read ``folder/protocol.json``.

    Raises:
        FileNotFoundError: The folder has no protocol record (made before it existed, or not
            a ``molssl benchmark`` folder).
    """
    path = Path(folder) / FILENAME
    if not Path(folder).is_dir():
        raise FileNotFoundError(
            f"{folder}: no such folder (give two `molssl benchmark --out` folders)"
        )
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} does not exist: {folder} is not a molssl benchmark results folder, or was "
            "made by a version without protocol records; rerun `molssl benchmark --out "
            f"{folder}` (finished cells are kept) to write it"
        )
    return _read_record(path)


def write_protocol(folder: str | Path, record: Mapping[str, Any]) -> Path:
    """Merge ``record`` into ``folder/protocol.json`` (atomic); refuse a changed protocol.

    Tasks, seeds and methods of an existing record are kept and new ones added; a task already
    recorded must be recorded identically (same file, split, metric, epochs...) and the
    run-wide settings must match, so that one ledger never mixes two protocols. A task recorded
    with an ``error`` (its file could not be read) is replaced by a readable one. Each call
    appends ``{started, host, packages}`` to ``runs``.

    Raises:
        ProtocolMismatchError: The folder's record differs from ``record`` in a shared task or
            in a run-wide field; the message names the first difference and the fix.
    """
    path = Path(folder) / FILENAME
    path.parent.mkdir(parents=True, exist_ok=True)
    with locked(path.with_name(path.name + ".lock")):  # processes sharing a folder merge in turn
        return _merge_protocol(folder, path, json.loads(json.dumps(record)))


def _read_record(path: Path) -> dict[str, Any]:
    """``protocol.json`` as a dict; a damaged file is a :class:`ProtocolMismatchError` naming it."""
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as err:  # JSONDecodeError, UnicodeDecodeError
        record = err
    if not isinstance(record, dict):
        raise ProtocolMismatchError(
            f"{path} is damaged (not a JSON record); delete it and rerun `molssl benchmark --out "
            f"{path.parent}` with the same settings (finished cells in results.csv are kept)"
        )
    return record


def _merge_protocol(folder: str | Path, path: Path, new: dict[str, Any]) -> Path:
    if path.is_file():
        old = _read_record(path)
        tasks = dict(old.get("tasks", {}))
        for name, entry in new["tasks"].items():
            before = tasks.get(name)
            if before is None or "error" in before or "error" in entry:
                tasks[name] = entry if "error" not in entry or before is None else before
                continue
            seeds = set(before["split_sha256"]) & set(entry["split_sha256"])
            problem = diff_records(
                {**before, "split_sha256": {s: before["split_sha256"][s] for s in seeds}},
                {**entry, "split_sha256": {s: entry["split_sha256"][s] for s in seeds}},
                f"tasks.{name}",
            )
            if problem:
                _refuse(folder, problem)
            tasks[name] = {
                **entry,
                "split_sha256": {**before["split_sha256"], **entry["split_sha256"]},
            }
        problem = compare_protocols({**old, "tasks": {}}, {**new, "tasks": {}})
        if problem:
            _refuse(folder, problem)
        merged = {
            **old,
            "tasks": tasks,
            "methods": {**old.get("methods", {}), **new["methods"]},
            "runs": old.get("runs", []) + new["runs"],
        }
    else:
        merged = new
    write_text_atomic(path, json.dumps(merged, indent=2, sort_keys=False) + "\n")  # umask mode
    return path


def record_protocol_searches(folder: str | Path, entries: Mapping[str, Mapping[str, Any]]) -> Path:
    """Merge ``{task: {method: search entry}}`` into ``searches`` of ``folder/protocol.json``.

    An entry is what ``search.json`` holds for that task and method (best settings, their
    validation value, trials, study name, seeds, the retrained seeds' test values); a later
    search of the same task and method replaces it. ``searches`` is not compared between folders.
    """
    path = Path(folder) / FILENAME
    with locked(path.with_name(path.name + ".lock")):
        record = _read_record(path) if path.is_file() else {}
        searches = record.setdefault("searches", {})
        for task, methods in entries.items():
            searches[task] = {
                **searches.get(task, {}),
                **json.loads(json.dumps(methods, default=str)),
            }
        write_text_atomic(path, json.dumps(record, indent=2, sort_keys=False) + "\n")
    return path


def _refuse(folder: str | Path, problem: str) -> None:
    raise ProtocolMismatchError(
        f"{folder} holds results made under another protocol ({problem}); use a new --out "
        "folder for the new settings, or move the old one away"
    )


def run_entry() -> dict[str, Any]:
    """``{started, host, packages}`` of this process (one entry of ``runs``)."""
    return {
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "host": socket.gethostname(),
        "packages": package_versions(("chemprop", "lightning")),
    }


def task_protocol(ft: Any, seeds: list[int], path: Path | None) -> dict[str, Any]:
    """The record of one task as the benchmark runs it (``ft``: its random-init cell config).

    Args:
        ft: A :class:`~molssl.finetune.FinetuneConfig` of the task (split, sizes, cap, epochs).
        seeds: Run seeds (each gets its split's hash; one split is shared by all seeds today).
        path: The dataset file that was read.
    """
    from molssl.featurize import MolGraphFeaturizer
    from molssl.finetune import get_profile, load_task
    from molssl.finetune.run import molecule_cap

    data = load_task(ft, MolGraphFeaturizer())
    profile = get_profile(ft.profile)
    cap = molecule_cap(ft)
    hashes, test_rows, resolved = {}, None, None
    for seed in seeds:
        resolved = ft.split_of(data)
        hashes[str(seed)] = resolved.sha256
        test_rows = resolved.parts[2]
    spec = data.spec
    predefined = {"split_source": resolved.source} if resolved and resolved.predefined else {}
    return {
        "file": path.name if path else None,
        "file_sha256": file_sha256(path) if path else None,
        "rows_in_file": data.num_rows,
        "max_molecules": cap or None,
        "molecules": len(data),
        "invalid_smiles": len(data.failures),
        "task_type": spec.task_type,
        "targets": len(data.target_names),
        "split": resolved.name if resolved else ft.split or spec.default_split,
        **predefined,
        "split_sizes": list(ft.split_sizes),
        "split_seed": ft.split_seed,
        "split_sha256": hashes,
        "metric": spec.metric,
        "extra_metrics": list(spec.extra_metrics),
        "single_class_test_targets": single_class_targets(
            data.targets, test_rows, data.target_names
        )
        if spec.task_type == "classification"
        else [],
        "epochs": ft.epochs or profile.epochs,
    }
