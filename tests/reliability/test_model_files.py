"""Fine-tuned ``model.pt`` files with a format version no molssl writes are refused in one line."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.mark.parametrize("version", [0, -1, True, "1", None])
def test_model_format_version_below_one_is_refused(version, tmp_path: Path) -> None:
    from molssl.contrastive.io.checkpoint import save_checkpoint
    from molssl.finetune.saved import MODEL_KEY, ModelFileError, load_model

    path = save_checkpoint(
        tmp_path / "model.pt", {}, config={}, metadata={MODEL_KEY: {"format_version": version}}
    )
    with pytest.raises(ModelFileError, match="no molssl writes"):
        load_model(path)
