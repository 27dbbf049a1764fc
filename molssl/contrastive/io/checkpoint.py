"""Self-describing, atomically written checkpoints loadable with ``weights_only=True``.

A checkpoint is a plain dict::

    {
        "format_version": 1,
        "config": {...},             # the resolved run config, plain types only
        "versions": {...},           # torch / python / numpy / molssl versions
        "state_dict": {...},         # model weights (unwrapped from DDP / torch.compile)
        "optimizer": {...} | None,
        "scheduler": {...} | None,
        "step": int, "epoch": int,
        "best_metric": float | None,
        "rng": {...} | None,         # see capture_rng_state
        "trainer": {...} | None,     # loop bookkeeping (batch within epoch, scaler, ...)
        **metadata,                  # e.g. "featurizer": {...}
    }

Everything in it is a tensor, a number, a string, None or a list/dict of those, so
``torch.load(path, weights_only=True)`` (the only way this project loads files) can read it.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import platform
import random
import warnings
from collections.abc import Mapping
from dataclasses import asdict, is_dataclass
from enum import Enum
from pathlib import Path
from typing import Any

import numpy as np
import torch

from molssl.contrastive.io.atomic import atomic_open

__all__ = [
    "FORMAT_VERSION",
    "CheckpointError",
    "capture_rng_state",
    "library_versions",
    "load_checkpoint",
    "check_weight_shapes",
    "read_torch_file",
    "restore_rng_state",
    "save_checkpoint",
    "to_plain",
    "weights_digest",
]

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1
_RESERVED = frozenset(
    {
        "format_version",
        "config",
        "versions",
        "state_dict",
        "optimizer",
        "scheduler",
        "step",
        "epoch",
        "best_metric",
        "rng",
        "trainer",
        "weights_sha256",
    }
)


class CheckpointError(RuntimeError):
    """A checkpoint file is corrupt, not a molssl checkpoint, or from a newer format."""


def library_versions() -> dict[str, str]:
    """Return the versions of python, torch, numpy and molssl as strings."""
    from molssl import __version__

    return {
        "python": platform.python_version(),
        "torch": str(torch.__version__),
        "numpy": str(np.__version__),
        "molssl": str(__version__),
    }


def to_plain(obj: Any) -> Any:
    """Convert dataclasses, paths, enums, tuples, NumPy values into weights_only-safe types.

    Args:
        obj: A nested structure of dataclasses, mappings, sequences and scalars.

    Returns:
        The same structure built from dict, list, str, int, float, bool, None and tensors.

    Raises:
        TypeError: For an object with no plain representation (e.g. a function).
    """
    if is_dataclass(obj) and not isinstance(obj, type):
        return to_plain(asdict(obj))
    if isinstance(obj, Mapping):
        return {str(k): to_plain(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [to_plain(v) for v in obj]
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    if isinstance(obj, np.ndarray):
        return torch.from_numpy(obj.copy())
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, Enum):
        return to_plain(obj.value)
    if obj is None or isinstance(obj, torch.Tensor):
        return obj
    for kind in (bool, str, int, float):  # subclasses (e.g. TorchVersion) are not loadable
        if isinstance(obj, kind):
            return kind(obj)
    raise TypeError(f"cannot store a {type(obj).__name__} in a checkpoint: {obj!r}")


def capture_rng_state(generators: Mapping[str, torch.Generator] | None = None) -> dict[str, Any]:
    """Snapshot Python, NumPy, torch CPU/CUDA and named ``torch.Generator`` states as plain types.

    Args:
        generators: Extra generators to record, e.g. ``{"augment": g}``.

    Returns:
        A dict for :func:`restore_rng_state`, safe for ``weights_only=True`` loading.
    """
    version, internal, gauss = random.getstate()
    name, keys, pos, has_gauss, cached = np.random.get_state(legacy=True)  # noqa: NPY002 (the global RNG)
    return {
        "python": [int(version), [int(v) for v in internal], gauss],
        "numpy": {
            "name": str(name),
            "keys": torch.from_numpy(keys.astype(np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(cached),
        },
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else None,
        "generators": {k: g.get_state() for k, g in (generators or {}).items()},
    }


def restore_rng_state(
    state: Mapping[str, Any], generators: Mapping[str, torch.Generator] | None = None
) -> None:
    """Restore the states recorded by :func:`capture_rng_state`.

    Args:
        state: The dict returned by :func:`capture_rng_state` (possibly after a save/load).
        generators: Generators to restore in place, matched by name. A name missing from
            ``state`` is logged and left untouched.
    """
    version, internal, gauss = state["python"]
    random.setstate((int(version), tuple(int(v) for v in internal), gauss))
    npy = state["numpy"]
    np.random.set_state(  # noqa: NPY002 (the global RNG)
        (
            npy["name"],
            npy["keys"].numpy().astype(np.uint32),
            npy["pos"],
            npy["has_gauss"],
            npy["cached_gaussian"],
        )
    )
    torch.set_rng_state(state["torch"].cpu())
    cuda = state.get("cuda")
    if cuda is not None and torch.cuda.is_available():
        if len(cuda) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all([s.cpu() for s in cuda])
        else:
            logger.warning(
                "checkpoint holds %d CUDA RNG states but %d devices are visible; CUDA RNG not "
                "restored",
                len(cuda),
                torch.cuda.device_count(),
            )
    saved = state.get("generators", {})
    for name, generator in (generators or {}).items():
        if name in saved:
            generator.set_state(saved[name].cpu())
        else:
            logger.warning("no state for generator %r in checkpoint; left as is", name)


def save_checkpoint(
    path: str | os.PathLike[str],
    state_dict: Mapping[str, torch.Tensor],
    *,
    config: Any,
    optimizer: Mapping[str, Any] | None = None,
    scheduler: Mapping[str, Any] | None = None,
    step: int = 0,
    epoch: int = 0,
    best_metric: float | None = None,
    rng: Mapping[str, Any] | None = None,
    trainer: Mapping[str, Any] | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> Path:
    """Write a checkpoint atomically (temp file in the same folder, fsync, ``os.replace``).

    A crash while writing leaves any previous file at ``path`` intact and no temp file behind.

    Args:
        path: Destination file; parent folders are created.
        state_dict: Model weights (``model.state_dict()`` of the unwrapped module).
        config: Resolved run config: a dataclass or a mapping of plain values.
        optimizer: ``optimizer.state_dict()`` or None.
        scheduler: ``scheduler.state_dict()`` or None.
        step: Optimizer steps taken.
        epoch: Epoch index the run is in (completed epochs when at an epoch boundary).
        best_metric: Best validation metric so far, or None.
        rng: Output of :func:`capture_rng_state` (or a list of them, one per rank), or None.
        trainer: Extra loop bookkeeping of plain values, or None.
        metadata: Extra top-level entries, e.g. ``{"featurizer": featurizer.to_dict()}``.

    Returns:
        The path written.

    Raises:
        ValueError: If a metadata key collides with a reserved key.
        TypeError: If ``config`` or ``metadata`` holds a value with no plain representation.
    """
    path = Path(path)
    clash = _RESERVED.intersection(metadata or {})
    if clash:
        raise ValueError(f"metadata keys {sorted(clash)} are reserved; rename them")
    payload: dict[str, Any] = {
        "format_version": FORMAT_VERSION,
        "config": to_plain(config),
        "versions": library_versions(),
        "state_dict": dict(state_dict),
        "weights_sha256": weights_digest(state_dict),
        "optimizer": optimizer,
        "scheduler": scheduler,
        "step": int(step),
        "epoch": int(epoch),
        "best_metric": None if best_metric is None else float(best_metric),
        "rng": rng,
        "trainer": to_plain(trainer),
        **to_plain(dict(metadata or {})),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()  # torch.save reports a failed write (a full disk) as a RuntimeError
    torch.save(payload, buffer)
    with atomic_open(path, "wb") as handle:
        handle.write(buffer.getbuffer())
    logger.debug("saved checkpoint %s (step %d)", path, step)
    return path


def weights_digest(state_dict: Mapping[str, Any]) -> str:
    """SHA-256 over the names, dtypes, shapes and bytes of a state_dict's tensors.

    :func:`save_checkpoint` records it as ``weights_sha256``; :func:`load_checkpoint` recomputes
    it, so weights altered on disk (a flipped bit that still unpickles) are refused.
    """
    digest = hashlib.sha256()
    for key in sorted(state_dict):
        value = state_dict[key]
        digest.update(f"{key}\0".encode())
        if isinstance(value, torch.Tensor):
            flat = value.detach().cpu().contiguous().reshape(-1)
            digest.update(f"{value.dtype}{tuple(value.shape)}\0".encode())
            digest.update(flat.view(torch.uint8).numpy().tobytes() if flat.numel() else b"")
        else:
            digest.update(repr(value).encode())
    return digest.hexdigest()


def read_torch_file(
    path: str | os.PathLike[str],
    map_location: str | torch.device | None = "cpu",
    *,
    fix: str | None = None,
) -> Any:
    """``torch.load(path, weights_only=True)`` where any unreadable file is a :class:`CheckpointError`.

    Random bytes, truncated archives, pickles of arbitrary objects and files of other programs
    make ``torch.load`` raise a zoo of exceptions (``UnpicklingError``, ``UnicodeDecodeError``,
    ``IndexError``, ``BadZipFile``, ...); all of them mean "not a file we can read". Nothing in
    the file is executed (``weights_only=True``).

    Args:
        path: The file.
        map_location: Where tensors are loaded (default ``"cpu"``).
        fix: What the user should do instead, for the message (default: the other checkpoints
            in the file's folder, if any, else rerun what wrote it).

    Raises:
        FileNotFoundError: If ``path`` does not exist or is a folder.
        CheckpointError: If the file cannot be read as a weights-only torch file.
    """
    path = Path(path)
    if path.is_dir():
        found = ", ".join(str(p) for p in sorted(path.glob("*.pt"))) or "none"
        raise FileNotFoundError(
            f"checkpoint {path} is a folder, not a file; give a checkpoint file (.pt files "
            f"in it: {found})"
        )
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist; check the path or out_dir")
    if fix is None:
        others = sorted(p.name for p in path.parent.glob("*.pt") if p.name != path.name)
        fix = (
            f"use another checkpoint of {path.parent} ({', '.join(others)})"
            if others
            else "write it again (rerun the command that made it)"
        )
    try:
        with warnings.catch_warnings(record=True) as caught:  # re-emitted only for a good file
            warnings.simplefilter("always")
            obj = torch.load(path, map_location=map_location, weights_only=True)
        for warning in caught:
            warnings.warn_explicit(
                warning.message, warning.category, warning.filename, warning.lineno
            )
        return obj
    except MemoryError as exc:
        raise CheckpointError(
            f"cannot read checkpoint {path}: it claims more memory than there is; {fix}"
        ) from exc
    except Exception as exc:  # noqa: BLE001 (any failure to parse an untrusted file)
        reason = " ".join(str(exc).split())[:200]
        raise CheckpointError(
            f"cannot read checkpoint {path} ({type(exc).__name__}: {reason}); the file is "
            f"corrupt, truncated or not a torch checkpoint -- {fix}"
        ) from exc


def load_checkpoint(
    path: str | os.PathLike[str], map_location: str | torch.device | None = "cpu"
) -> dict[str, Any]:
    """Load a checkpoint written by :func:`save_checkpoint` with ``weights_only=True``.

    Args:
        path: The checkpoint file.
        map_location: Where tensors are loaded (default ``"cpu"``).

    Returns:
        The checkpoint dict (see the module docstring).

    Raises:
        FileNotFoundError: If ``path`` does not exist.
        CheckpointError: If the file is truncated/corrupt, is not a molssl checkpoint, or has a
            ``format_version`` newer than this code understands.
    """
    path = Path(path)
    ckpt = read_torch_file(path, map_location)
    if not isinstance(ckpt, dict) or "format_version" not in ckpt or "state_dict" not in ckpt:
        raise CheckpointError(
            f"{path} is not a molssl checkpoint (no format_version/state_dict keys); "
            "plain state_dicts must be loaded with torch.load directly"
        )
    version = ckpt["format_version"]
    if isinstance(version, int) and not isinstance(version, bool) and version > FORMAT_VERSION:
        raise CheckpointError(
            f"{path} has format_version {version!r}, newer than the supported {FORMAT_VERSION}; "
            "upgrade molssl to read it"
        )
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise CheckpointError(
            f"{path} has format_version {version!r}, which no molssl writes (versions start at "
            "1); the file is damaged or not a molssl checkpoint"
        )
    if not isinstance(ckpt["state_dict"], Mapping):
        raise CheckpointError(
            f"{path}: its state_dict is a {type(ckpt['state_dict']).__name__}, not a mapping of "
            "names to tensors; the file is damaged or not a molssl checkpoint"
        )
    recorded = ckpt.get("weights_sha256")  # absent in files written before it was recorded
    if recorded is not None and recorded != weights_digest(ckpt["state_dict"]):
        others = sorted(p.name for p in path.parent.glob("*.pt") if p.name != path.name)
        fix = (
            f"use another checkpoint of {path.parent} ({', '.join(others)})"
            if others
            else "write it again (rerun the command that made it)"
        )
        raise CheckpointError(
            f"{path}: its weights do not match the checksum recorded when it was written (the "
            f"file was altered or damaged on disk); {fix}"
        )
    return ckpt


def check_weight_shapes(
    module: torch.nn.Module, state_dict: Mapping[str, Any], source: str, *, hint: str = ""
) -> None:
    """Refuse weights whose tensors have other shapes than ``module``'s, in one line.

    ``load_state_dict`` reports shape mismatches as a page of ``size mismatch for ...`` lines
    (also with ``strict=False``); this names the first one, how many there are and the fix.

    Args:
        module: The model the weights are meant for.
        state_dict: The weights (keys already mapped to ``module``'s names).
        source: Where the weights come from (a path), for the message.
        hint: Appended to the message, e.g. which featurizer the model was built for.

    Raises:
        CheckpointError: If any tensor present in both has a different shape.
    """
    own = module.state_dict()
    bad = [
        (key, list(value.shape), list(own[key].shape))
        for key, value in state_dict.items()
        if key in own and isinstance(value, torch.Tensor) and value.shape != own[key].shape
    ]
    if bad:
        key, theirs, ours = bad[0]
        raise CheckpointError(
            f"the weights in {source} do not fit the model: {key} is {theirs} there but {ours} "
            f"here ({len(bad)} of {len(own)} tensors differ){hint}"
        )
