"""Run logging for the training loop: metrics CSV, optional TensorBoard, run info files."""

from __future__ import annotations

import csv
import json
import logging
import os
import socket
import subprocess
import sys
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import yaml

from molssl.contrastive.io.atomic import atomic_open, write_text_atomic
from molssl.contrastive.io.checkpoint import library_versions, to_plain

__all__ = ["MetricsCSV", "TensorBoardLogger", "git_sha", "write_run_info"]

logger = logging.getLogger(__name__)


class MetricsCSV:
    """Append-only ``metrics.csv`` whose columns grow when new metric names appear.

    Rows are dicts such as ``{"step": 10, "epoch": 0, "split": "train", "loss": 0.3}``; missing
    columns are left empty. When a row brings a new column the (small) file is rewritten with the
    widened header.

    Args:
        path: The CSV file.
        resume_step: When not None, keep the existing rows with ``step <= resume_step`` (the
            rest will be produced again by the resumed run); when None, start a new file.
    """

    def __init__(self, path: str | os.PathLike[str], resume_step: int | None = None) -> None:
        self.path = Path(path)
        self.fieldnames: list[str] = []
        rows: list[dict[str, str]] = []
        if resume_step is not None and self.path.is_file():
            with self.path.open(newline="") as handle:
                reader = csv.DictReader(handle)
                self.fieldnames = list(reader.fieldnames or [])
                rows = [r for r in reader if r.get("step") and int(r["step"]) <= resume_step]
        self._rewrite(rows)

    def log(self, row: Mapping[str, Any]) -> None:
        """Append one row; values are written with ``str`` (floats with 6 significant digits)."""
        row = {k: f"{v:.6g}" if isinstance(v, float) else v for k, v in row.items()}
        new = [k for k in row if k not in self.fieldnames]
        if new:
            with self.path.open(newline="") as handle:
                rows = list(csv.DictReader(handle))
            self.fieldnames += new
            self._rewrite(rows)
        with self.path.open("a", newline="") as handle:
            csv.DictWriter(handle, fieldnames=self.fieldnames).writerow(row)

    def _rewrite(self, rows: list[dict[str, str]]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_open(self.path, "w", newline="") as handle:  # a crash keeps the old rows
            writer = csv.DictWriter(handle, fieldnames=self.fieldnames)
            writer.writeheader()
            writer.writerows(rows)


class TensorBoardLogger:
    """Thin wrapper over ``torch.utils.tensorboard.SummaryWriter``, a no-op when unavailable.

    Args:
        log_dir: Folder for the event files.
        enabled: When False nothing is imported or written.
    """

    def __init__(self, log_dir: str | os.PathLike[str], enabled: bool = True) -> None:
        self._writer = None
        if not enabled:
            return
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError as exc:
            logger.warning("TensorBoard logging disabled: %s (pip install tensorboard)", exc)
            return
        self._writer = SummaryWriter(log_dir=str(log_dir))

    def log(self, scalars: Mapping[str, float], step: int, prefix: str = "") -> None:
        """Write each numeric value of ``scalars`` as ``prefix/name`` at ``step``."""
        if self._writer is None:
            return
        for name, value in scalars.items():
            if isinstance(value, int | float):
                self._writer.add_scalar(f"{prefix}/{name}" if prefix else name, value, step)

    def close(self) -> None:
        """Flush and close the event file."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None


def git_sha(path: str | os.PathLike[str] | None = None) -> str | None:
    """Return the git commit of the checkout holding ``path`` (default: this package), or None.

    Best effort: None when git is missing, the code is not in a repository, or it has no commit.
    """
    cwd = Path(path) if path is not None else Path(__file__).resolve().parent
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def write_run_info(
    out_dir: str | os.PathLike[str],
    config: Any,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Write ``config.yaml`` (the resolved config) and ``run_info.json`` (versions, git SHA...).

    Args:
        out_dir: Run folder (created if needed).
        config: The resolved config, a dataclass or mapping of plain values.
        extra: More entries for ``run_info.json`` (e.g. world size, device).

    Returns:
        The dict written to ``run_info.json``.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    plain = to_plain(config)
    write_text_atomic(out_dir / "config.yaml", yaml.safe_dump(plain, sort_keys=False))
    info = {
        "versions": library_versions(),
        "git_sha": git_sha(),
        "host": socket.gethostname(),
        "argv": list(sys.argv),
        "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        **to_plain(dict(extra or {})),
    }
    write_text_atomic(out_dir / "run_info.json", json.dumps(info, indent=2, default=str))
    return info
