"""molssl: self-supervised contrastive learning on molecular graphs (MolCLR / iMolCLR)."""

import importlib
import warnings

__version__ = "0.1.0.dev0"

# torch_geometric calls the deprecated torch.jit.script at import time; the warning is noise for
# molssl users and is printed once per worker process.
warnings.filterwarnings("ignore", message=".*torch.jit.script.*", category=FutureWarning)

__all__ = ["__version__", "load_molclr_checkpoint"]


def __getattr__(name: str):
    # Lazy so that `import molssl` stays light (no torch_geometric/rdkit import until needed).
    if name == "load_molclr_checkpoint":
        return importlib.import_module("molssl.models.molclr").load_molclr_checkpoint
    raise AttributeError(f"module 'molssl' has no attribute {name!r}")
