"""Aggregates of the results ledger: mean +- std per task and method, per-method averages and
paired t-tests over seeds (as iMolCLR reports its comparison with MolCLR).
"""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd

from molssl.benchmark.ledger import latest_ok
from molssl.metrics import get_metric

METRIC_LABELS: dict[str, str] = {
    "roc_auc": "ROC-AUC",
    "prc_auc": "PRC-AUC",
    "rmse": "RMSE",
    "mae": "MAE",
}
"""Display names of the metrics."""


def summarize(ledger: pd.DataFrame) -> pd.DataFrame:
    """Mean, sample std and count of the test metric per task and method.

    Args:
        ledger: ``results.csv`` as read by :func:`~molssl.benchmark.ledger.read_ledger`.

    Returns:
        Columns ``task, method, metric, mean, std, n`` (``std`` NaN for one seed), tasks and
        methods in order of first appearance.
    """
    ok = latest_ok(ledger)
    columns = ["task", "method", "metric", "mean", "std", "n"]
    if ok.empty:
        return pd.DataFrame(columns=columns)
    grouped = ok.groupby(["task", "method", "metric"], sort=False)["value"]
    table = grouped.agg(mean="mean", std="std", n="count").reset_index()
    return table[columns]


def extra_summary(ledger: pd.DataFrame) -> pd.DataFrame:
    """Like :func:`summarize` for the further metrics of the ``extra_metrics`` column (PRC-AUC
    of HIV and MUV), one row per task, method and extra metric."""
    import json

    ok = latest_ok(ledger)
    columns = ["task", "method", "metric", "mean", "std", "n"]
    rows = []
    for r in ok.itertuples(index=False):
        text = getattr(r, "extra_metrics", None)
        if not isinstance(text, str) or not text.strip():
            continue
        for metric, value in json.loads(text).items():
            rows.append({"task": r.task, "method": r.method, "metric": metric, "value": value})
    if not rows:
        return pd.DataFrame(columns=columns)
    frame = pd.DataFrame(rows)
    frame["value"] = pd.to_numeric(frame["value"], errors="coerce")
    grouped = frame.groupby(["task", "method", "metric"], sort=False)["value"]
    return grouped.agg(mean="mean", std="std", n="count").reset_index()[columns]


def method_averages(summary: pd.DataFrame) -> pd.DataFrame:
    """Per method and metric: the mean of the task means and how many tasks it covers, and the
    same over the shared tasks only (those every method of that metric has results on).

    While a ledger is incomplete, methods cover different tasks, and only the shared average
    compares them on equal terms.

    Returns:
        Columns ``method, metric, mean, tasks, shared_mean, shared_tasks``; classification
        tasks average ROC-AUC, regression tasks their RMSE or MAE (never mixed).
    """
    columns = ["method", "metric", "mean", "tasks", "shared_mean", "shared_tasks"]
    if summary.empty:
        return pd.DataFrame(columns=columns)
    known = summary.dropna(subset=["mean"])
    grouped = known.groupby(["method", "metric"], sort=False)["mean"]
    table = grouped.agg(mean="mean", tasks="count").reset_index()
    shared_mean, shared_tasks = [], []
    for row in table.itertuples(index=False):
        part = known[known["metric"] == row.metric]
        methods = part["method"].nunique()
        per_task = part.groupby("task")["method"].nunique()
        shared = set(per_task[per_task == methods].index)
        mine = part[(part["method"] == row.method) & part["task"].isin(shared)]["mean"]
        shared_mean.append(float(mine.mean()) if len(mine) else math.nan)
        shared_tasks.append(len(mine))
    table["shared_mean"], table["shared_tasks"] = shared_mean, shared_tasks
    return table[columns]


def wall_times(ledger: pd.DataFrame) -> pd.DataFrame:
    """Recorded wall time of the finished cells (the newest row of each), per task and method.

    Returns:
        Columns ``task, method, cells, seconds`` (summed), tasks and methods in order of first
        appearance.
    """
    ok = latest_ok(ledger)
    columns = ["task", "method", "cells", "seconds"]
    if ok.empty:
        return pd.DataFrame(columns=columns)
    ok["seconds"] = pd.to_numeric(ok["seconds"], errors="coerce")
    grouped = ok.groupby(["task", "method"], sort=False)["seconds"]
    return grouped.agg(cells="count", seconds="sum").reset_index()[columns]


def paired_tests(ledger: pd.DataFrame, methods: Sequence[str] | None = None) -> pd.DataFrame:
    """Paired t-test over seeds for every pair of methods on every task.

    Seeds run by both methods are paired (``scipy.stats.ttest_rel``). The difference is
    ``mean_a - mean_b``; ``a_better`` reads it in the metric's direction.

    Args:
        ledger: ``results.csv`` rows.
        methods: Methods to compare (default: all, in order of appearance).

    Returns:
        Columns ``task, metric, method_a, method_b, n, mean_a, mean_b, diff, t, p, a_better``;
        ``t``/``p`` are NaN with fewer than two paired seeds or identical differences.
    """
    from scipy.stats import ttest_rel

    ok = latest_ok(ledger)
    rows = []
    names = list(methods) if methods is not None else list(dict.fromkeys(ok["method"]))
    for task, group in ok.groupby("task", sort=False):
        metric = str(group["metric"].iloc[0])
        wide = group.pivot_table(index="seed", columns="method", values="value", aggfunc="last")
        for a, b in itertools.combinations([m for m in names if m in wide], 2):
            pair = wide[[a, b]].dropna()
            t_stat = p_value = math.nan
            if len(pair) >= 2 and not np.allclose(pair[a] - pair[b], (pair[a] - pair[b]).iloc[0]):
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)
                    t_stat, p_value = (float(v) for v in ttest_rel(pair[a], pair[b]))
            diff = float(pair[a].mean() - pair[b].mean()) if len(pair) else math.nan
            higher = get_metric(metric).higher_is_better
            rows.append(
                {
                    "task": task,
                    "metric": metric,
                    "method_a": a,
                    "method_b": b,
                    "n": len(pair),
                    "mean_a": float(pair[a].mean()) if len(pair) else math.nan,
                    "mean_b": float(pair[b].mean()) if len(pair) else math.nan,
                    "diff": diff,
                    "t": t_stat,
                    "p": p_value,
                    "a_better": bool(diff > 0) if higher else bool(diff < 0),
                }
            )
    columns = [
        "task",
        "metric",
        "method_a",
        "method_b",
        "n",
        "mean_a",
        "mean_b",
        "diff",
        "t",
        "p",
        "a_better",
    ]
    return pd.DataFrame(rows, columns=columns)
