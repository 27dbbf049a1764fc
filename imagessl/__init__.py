"""imagessl: SimCLR, MoCo v2, BYOL, SwAV, CPC v2 and classic image pretext tasks on molssl's
contrastive core.

Imports nothing chemical: only :mod:`molssl.contrastive` and :mod:`molssl.contrastive.config`.

Python API::

    from imagessl.config import EvalConfig, ImagePretrainConfig
    from imagessl.evaluate import evaluate_checkpoint
    from imagessl.pretrain import pretrain

    result = pretrain(ImagePretrainConfig(method="rotation"))
    evaluate_checkpoint(result.last_checkpoint, EvalConfig(protocol="knn"))
"""

__version__ = "0.1.0.dev0"

__all__ = ["__version__"]
