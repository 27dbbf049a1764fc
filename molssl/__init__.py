"""molssl: self-supervised contrastive learning on molecular graphs (MolCLR / iMolCLR)."""

__version__ = "0.1.0.dev0"
