"""Optuna studies that resume: the driver behind ``--search N`` and the ``search.json`` record.

:func:`run_study` runs (or resumes) one study of ``N`` trials, each scored on the validation
split by the caller's objective; :mod:`molssl.finetune.search` and
:mod:`molssl.benchmark.tuning` give it their search spaces and objectives.

Every study lives in the SQLite file ``study.db`` of the output folder, named after the task,
the method and a hash of everything else that determines a trial, so an interrupted search
resumes (``load_if_exists``) and a changed setting starts a new study. Trial ``k`` samples with
a TPE sampler seeded ``seed + k``, so a resumed search proposes exactly what an uninterrupted
one would have. Trial 0 runs the caller's default settings (``defaults``, enqueued), so the best
trial is never worse on validation than a run without search, and the result reports both. Only finished trials count towards ``N``: one cut short by Ctrl-C or a kill is
run again, one that failed on its own (its error kept as a user attribute) is not; a trial a killed
process left RUNNING is marked FAIL when the study is next opened. One process
per study at a time: a second process (two benchmark processes sharing a folder, a second
``finetune --search`` into the same ``--out``) waits on the study's lock file, then finds the
study finished and uses its trials instead of running them twice.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

STUDY_FILE = "study.db"
"""SQLite file of every study in an output folder."""

SPACE_VERSION = 2
"""Bumped when a search space changes, so old studies are not resumed with a new space."""


DEFAULTS_ATTR = "defaults"
"""User attribute marking the trial that ran the default settings."""


class SearchError(RuntimeError):
    """A search could not produce a best setting (every trial failed)."""


@dataclass(frozen=True)
class SearchResult:
    """The outcome of one study.

    Attributes:
        task, method: What was searched (``method`` as the benchmark labels it).
        metric, direction: Validation metric and ``"maximize"`` / ``"minimize"``.
        best_params: Best trial's settings (names of :data:`FINETUNE_SPACE` or
            :data:`RF_SPACE`).
        best_value: Its validation metric.
        best_trial: Its trial number.
        n_trials: Finished trials in the study (complete or failed on their own).
        search_seconds: Summed wall time of those trials (across resumed calls).
        seconds: Wall time of this call.
        study_name, storage: Where the study lives.
        sampler_seed, trial_seed: Seed of trial 0's sampler; seed every trial trains with.
        extra: ``best_attrs`` (the best trial's attributes), ``defaults`` (the default
            settings' trial: ``{trial, params, value}``, ``value`` ``None`` if it failed; absent
            for a study without one) and what the caller adds (``fixed``).
    """

    task: str
    method: str
    metric: str
    direction: str
    best_params: dict[str, Any]
    best_value: float
    best_trial: int
    n_trials: int
    search_seconds: float
    seconds: float
    study_name: str
    storage: str
    sampler_seed: int
    trial_seed: int
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return dataclasses.asdict(self)


Space = Callable[[Any, dict[str, Any]], dict[str, Any]]
"""``(optuna trial, info) -> settings``: samples one trial's settings."""


def _import_optuna() -> Any:
    try:
        import optuna
    except ImportError:
        from molssl.contrastive.config import ConfigError

        raise ConfigError(
            "hyperparameter search needs Optuna, which is not installed: "
            "pip install 'molssl[search]'"
        ) from None
    return optuna


def study_name(task: str, method: str, identity: dict[str, Any]) -> str:
    """``TASK/METHOD/HASH``: HASH covers everything besides the sampled settings."""
    blob = json.dumps({**identity, "space_version": SPACE_VERSION}, sort_keys=True, default=str)
    return f"{task}/{method}/{hashlib.sha1(blob.encode()).hexdigest()[:10]}"


def _counted(trial: Any) -> bool:
    from optuna.trial import TrialState

    return trial.state in (TrialState.COMPLETE, TrialState.PRUNED) or (
        trial.state == TrialState.FAIL and "error" in trial.user_attrs
    )


def _rename_former(optuna: Any, storage: str, name: str, former: list[str]) -> None:
    """Give the first study found under a ``former`` name ``name``, unless ``name`` exists."""
    names = optuna.get_all_study_names(storage)
    if name in names:
        return
    for old in former:
        if old in names and old != name:
            optuna.copy_study(
                from_study_name=old, from_storage=storage, to_storage=storage, to_study_name=name
            )
            optuna.delete_study(study_name=old, storage=storage)
            logger.info("study %s renamed %s (its identity now names files by content)", old, name)
            return


def _enqueue_defaults(study: Any, defaults: dict[str, Any]) -> None:
    """Queue ``defaults`` as the next trial unless a trial of them is done or queued.

    A fresh study runs them as trial 0; a study whose defaults trial was cut short (Ctrl-C, a
    kill) queues them again, so they still run before any sampled trial.
    """
    from optuna.trial import TrialState

    for trial in study.get_trials(deepcopy=False):
        if trial.user_attrs.get(DEFAULTS_ATTR) and (
            trial.state == TrialState.WAITING or _counted(trial)
        ):
            return
    study.enqueue_trial(defaults, user_attrs={DEFAULTS_ATTR: True})


