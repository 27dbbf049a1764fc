"""Exception types raised by :mod:`molssl.data`."""

from __future__ import annotations


class UnknownDatasetError(ValueError):
    """A dataset name is neither a registered name nor an alias."""


class DatasetNotFoundError(FileNotFoundError):
    """A dataset file is not on disk and could not be downloaded.

    The message names the file, the URL, every directory searched and the environment
    variables that add search locations.
    """


class ChecksumError(OSError):
    """A downloaded file does not have the SHA-256 recorded in its :class:`DatasetSpec`."""


class DataFormatError(ValueError):
    """A data file is empty, lacks a column, or holds a label that is not a number."""
