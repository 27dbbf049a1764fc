"""Shared fixtures: where the read-only data beside the checkout lives."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


def _shared_data_dir() -> Path | None:
    env = os.environ.get("MOLSSL_SHARED_DATA")
    candidates = [Path(env)] if env else []
    candidates.append(REPO_ROOT.parent / "shared" / "data")
    for path in candidates:
        if path.is_dir():
            return path
    return None


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data`` (or ``$MOLSSL_SHARED_DATA``); the test is skipped when it is absent."""
    path = _shared_data_dir()
    if path is None:
        pytest.skip("../shared/data is absent (set MOLSSL_SHARED_DATA to run this test)")
    return path


@pytest.fixture(scope="session")
def moleculenet_dir(shared_data: Path) -> Path:
    path = shared_data / "moleculenet"
    if not path.is_dir():
        pytest.skip(f"{path} is absent")
    return path
