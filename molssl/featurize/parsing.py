"""The one SMILES parser of molssl, with its hydrogen policy and its error type.

Every path that turns a SMILES string into an RDKit molecule (pretraining, fine-tuning,
embedding, benchmarks) goes through :func:`parse_smiles`, so that the same hydrogen policy and
the same validation apply everywhere.
"""

from __future__ import annotations

import math
import re
from enum import Enum

from rdkit import Chem, rdBase

DEFAULT_MAX_SMILES_LENGTH = 10_000
_SHOWN_CHARS = 80
_MAX_REASON_CHARS = 500
_LOG_PREFIX = re.compile(r"^\[\d\d:\d\d:\d\d\]\s*")


class HydrogenPolicy(str, Enum):
    """How hydrogen atoms appear in the molecular graph.

    The value (``"implicit"`` / ``"explicit"``) is what checkpoints and graph-store keys record.

    Attributes:
        IMPLICIT: no hydrogen atoms in the graph; explicit ``[H]`` atoms written in the SMILES
            are removed as RDKit does by default (isotopic hydrogens such as ``[2H]`` stay).
        EXPLICIT: every hydrogen becomes an atom (``Chem.AddHs``).
    """

    IMPLICIT = "implicit"
    EXPLICIT = "explicit"

    @classmethod
    def coerce(cls, value: HydrogenPolicy | str) -> HydrogenPolicy:
        """Return ``value`` as a policy.

        Raises:
            ValueError: ``value`` names no policy; the message lists the valid ones.
        """
        try:
            return cls(value)
        except ValueError:
            valid = ", ".join(repr(p.value) for p in cls)
            raise ValueError(f"unknown hydrogen policy {value!r}; use one of {valid}") from None


class InvalidSmilesError(ValueError):
    """A SMILES string (or a value standing in for one) could not be turned into a molecule.

    Attributes:
        smiles: the offending input as text, truncated to about 80 characters.
        reason: why it failed (RDKit's own message where RDKit rejected it).
    """

    def __init__(self, smiles: object, reason: str) -> None:
        self.smiles = _shorten(smiles)
        self.reason = reason
        super().__init__(f"invalid SMILES {self.smiles}: {reason}")

    def __reduce__(self) -> tuple:
        return (_rebuild_error, (self.smiles, self.reason))


def _rebuild_error(smiles: str, reason: str) -> InvalidSmilesError:
    err = InvalidSmilesError("", reason)
    err.smiles = smiles
    err.args = (f"invalid SMILES {smiles}: {reason}",)
    return err


def _shorten(value: object) -> str:
    text = repr(value)
    if len(text) <= _SHOWN_CHARS:
        return text
    size = f", {len(value)} characters" if isinstance(value, str) else ""
    return f"{text[:_SHOWN_CHARS]}...(truncated{size})"


def _check_input(smiles: object, max_length: int) -> str:
    """Reject what is not a usable SMILES string before RDKit sees it; return it stripped."""
    if smiles is None:
        raise InvalidSmilesError(smiles, "got None (a missing value?); pass a SMILES string")
    if not isinstance(smiles, str):
        if isinstance(smiles, float) and math.isnan(smiles):
            reason = "got NaN (a missing value in a table?); drop or fill missing rows"
        else:
            reason = f"expected a str, got {type(smiles).__name__}"
        raise InvalidSmilesError(smiles, reason)
    if len(smiles) > max_length:
        raise InvalidSmilesError(
            smiles,
            f"{len(smiles)} characters is above max_length={max_length}; raise max_length "
            "(max_smiles_length on a featurizer) if such molecules are intended",
        )
    stripped = smiles.strip()
    if not stripped:
        reason = "empty SMILES" if not smiles else "whitespace-only SMILES"
        raise InvalidSmilesError(smiles, reason)
    return stripped


