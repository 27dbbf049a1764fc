"""Self-describing fine-tuned model files (``model.pt``): everything ``predict`` needs.

A model file is a :func:`~molssl.contrastive.io.checkpoint.save_checkpoint` dict (atomic write,
loadable with ``torch.load(weights_only=True)``) whose ``state_dict`` holds the
:class:`~molssl.finetune.model.FinetuneModel` (encoder, head, target scaler) and whose
``"finetuned"`` entry describes it::

    {
        "format_version": 1,            # of this description; newer files are refused
        "encoder": {...},               # EncoderConfig fields
        "featurizer": {...},            # scheme and hydrogen policy (no extras)
        "head": {"num_targets", "hidden", "layers", "activation"},
        "task": {"name", "task_type", "targets", "metric", "smiles_col"},
        "training_data": {"path", "sha256"},
        "init": "ckpt:...",             # where the encoder's weights started
        "versions": {...},              # python/torch/numpy/molssl/rdkit/torch_geometric
        "calibration": None,            # optional, for post-hoc calibration (e.g. conformal)
        "domain": {...},                # training molecules: fingerprint, n, heavy-atom range,
    }                                   # elements (molssl.finetune.domain)

and, beside it, ``"domain_fingerprints"``: the training split's ECFP4 bits packed as
``uint8[n, 256]`` (what ``predict``'s ``nn_tanimoto`` compares against).

Readers ignore entries they do not know, so later releases can add some (``calibration`` is the
reserved place for uncertainty calibration) without a format bump.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, overload

import torch

from molssl.contrastive.config import from_dict, to_dict
from molssl.contrastive.io.checkpoint import CheckpointError
from molssl.contrastive.io.digest import file_sha256
from molssl.featurize import GraphFeaturizer, featurizer_from_dict
from molssl.finetune.model import FinetuneModel
from molssl.models import EncoderConfig, MolEncoder

if TYPE_CHECKING:
    from molssl.models.pretrained import LoadedEncoder

logger = logging.getLogger(__name__)

MODEL_FORMAT_VERSION = 1
"""Version of the ``"finetuned"`` description this code writes and the newest it reads."""

MODEL_KEY = "finetuned"
"""Top-level checkpoint entry that marks a fine-tuned model file."""


DOMAIN_KEY = "domain_fingerprints"
"""Top-level checkpoint entry holding the training molecules' packed fingerprints."""


class ModelFileError(CheckpointError):
    """A file given as a fine-tuned model is something else, or from a newer molssl."""


@dataclass
class SavedModel:
    """A fine-tuned model ready to predict, with its description.

    Attributes:
        model: Encoder + head + scaler, eval mode.
        featurizer: The featurizer the model was trained with (scheme and hydrogen policy).
        task_type: ``"classification"`` or ``"regression"``.
        target_names: One name per output column.
        path: The file it was read from.
        info: The full ``"finetuned"`` description (task, training data, versions, ...).
        domain_fingerprints: ``uint8[n, 256]`` packed ECFP4 bits of the training molecules
            (``None`` for a model saved without them).
    """

    model: FinetuneModel
    featurizer: GraphFeaturizer
    task_type: str
    target_names: list[str]
    path: Path | None = None
    info: dict[str, Any] = field(default_factory=dict)
    domain_fingerprints: torch.Tensor | None = None

    @property
    def encoder(self) -> MolEncoder:
        """The fine-tuned encoder (``model.encoder``), as on a released encoder's result."""
        return self.model.encoder


def versions() -> dict[str, str]:
    """Library versions recorded in a model file (python, torch, numpy, molssl, rdkit, PyG)."""
    import rdkit
    import torch_geometric

    from molssl.contrastive.io.checkpoint import library_versions

    return {
        **library_versions(),
        "rdkit": rdkit.__version__,
        "torch_geometric": torch_geometric.__version__,
    }


def describe(
    model: FinetuneModel,
    featurizer: GraphFeaturizer,
    target_names: list[str],
    *,
    task: dict[str, Any],
    training_data: str | Path | None,
    init: str,
) -> dict[str, Any]:
    """The ``"finetuned"`` entry of a model file (see the module docstring)."""
    data = None
    if training_data is not None and Path(training_data).is_file():
        data = {"path": str(training_data), "sha256": file_sha256(training_data)}
    return {
        "format_version": MODEL_FORMAT_VERSION,
        "encoder": to_dict(model.encoder.config),
        "featurizer": featurizer.to_dict(),
        "head": model.head_config(),
        "task": {**task, "task_type": model.task_type, "targets": list(target_names)},
        "training_data": data,
        "init": init,
        "versions": versions(),
        "calibration": None,
    }


