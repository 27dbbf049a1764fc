"""Tests for locating and downloading dataset files; no test touches the network."""

from __future__ import annotations

import gzip
import hashlib
import shutil
from pathlib import Path

import pytest

from molssl.data import (
    ChecksumError,
    DatasetNotFoundError,
    DatasetSpec,
    find_local_file,
    locate_dataset_file,
)


@pytest.fixture
def dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """Empty explicit/env/cache directories with the env vars pointing at them."""
    out = {name: tmp_path / name for name in ("explicit", "env", "cache", "remote")}
    for path in out.values():
        path.mkdir()
    monkeypatch.setenv("MOLSSL_DATA_DIR", str(out["env"]))
    monkeypatch.setenv("MOLSSL_CACHE_DIR", str(out["cache"]))
    monkeypatch.delenv("MOLSSL_OFFLINE", raising=False)
    return out


def _spec(
    url: str, sha256: str | None = None, files: tuple[str, ...] = ("toy.csv",)
) -> DatasetSpec:
    return DatasetSpec(
        "Toy", files, url, "smiles", ("y",), "regression", "rmse", "scaffold", sha256=sha256
    )


def _write(path: Path, text: str = "smiles,y\nCCO,1.0\n") -> Path:
    path.write_text(text)
    return path


def test_search_order_data_dir_then_env_then_cache(dirs: dict[str, Path]) -> None:
    spec = _spec("file:///nonexistent/toy.csv")
    cached = _write(dirs["cache"] / "toy.csv")
    assert locate_dataset_file(spec, dirs["explicit"]) == cached
    assert find_local_file(spec, dirs["explicit"]) == (cached, "cache")
    in_env = _write(dirs["env"] / "toy.csv")
    assert find_local_file(spec, dirs["explicit"]) == (in_env, "env")
    explicit = _write(dirs["explicit"] / "toy.csv")
    assert find_local_file(spec, dirs["explicit"]) == (explicit, "data-dir")
    assert locate_dataset_file(spec, dirs["explicit"]) == explicit


def test_gz_and_plain_variants_are_both_accepted(dirs: dict[str, Path]) -> None:
    plain_spec = _spec("file:///nonexistent/toy.csv")
    with gzip.open(dirs["env"] / "toy.csv.gz", "wt") as handle:
        handle.write("smiles,y\nCCO,1.0\n")
    assert locate_dataset_file(plain_spec) == dirs["env"] / "toy.csv.gz"
    gz_spec = _spec("file:///nonexistent/toy.csv.gz", files=("toy.csv.gz",))
    _write(dirs["explicit"] / "toy.csv")
    assert locate_dataset_file(gz_spec, dirs["explicit"]) == dirs["explicit"] / "toy.csv"


def test_download_into_cache_with_checksum(dirs: dict[str, Path]) -> None:
    remote = _write(dirs["remote"] / "toy.csv")
    digest = hashlib.sha256(remote.read_bytes()).hexdigest()
    path = locate_dataset_file(_spec(remote.as_uri(), sha256=digest))
    assert path == dirs["cache"] / "toy.csv"
    assert path.read_bytes() == remote.read_bytes()
    assert [p.name for p in dirs["cache"].iterdir()] == ["toy.csv"]


def test_injected_downloader_and_bad_checksum_leaves_nothing(dirs: dict[str, Path]) -> None:
    calls: list[str] = []

    def fake_download(url: str, destination: Path, timeout_s: float) -> None:
        calls.append(url)
        destination.write_text("smiles,y\nC,2\n")

    with pytest.raises(ChecksumError, match="expected 00"):
        locate_dataset_file(
            _spec("https://example.invalid/toy.csv", "00" * 32), downloader=fake_download
        )
    assert calls == ["https://example.invalid/toy.csv"]
    assert list(dirs["cache"].iterdir()) == []
    path = locate_dataset_file(_spec("https://example.invalid/toy.csv"), downloader=fake_download)
    assert path.read_text() == "smiles,y\nC,2\n"


def test_offline_error_names_file_url_and_directories(dirs: dict[str, Path]) -> None:
    url = (dirs["remote"] / "missing" / "toy.csv").as_uri()
    with pytest.raises(DatasetNotFoundError) as info:
        locate_dataset_file(_spec(url), dirs["explicit"])
    message = str(info.value)
    for needle in (
        "toy.csv",
        "toy.csv.gz",
        url,
        str(dirs["explicit"]),
        str(dirs["env"]),
        str(dirs["cache"]),
        "MOLSSL_DATA_DIR",
        "failed",
    ):
        assert needle in message
    assert list(dirs["cache"].iterdir()) == []


def test_download_disabled(dirs: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    def forbidden(url: str, destination: Path, timeout_s: float) -> None:
        raise AssertionError("must not download")

    with pytest.raises(DatasetNotFoundError, match="disabled"):
        locate_dataset_file(
            _spec("https://example.invalid/toy.csv"), download=False, downloader=forbidden
        )
    monkeypatch.setenv("MOLSSL_OFFLINE", "1")
    with pytest.raises(DatasetNotFoundError, match="MOLSSL_OFFLINE"):
        locate_dataset_file(_spec("https://example.invalid/toy.csv"), downloader=forbidden)


def test_registered_name_found_via_env(dirs: dict[str, Path], moleculenet_dir: Path) -> None:
    shutil.copy(moleculenet_dir / "BBBP.csv", dirs["env"] / "BBBP.csv")
    assert locate_dataset_file("bbbp", download=False) == dirs["env"] / "BBBP.csv"