def _defaults_entry(trials: list[Any]) -> dict[str, Any] | None:
    """``{trial, params, value}`` of the finished trial of the default settings, if any."""
    for trial in trials:
        if trial.user_attrs.get(DEFAULTS_ATTR):
            value = trial.value if trial.state.name == "COMPLETE" else None
            return {
                "trial": trial.number,
                "params": dict(trial.params),
                "value": None if value is None else float(value),
            }
    return None


def _fail_abandoned(study: Any) -> None:
    """Mark trials that a killed process left RUNNING as FAIL (call under the study lock).

    Only the lock holder runs trials, so a RUNNING trial seen here belongs to a process that
    died (SIGKILL, out of memory, a lost machine). Marked FAIL without an ``error`` it still does
    not count towards the budget and TPE ignores it as before; it just stops looking alive.
    """
    from optuna.trial import TrialState

    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        logger.info(
            "study %s: trial %d was cut short by a killed process; it runs again",
            study.study_name,
            trial.number,
        )
        study.tell(trial.number, state=TrialState.FAIL)


def run_study(
    objective: Callable[[dict[str, Any]], tuple[float, dict[str, Any]]],
    space: Space,
    space_info: dict[str, Any],
    *,
    task: str,
    method: str,
    metric: str,
    higher_is_better: bool,
    n_trials: int,
    out_dir: str | Path,
    identity: dict[str, Any],
    sampler_seed: int = 0,
    trial_seed: int = 0,
    former_identities: Sequence[dict[str, Any]] = (),
    defaults: dict[str, Any] | None = None,
) -> SearchResult:
    """Run (or resume) a study until it holds ``n_trials`` finished trials.

    Args:
        objective: ``params -> (validation value, attributes to keep)``; may raise.
        space: Sampler of the settings (e.g. :func:`finetune_space`).
        space_info: Passed to ``space`` (epoch bound, whether pooling is searched).
        task, method, metric: Names recorded in the result.
        higher_is_better: Direction of ``metric``.
        n_trials: Total finished trials wanted in the study (not trials of this call).
        out_dir: Folder of ``study.db``.
        identity: Everything that determines a trial besides its sampled settings, files
            named by content (:func:`~molssl.finetune.config.portable_settings`), so a
            ``study.db`` copied to another machine resumes there.
        sampler_seed: Trial ``k`` samples with ``TPESampler(seed=sampler_seed + k)``.
        trial_seed: Recorded; the seed the objective trains with.
        former_identities: What older versions named this study by (paths as given): a study
            found under such a name, and none under the new one, is renamed (copied, then the
            old one deleted) instead of searched again.
        defaults: The settings a run without search uses; they run first (trial 0 of a new
            study) and ``extra["defaults"]`` of the result reports their validation value.
            ``space`` must accept them (widen its ranges to hold them).

    Returns:
        :class:`SearchResult`.

    Raises:
        ValueError: If ``n_trials < 1``.
        SearchError: If every trial failed.
        KeyboardInterrupt: Passed on; the study keeps its finished trials.
    """
    optuna = _import_optuna()
    from optuna.samplers import TPESampler

    from molssl.contrastive.io.ledger import locked

    if n_trials < 1:
        raise ValueError(f"--search needs at least 1 trial, got {n_trials}")
    start = time.perf_counter()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    storage = f"sqlite:///{(out / STUDY_FILE).resolve()}"
    name = study_name(task, method, {**identity, "trial_seed": trial_seed, "metric": metric})
    direction = "maximize" if higher_is_better else "minimize"
    lock = out / f".{STUDY_FILE}.{hashlib.sha1(name.encode()).hexdigest()[:12]}.lock"

    def waiting() -> None:
        logger.info("another process is running study %s; waiting for it to finish", name)

    load_search_record(out)  # a damaged record is refused before the trials, not after them
    with locked(lock, on_wait=waiting):
        former = [
            study_name(task, method, {**f, "trial_seed": trial_seed, "metric": metric})
            for f in former_identities
        ]
        from sqlalchemy.exc import SQLAlchemyError

        try:
            _rename_former(optuna, storage, name, former)
            study = optuna.create_study(
                storage=storage, study_name=name, direction=direction, load_if_exists=True
            )
        except SQLAlchemyError as err:
            raise SearchError(
                f"{out / STUDY_FILE} is not a readable Optuna study "
                f"({type(err).__name__}: {str(err).splitlines()[0][:120]}); move it away or "
                "delete it (its trials are lost), or give another --out"
            ) from err

        def wrapped(trial: Any) -> float:
            params = space(trial, space_info)
            try:
                value, attrs = objective(params)
            except Exception as err:
                trial.set_user_attr("error", f"{type(err).__name__}: {err}"[:500])
                raise
            for key, item in attrs.items():
                trial.set_user_attr(key, item)
            if math.isnan(value):
                trial.set_user_attr("error", f"validation {metric} is NaN")
            return value

        _fail_abandoned(study)
        done = sum(_counted(t) for t in study.get_trials(deepcopy=False))
        if defaults is not None and done < n_trials:
            _enqueue_defaults(study, defaults)
        if done:
            logger.info("resuming study %s: %d of %d trials done", name, done, n_trials)
        while done < n_trials:
            study.sampler = TPESampler(seed=sampler_seed + done)
            study.optimize(wrapped, n_trials=1, catch=(Exception,))
            done = sum(_counted(t) for t in study.get_trials(deepcopy=False))
        trials = [t for t in study.get_trials(deepcopy=False) if _counted(t)]
        complete = [t for t in trials if t.state.name == "COMPLETE"]
        if not complete:
            first = trials[0].user_attrs.get("error", "unknown error") if trials else "no trials"
            raise SearchError(
                f"{task} / {method}: all {len(trials)} search trials failed ({first})"
            )
        best = study.best_trial
        result = SearchResult(
            task=task,
            method=method,
            metric=metric,
            direction=direction,
            best_params=dict(best.params),
            best_value=float(best.value),
            best_trial=best.number,
            n_trials=len(trials),
            search_seconds=sum(t.duration.total_seconds() for t in trials if t.duration),
            seconds=time.perf_counter() - start,
            study_name=name,
            storage=STUDY_FILE,
            sampler_seed=sampler_seed,
            trial_seed=trial_seed,
            extra={"best_attrs": dict(best.user_attrs)},
        )
        found = _defaults_entry(trials)
        if found is not None:
            result.extra["defaults"] = found
        logger.info(
            "search %s / %s: best validation %s %.4f at trial %d of %d (%.0f s)",
            task,
            method,
            metric,
            result.best_value,
            best.number,
            len(trials),
            result.search_seconds,
        )
        return result


