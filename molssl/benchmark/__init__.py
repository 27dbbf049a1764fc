"""MoleculeNet benchmark: runner, ECFP + random-forest baseline, results ledger, stats, report.

Fine-tuning itself lives in :mod:`molssl.finetune`; this package imports it, never the other
way round. Tasks and profiles are re-exported here for code written against older releases.
"""

from molssl.benchmark.baselines import ecfp_rf
from molssl.benchmark.report import write_report
from molssl.benchmark.runner import METHODS, BenchmarkConfig, BenchmarkResult, benchmark
from molssl.benchmark.stats import paired_tests, summarize
from molssl.finetune.profiles import PROFILES
from molssl.finetune.tasks import TaskSource, prepare_task, task_split

__all__ = [
    "METHODS",
    "PROFILES",
    "BenchmarkConfig",
    "BenchmarkResult",
    "TaskSource",
    "benchmark",
    "ecfp_rf",
    "paired_tests",
    "prepare_task",
    "summarize",
    "task_split",
    "write_report",
]
