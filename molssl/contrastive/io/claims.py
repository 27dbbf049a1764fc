"""Cell claims: several processes sharing one results folder run each cell once.

Before a process runs a cell it calls :meth:`CellClaims.claim` while holding the ledger's lock
(after re-reading the ledger, so a cell another process has finished is seen). The claim is a
small JSON file ``claims/<key>.json`` recording the process id, its start time and host; the
next process sees the claim and moves on to another cell. :meth:`CellClaims.release` removes it
when the cell's row is written (or the cell fails, or the process is interrupted).

A claim never blocks forever: one made on this host by a process that no longer exists (or by a
reused process id: the start time differs) is free, and one from another host (a shared
filesystem) is free once it is older than ``ttl_s``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

DEFAULT_TTL_S = 24 * 3600.0
"""Age after which a claim from another host is treated as abandoned."""


def _start_time(pid: int) -> str | None:
    """Start time of a process in clock ticks since boot (Linux ``/proc``), else ``None``."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


def _alive(pid: int, start: str | None) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        pass
    now = _start_time(pid)
    return start is None or now is None or now == start


@dataclass(frozen=True)
class Claim:
    """Who holds a cell."""

    pid: int
    host: str
    started: float
    start_time: str | None = None

    def describe(self) -> str:
        """``pid N on HOST since HH:MM:SS``."""
        since = time.strftime("%H:%M:%S", time.localtime(self.started))
        return f"pid {self.pid} on {self.host} since {since}"


class CellClaims:
    """Claim files of one results folder.

    Args:
        folder: The results folder (claims go to ``folder/claims/``).
        ttl_s: Age after which another host's claim is free. Default 24 h.
    """

    def __init__(self, folder: str | Path, ttl_s: float = DEFAULT_TTL_S) -> None:
        self.dir = Path(folder) / "claims"
        self.ttl_s = ttl_s
        self.me = Claim(os.getpid(), socket.gethostname(), time.time(), _start_time(os.getpid()))

    def _path(self, key: str) -> Path:
        return self.dir / f"{hashlib.sha1(key.encode()).hexdigest()[:16]}.json"

    def holder(self, key: str) -> Claim | None:
        """The live claim on ``key`` held by another process, or ``None`` when it is free."""
        path = self._path(key)
        try:
            data = json.loads(path.read_text())
            claim = Claim(
                int(data["pid"]), str(data["host"]), float(data["started"]), data.get("start_time")
            )
        except (OSError, ValueError, KeyError, TypeError):
            return None
        if (claim.pid, claim.host) == (self.me.pid, self.me.host):
            return None
        if claim.host == self.me.host:
            live = _alive(claim.pid, claim.start_time)
        else:
            live = time.time() - claim.started < self.ttl_s
        if not live:
            logger.info("claim on %s by %s is stale; taking it over", key, claim.describe())
        return claim if live else None

    def claim(self, key: str) -> Claim | None:
        """Claim ``key`` unless another live process holds it (call under the ledger lock).

        Returns:
            ``None`` when this process now holds the claim, else the other holder.
        """
        other = self.holder(key)
        if other is not None:
            return other
        self.dir.mkdir(parents=True, exist_ok=True)
        path = self._path(key)
        tmp = path.with_suffix(f".{self.me.pid}.tmp")
        tmp.write_text(
            json.dumps(
                {
                    "key": key,
                    "pid": self.me.pid,
                    "host": self.me.host,
                    "started": time.time(),
                    "start_time": self.me.start_time,
                }
            )
        )
        os.replace(tmp, path)
        return None

    def release(self, key: str) -> None:
        """Remove this process's claim on ``key`` (another process's claim is left alone)."""
        path = self._path(key)
        with contextlib.suppress(OSError, ValueError, KeyError):
            data = json.loads(path.read_text())
            if (int(data["pid"]), data["host"]) == (self.me.pid, self.me.host):
                path.unlink()
