"""MoleculeNet benchmark: tasks, encoder inits, fine-tuning model, baselines, runner, reports.

Submodules are imported on first access so that ``molssl.finetune`` (which uses the task and
model modules) and the runner (which uses ``molssl.finetune``) import cleanly either way round.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "BenchmarkConfig": "molssl.benchmark.runner",
    "BenchmarkResult": "molssl.benchmark.runner",
    "benchmark": "molssl.benchmark.runner",
    "METHODS": "molssl.benchmark.runner",
    "ecfp_rf": "molssl.benchmark.baselines",
    "paired_tests": "molssl.benchmark.stats",
    "summarize": "molssl.benchmark.stats",
    "write_report": "molssl.benchmark.report",
    "PROFILES": "molssl.benchmark.profiles",
    "TaskSource": "molssl.benchmark.tasks",
    "prepare_task": "molssl.benchmark.tasks",
    "task_split": "molssl.benchmark.tasks",
    "INITS": "molssl.benchmark.inits",
    "load_init": "molssl.benchmark.inits",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