def save_model(
    path: str | Path,
    model: FinetuneModel,
    description: dict[str, Any],
    config: Any = None,
    metadata: dict[str, Any] | None = None,
) -> Path:
    """Write a model file atomically.

    Args:
        path: Destination (``model.pt``).
        model: The trained model (any device; weights are stored as they are).
        description: :func:`describe`'s entry.
        config: The run's resolved config (stored as ``config``), or None.
        metadata: Further top-level entries (e.g. the run's result).

    Returns:
        The path written.
    """
    from molssl.contrastive.io.checkpoint import save_checkpoint

    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    extra = {MODEL_KEY: description, **(metadata or {})}
    return save_checkpoint(path, state, config=config or {}, metadata=extra)


def _not_a_model(path: Path, ckpt: dict[str, Any]) -> ModelFileError:
    if "imagessl" in ckpt:
        what = "an imagessl pretraining checkpoint (images, not molecules)"
    elif "featurizer" in ckpt:
        what = "a `molssl pretrain` checkpoint (an encoder without a trained head)"
    else:
        what = "not a fine-tuned molssl model"
    return ModelFileError(
        f"{path} is {what}; predict needs the model.pt written by `molssl finetune` "
        f"(fine-tune first: molssl finetune --init ckpt:{path} ...)"
    )


@overload
def load_model(path: Path, device: str | torch.device = "cpu") -> SavedModel: ...


@overload
def load_model(path: str, device: str | torch.device = "cpu") -> SavedModel | LoadedEncoder: ...


def load_model(path: str | Path, device: str | torch.device = "cpu") -> SavedModel | LoadedEncoder:
    """Read a fine-tuned model file, or an encoder released with molssl by name.

    Args:
        path: ``model.pt`` written by ``molssl finetune`` / :func:`save_model`, or
            ``"molssl:NAME"`` (``molssl models`` lists the names).
        device: Where the model is put (default CPU).

    Returns:
        :class:`SavedModel` in eval mode for a model file. For ``"molssl:NAME"`` the
        :class:`~molssl.models.pretrained.LoadedEncoder` of
        :func:`~molssl.models.pretrained.load_pretrained` (``.encoder`` in eval mode and the
        ``.featurizer`` its weights expect): a released encoder has no trained head, so it
        embeds molecules (``PretrainedEmbedder("molssl:NAME")``) or is fine-tuned
        (``molssl finetune --init molssl:NAME``); it does not predict. Both results have
        ``.encoder`` and ``.featurizer``.

    Raises:
        FileNotFoundError: The file does not exist.
        ModelFileError: A pretraining or imagessl checkpoint, a file from a newer molssl
            (``format_version`` above :data:`MODEL_FORMAT_VERSION`), or a damaged description.
        molssl.models.shipped.UnknownEncoderError: ``molssl:NAME`` names no released encoder.
        molssl.models.pretrained.CorruptEncoderError: Its file fails its SHA-256.
        CheckpointError: Not a molssl checkpoint at all, or unreadable.
    """
    from molssl.contrastive.io.checkpoint import load_checkpoint

    if str(path).startswith("molssl:") and not Path(path).is_file():
        from molssl.models.pretrained import load_pretrained

        loaded = load_pretrained(str(path))
        loaded.encoder.to(device).eval()
        return loaded
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"model {path} does not exist; give the model.pt written by `molssl finetune` "
            "(or the folder of an ensemble)"
        )
    ckpt = load_checkpoint(path, map_location="cpu")
    info = ckpt.get(MODEL_KEY)
    if not isinstance(info, dict):
        raise _not_a_model(path, ckpt)
    version = info.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ModelFileError(
            f"{path} has model format_version {version!r}, which no molssl writes (versions "
            "start at 1); the file is damaged or not a fine-tuned molssl model"
        )
    if version > MODEL_FORMAT_VERSION:
        raise ModelFileError(
            f"{path} is a fine-tuned model of format_version {version!r}, newer than the "
            f"{MODEL_FORMAT_VERSION} this molssl reads; upgrade molssl to use it"
        )
    try:
        cfg = from_dict(EncoderConfig, info["encoder"], where=f"{path}: encoder")
        featurizer = featurizer_from_dict(info["featurizer"])
        head, task = info["head"], info["task"]
        model = FinetuneModel(
            MolEncoder.from_config(cfg),
            int(head["num_targets"]),
            task["task_type"],
            head.get("hidden"),
            int(head["layers"]),
            head.get("activation", "softplus"),
        )
        model.load_state_dict(ckpt["state_dict"])
    except (KeyError, TypeError, ValueError, RuntimeError) as err:
        raise ModelFileError(f"{path}: damaged fine-tuned model description ({err})") from err
    fps = ckpt.get(DOMAIN_KEY)
    if not isinstance(fps, torch.Tensor) or fps.dtype != torch.uint8 or fps.dim() != 2:
        fps = None
    return SavedModel(
        model.to(device).eval(),
        featurizer,
        task["task_type"],
        list(task["targets"]),
        path,
        info,
        fps,
    )
