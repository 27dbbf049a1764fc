"""Cell claims: a live claim blocks other processes, a dead or stale one does not."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

from molssl.contrastive.io.claims import CellClaims


def test_claim_release_and_own_claim(tmp_path) -> None:
    claims = CellClaims(tmp_path)
    assert claims.claim("cell-1") is None and claims.claim("cell-1") is None  # own claim
    assert len(list((tmp_path / "claims").glob("*.json"))) == 1
    claims.release("cell-1")
    assert not list((tmp_path / "claims").glob("*.json"))


def _forge(tmp_path, key: str, pid: int, host: str, started: float, start_time=None) -> None:
    claims = CellClaims(tmp_path)
    claims.dir.mkdir(parents=True, exist_ok=True)
    claims._path(key).write_text(
        json.dumps(
            {"key": key, "pid": pid, "host": host, "started": started, "start_time": start_time}
        )
    )


def test_live_process_blocks_dead_process_does_not(tmp_path) -> None:
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        host = CellClaims(tmp_path).me.host
        _forge(tmp_path, "busy", sleeper.pid, host, time.time())
        holder = CellClaims(tmp_path).claim("busy")
        assert holder is not None and holder.pid == sleeper.pid
        assert f"pid {sleeper.pid}" in holder.describe()
        CellClaims(tmp_path).release("busy")  # another process's claim is left alone
        assert CellClaims(tmp_path).holder("busy") is not None
    finally:
        sleeper.kill()
        sleeper.wait()
    assert CellClaims(tmp_path).claim("busy") is None  # its process is gone: the claim is free


def test_reused_pid_and_other_hosts(tmp_path) -> None:
    me = CellClaims(tmp_path).me
    parent = os.getppid()  # alive, but its start time is not the one recorded
    _forge(tmp_path, "reused", parent, me.host, time.time(), start_time="1")
    assert CellClaims(tmp_path).claim("reused") is None
    _forge(tmp_path, "remote", 123, "elsewhere", time.time())
    assert CellClaims(tmp_path).claim("remote") is not None  # cannot check: trust it
    _forge(tmp_path, "old", 123, "elsewhere", time.time() - 10)
    assert CellClaims(tmp_path, ttl_s=5).claim("old") is None  # older than the ttl
    (CellClaims(tmp_path).dir / "garbage.json").write_text("{")
    assert CellClaims(tmp_path).holder("garbage") is None
