"""``molssl embed`` never writes its output over its input."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest
from _pretrain_helpers import small_smiles

from molssl.cli import main
from molssl.contrastive.config import ConfigError
from molssl.embed import embed_file


@pytest.mark.parametrize("alias", ["same", "dotted", "hardlink"])
def test_output_that_is_the_input_is_refused(tiny_checkpoint: Path, tmp_path: Path, alias: str):
    src = tmp_path / "mols.csv"
    pd.DataFrame({"name": ["a", "b", "c"], "smiles": small_smiles()[:3]}).to_csv(src, index=False)
    before = src.read_bytes()
    output = {
        "same": src,
        "dotted": tmp_path / "." / "sub" / ".." / "mols.csv",
        "hardlink": tmp_path / "link.csv",
    }[alias]
    (tmp_path / "sub").mkdir()
    if alias == "hardlink":
        os.link(src, output)
    with pytest.raises(ConfigError, match="is the input"):
        embed_file(tiny_checkpoint, src, output)
    assert src.read_bytes() == before


def test_cli_refuses_in_one_line(tiny_checkpoint: Path, tmp_path: Path, capsys) -> None:
    src = tmp_path / "mols.csv"
    pd.DataFrame({"name": ["a", "b"], "smiles": small_smiles()[:2]}).to_csv(src, index=False)
    before = src.read_bytes()
    argv = ["embed", "--checkpoint", str(tiny_checkpoint), "--input", str(src), "-o", str(src)]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "is the input" in err
    assert src.read_bytes() == before
