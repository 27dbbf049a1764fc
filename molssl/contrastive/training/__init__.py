"""The generic training loop: trainer, its config, data sampling, DDP helpers, signals, loop
state, learning-rate schedules, seeding, devices, the allocator switch, logs and probes.

Submodules are imported directly (``molssl.contrastive.training.trainer``); this package
imports nothing itself so that a light submodule does not pull in torch.
"""
