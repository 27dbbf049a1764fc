"""molssl.contrastive is chemistry-free: importing it must not pull in rdkit or the featurizer."""

from __future__ import annotations

import subprocess
import sys


def test_contrastive_imports_no_chemistry() -> None:
    code = (
        "import sys, molssl.contrastive; "
        "from molssl.contrastive import *; "
        "bad = [m for m in sys.modules if m.split('.')[0] == 'rdkit' "
        "or m.startswith('molssl.featurize')]; "
        "assert not bad, bad"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
