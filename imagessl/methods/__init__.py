"""Image SSL methods (importing this package registers them in :data:`METHODS`)."""

from imagessl.methods import classify, cpc, momentum, reconstruct, simclr
from imagessl.methods.registry import (
    METHODS,
    Method,
    MethodContext,
    UnknownMethodError,
    get_method,
    register_method,
)

__all__ = [
    "METHODS",
    "Method",
    "MethodContext",
    "UnknownMethodError",
    "classify",
    "cpc",
    "get_method",
    "momentum",
    "reconstruct",
    "register_method",
    "simclr",
]