def _rdkit_reason(messages: str, smiles: str) -> str:
    """RDKit's log as one line: timestamps, repeats and the echoed input with its caret dropped."""
    lines = (_LOG_PREFIX.sub("", line).strip() for line in messages.splitlines())
    kept = [line for line in lines if line and line != smiles and line.strip("^ ")]
    reason = "; ".join(dict.fromkeys(kept)) or "RDKit could not parse it (no message)"
    return reason if len(reason) <= _MAX_REASON_CHARS else reason[:_MAX_REASON_CHARS] + "..."


def _failure_reason(smiles: str) -> str:
    """Parse a SMILES known to fail again, with RDKit's error log captured, for its reason."""
    capture = getattr(rdBase, "CaptureErrorLog", None)
    if capture is not None:
        with capture() as log:
            Chem.MolFromSmiles(smiles)
        return _rdkit_reason(log.messages, smiles)
    with rdBase.BlockLogs():  # older RDKit: no capture, derive a coarser reason
        raw = Chem.MolFromSmiles(smiles, sanitize=False)
        if raw is None:
            return "SMILES syntax error"
        return f"sanitization failed ({Chem.SanitizeMol(raw, catchErrors=True)})"


def quiet_rdkit_log() -> rdBase.BlockLogs:
    """Context manager silencing RDKit's log, for featurizing many molecules.

    Entering it costs about as much as parsing a SMILES, so wrap a batch, not each molecule.
    Reasons in :class:`InvalidSmilesError` are still captured inside it.
    """
    return rdBase.BlockLogs()


def parse_smiles(
    smiles: str,
    hydrogens: HydrogenPolicy | str = HydrogenPolicy.IMPLICIT,
    *,
    max_length: int = DEFAULT_MAX_SMILES_LENGTH,
) -> Chem.Mol:
    """Parse and sanitize one SMILES string under a hydrogen policy.

    Surrounding whitespace is stripped; as in RDKit, text after inner whitespace is read as the
    molecule's name. A failing parse also leaves RDKit's message in RDKit's log (stderr by
    default), as ``Chem.MolFromSmiles`` does; silence it around batches with
    :func:`quiet_rdkit_log` (guarding each call would double the parse time).

    Args:
        smiles: the SMILES string.
        hydrogens: :class:`HydrogenPolicy` or its value; default ``"implicit"``.
        max_length: longest accepted string (default 10,000 characters), a guard against
            pathological inputs.

    Returns:
        The sanitized RDKit molecule (with explicit H atoms under ``"explicit"``).

    Raises:
        InvalidSmilesError: ``smiles`` is None, NaN, not a str, empty, whitespace-only, longer
            than ``max_length``, or rejected by RDKit (the message carries RDKit's reason).
        ValueError: ``hydrogens`` names no policy.
    """
    policy = (
        hydrogens if isinstance(hydrogens, HydrogenPolicy) else HydrogenPolicy.coerce(hydrogens)
    )
    text = _check_input(smiles, max_length)
    mol = Chem.MolFromSmiles(text)
    if mol is None:
        raise InvalidSmilesError(smiles, _failure_reason(text))
    if policy is HydrogenPolicy.EXPLICIT:
        mol = Chem.AddHs(mol)
    return mol


def apply_hydrogen_policy(mol: Chem.Mol, hydrogens: HydrogenPolicy | str) -> Chem.Mol:
    """Bring an already built molecule to a hydrogen policy (a no-op when it already conforms).

    Args:
        mol: an RDKit molecule.
        hydrogens: :class:`HydrogenPolicy` or its value.

    Returns:
        ``mol`` itself, or a new molecule with hydrogens added (explicit) or removed (implicit).
    """
    policy = HydrogenPolicy.coerce(hydrogens)
    if policy is HydrogenPolicy.EXPLICIT:
        return Chem.AddHs(mol)
    if mol.GetNumAtoms() != mol.GetNumHeavyAtoms():
        return Chem.RemoveHs(mol)
    return mol
