"""Files a run writes and shares: checkpoints, atomic writes, run locks, cell claims, the locked
results ledger and file digests.

Submodules are imported directly (``molssl.contrastive.io.checkpoint``); this package imports
nothing itself so that a light submodule does not pull in torch.
"""