def best_settings(result: SearchResult) -> dict[str, Any]:
    """The settings to retrain with: the best trial's sampled ones plus the fixed ones."""
    return {**result.best_params, **result.extra.get("fixed", {})}


RECORD_FILE = "search.json"
"""The search record of an output folder: best settings per task and method."""

RECORD_VERSION = 1


def load_search_record(out_dir: str | Path) -> dict[str, Any]:
    """``search.json`` of ``out_dir`` (an empty record when absent).

    The record is ``{"format_version": 1, "tasks": {TASK: {METHOD: entry}}}`` where an entry
    holds the :class:`SearchResult` fields (``best_params``, ``best_value``, ``metric``,
    ``direction``, ``n_trials``, ``search_seconds``, ``study_name``, seeds, ``extra``),
    ``defaults`` (the default settings' trial ``{trial, params, value}``, or ``None``) and,
    once the best settings were retrained, ``retrained``: one ``{seed, value, valid_value}`` per
    run seed (``value`` is the test metric) and ``worse_than_defaults`` (see
    :func:`worse_than_defaults`). The benchmark's protocol record reads it.
    """
    path = Path(out_dir) / RECORD_FILE
    if not path.is_file():
        return {"format_version": RECORD_VERSION, "tasks": {}}
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as err:  # JSONDecodeError, UnicodeDecodeError
        record = err
    if not isinstance(record, dict) or not isinstance(record.get("tasks", {}), dict):
        raise SearchError(
            f"{path} is damaged (not a search record); delete it (study.db keeps the trials, "
            "and the record is written again from it) and rerun"
        )
    return record


def record_search(
    out_dir: str | Path, result: SearchResult, retrained: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """Merge ``result`` (and its retrained runs) into ``out_dir/search.json``, atomically.

    Args:
        out_dir: The output folder (the one holding ``study.db``).
        result: A finished search.
        retrained: ``{seed, value, valid_value}`` per run seed of the best settings.

    Returns:
        The whole record after the merge.
    """
    from molssl.contrastive.io.atomic import write_text_atomic
    from molssl.contrastive.io.ledger import locked

    path = Path(out_dir) / RECORD_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    with locked(path.with_name(path.name + ".lock")):
        record = load_search_record(out_dir)
        entry = {k: v for k, v in result.to_dict().items() if k not in ("task", "method")}
        entry["defaults"] = result.extra.get("defaults")
        if retrained is not None:
            entry["retrained"] = retrained
            entry["worse_than_defaults"] = worse_than_defaults(result, retrained)
        record.setdefault("tasks", {}).setdefault(result.task, {})[result.method] = entry
        write_text_atomic(path, json.dumps(record, indent=2, default=str))  # the user's mode
    return record


def worse_than_defaults(result: SearchResult, retrained: list[dict[str, Any]]) -> bool | None:
    """Whether the retrained runs' mean validation value is worse than the defaults trial's.

    The best trial is never worse than the defaults (they are trial 0 of the study), and its
    settings retrained at the trial seed reproduce it; runs at other seeds can still fall
    below it, which this reports.

    Returns:
        ``None`` when the study has no finished defaults trial or nothing was retrained.
    """
    found = result.extra.get("defaults")
    values = [r["valid_value"] for r in retrained if not math.isnan(r["valid_value"])]
    if not found or found.get("value") is None or not values:
        return None
    mean = sum(values) / len(values)
    tol = 1e-6 * max(1.0, abs(found["value"]))  # a rerun of the same trial is not "worse"
    if result.direction == "maximize":
        return mean < found["value"] - tol
    return mean > found["value"] + tol
