"""Predictions of saved fine-tuned models on new molecules (``molssl predict``).

One output row per input row, in order, with the input's own columns kept; one column per target
named after it (probabilities for classification, target units for regression); rows whose
SMILES cannot be featurized get empty predictions and a reason in the ``error`` column. Several
models (or a folder holding ``*/model.pt``) form an ensemble: the mean, plus ``<target>_std``
(the population standard deviation over the members). A model fine-tuned with ``--conformal``
adds ``<target>_lo``/``<target>_hi`` (regression) or ``<target>_set`` (classification: ``"0"``,
``"1"``, ``"0|1"`` or empty) at the calibrated coverage; an ensemble does when its folder's
``ensemble.json`` holds the calibration of the members' mean. These prediction columns have
fixed names; an input column named like one of them is never overwritten: it is kept as
``<name>_input`` (``<name>_input2``, ... if that is taken too) and the run says so in one line;
an output that is the input file is refused. A model that stores its
training molecules adds the applicability columns ``nn_tanimoto``, ``multi_fragment``,
``unseen_atoms``, ``size_outside`` and ``in_domain`` (:mod:`molssl.finetune.domain`; an ensemble
uses its first member's training set). A model fine-tuned with ``standardize`` standardizes
every input (largest fragment, neutralized) as it did in training.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from molssl.contrastive.config import ConfigError
from molssl.contrastive.io.atomic import create_temp_beside, same_file
from molssl.data import DataFormatError
from molssl.featurize import default_workers, featurized_batches
from molssl.finetune.config import resolve_device
from molssl.finetune.conformal import ConformalCalibration, conformal_columns
from molssl.finetune.model import to_outputs
from molssl.finetune.saved import ModelFileError, SavedModel, load_model

logger = logging.getLogger(__name__)

OUTPUT_SUFFIXES = (".csv", ".parquet")


def model_files(paths: str | Path | Sequence[str | Path]) -> list[Path]:
    """The model files named by ``paths``: files as given, folders expanded.

    A folder is a single model (``DIR/model.pt``) or an ensemble (``DIR/*/model.pt``, as
    ``molssl finetune --ensemble`` writes it), members in name order.

    Raises:
        FileNotFoundError: A path does not exist, or a folder holds no model.
        ModelFileError: A released encoder's name (``molssl:NAME``): it has no head.
    """
    paths = [paths] if isinstance(paths, str | Path) else list(paths)
    found: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            members = [path / "model.pt"] if (path / "model.pt").is_file() else []
            members = members or sorted(path.glob("*/model.pt"))
            if not members:
                raise FileNotFoundError(
                    f"{path} holds no model.pt (nor */model.pt); give the --out folder of "
                    "`molssl finetune` or a model file"
                )
            found += members
        elif path.is_file():
            found.append(path)
        elif str(path).startswith("molssl:"):
            raise ModelFileError(
                f"{path} is a released encoder, not a fine-tuned model: it has no head to "
                f"predict with; fine-tune it first (molssl finetune --init {path} ...) or "
                f"embed with it (molssl embed --checkpoint {path} ...)"
            )
        else:
            raise FileNotFoundError(
                f"model {path} does not exist; give the model.pt written by `molssl finetune` "
                "or its folder"
            )
    if not found:
        raise FileNotFoundError("no model given; pass --model PATH [PATH ...]")
    seen: dict[Path, Path] = {}
    for model in found:
        first = seen.setdefault(model.resolve(), model)
        if first is not model:
            raise ConfigError(
                f"--model names {model} twice ({first} is the same file); an ensemble averages "
                "different models: give each one once"
            )
    return found


def load_ensemble(
    paths: str | Path | Sequence[str | Path], device: str = "cpu"
) -> list[SavedModel]:
    """Load one or several models that predict the same targets.

    Raises:
        FileNotFoundError / ModelFileError: See :func:`model_files` and
            :func:`~molssl.finetune.saved.load_model`.
        ModelFileError: Members disagree on targets or task type.
    """
    target = resolve_device(device)
    models = [load_model(p, target) for p in model_files(paths)]
    first = models[0]
    for other in models[1:]:
        if (other.target_names, other.task_type) != (first.target_names, first.task_type):
            raise ModelFileError(
                f"ensemble members disagree: {first.path} predicts {first.target_names} "
                f"({first.task_type}), {other.path} predicts {other.target_names} "
                f"({other.task_type}); give models of one task"
            )
    return models


def _check_members_unchanged(
    record: Path, conformal: dict[str, Any], models: Sequence[SavedModel]
) -> None:
    """Refuse an ensemble calibration whose members' ``model.pt`` changed since it was made."""
    from molssl.contrastive.io.digest import file_sha256

    recorded = conformal.get("member_sha256")
    if not isinstance(recorded, dict):
        logger.warning(
            "%s records no SHA-256 of its members: its conformal intervals are used "
            "unchecked (run `molssl finetune --ensemble N --conformal C` again to "
            "record them)",
            record,
        )
        return
    for model in models:
        assert model.path is not None
        name = model.path.parent.name
        if recorded.get(name) != file_sha256(model.path):
            raise ModelFileError(
                f"{record}: {name}/model.pt has changed since the ensemble's conformal "
                "calibration (its SHA-256 differs); recalibrate with `molssl finetune --ensemble "
                "N --conformal C --resume --out FOLDER`, or give the member files to predict "
                "without intervals"
            )


def find_calibration(
    models: Sequence[SavedModel], paths: Sequence[str | Path] = ()
) -> ConformalCalibration | None:
    """The conformal calibration of what ``models`` predict together, if there is one.

    One model: its own (``model.pt``). Several: the calibration of their mean in the
    ``ensemble.json`` of the one folder they were loaded from, when it names exactly these
    members; otherwise none (per-member calibrations do not cover the mean; logged).

    Raises:
        ModelFileError: A calibration whose targets differ from the models'.
    """
    found, source = None, None
    if len(models) == 1:
        found, source = models[0].info.get("calibration"), models[0].path
    else:
        folders = [Path(p) for p in paths]
        record = folders[0] / "ensemble.json" if len(folders) == 1 else None
        if record is not None and record.is_file():
            try:
                conformal = json.loads(record.read_text()).get("conformal") or {}
            except (ValueError, AttributeError) as err:
                raise ModelFileError(
                    f"{record} is damaged ({type(err).__name__}); delete it to predict without "
                    "the ensemble's conformal intervals, or run `molssl finetune --ensemble N "
                    "--conformal C` again"
                ) from err
            names = sorted(m.path.parent.name for m in models if m.path is not None)
            if conformal and sorted(conformal.get("members", [])) == names:
                _check_members_unchanged(record, conformal, models)
                found, source = conformal.get("calibration"), record
        if found is None and any(m.info.get("calibration") for m in models):
            logger.warning(
                "the %d models carry conformal calibrations of their own, not of "
                "their mean: no intervals are written (give the folder written by "
                "`molssl finetune --ensemble N --conformal C`)",
                len(models),
            )
    if not found:
        return None
    try:
        calibration = ConformalCalibration.from_dict(found)
    except (TypeError, ValueError) as err:
        raise ModelFileError(f"{source}: damaged conformal calibration ({err})") from err
    if list(calibration.targets) != list(models[0].target_names):
        raise ModelFileError(
            f"{source}: conformal calibration of targets "
            f"{list(calibration.targets)}, the model predicts "
            f"{models[0].target_names}"
        )
    return calibration


@dataclass
class Predictions:
    """Predictions for a list of SMILES, aligned with it.

    Attributes:
        target_names: Column names.
        mean: ``float64[n, T]``: probabilities or target units; NaN for failed rows.
        std: ``float64[n, T]`` over ensemble members (``None`` for a single model).
        errors: Per row, ``""`` or why the SMILES could not be featurized.
        calibration: Split-conformal calibration of ``mean`` (``None``: no intervals/sets).
        domain: Applicability columns (:func:`molssl.finetune.domain.applicability`), or
            ``None`` when the model stores no training molecules.
    """

    target_names: list[str]
    mean: np.ndarray
    std: np.ndarray | None
    errors: list[str]
    calibration: ConformalCalibration | None = None
    domain: dict[str, Any] | None = None

    def columns(self, taken: Sequence[str] = ()) -> dict[str, np.ndarray | list[str]]:
        """Output columns by their fixed names (:func:`prediction_columns`): ``<target>``,
        ``<target>_std``, conformal columns, ``error``.

        Raises:
            ConfigError: A name is in ``taken`` (the input's columns): see
                :func:`check_column_clash`.
        """
        check_column_clash(
            taken,
            prediction_columns(
                self.target_names,
                self.std is not None,
                self.calibration,
                domain=self.domain is not None,
            ),
        )
        out: dict[str, Any] = {}
        for t, name in enumerate(self.target_names):
            out[name] = self.mean[:, t]
            if self.std is not None:
                out[f"{name}_std"] = self.std[:, t]
        if self.calibration is not None:
            out.update(conformal_columns(self.mean, self.calibration, self.target_names))
        if self.domain is not None:
            out.update(self.domain)
        out["error"] = self.errors
        return out


def prediction_columns(
    target_names: Sequence[str],
    ensemble: bool,
    calibration: ConformalCalibration | None,
    *,
    domain: bool = False,
) -> list[str]:
    """The names of the columns ``molssl predict`` adds, in order: per target ``<target>``,
    ``<target>_std`` (ensemble), ``<target>_lo``/``<target>_hi`` (calibrated regression) or
    ``<target>_set`` (calibrated classification); with ``domain`` the applicability columns
    (:data:`molssl.finetune.domain.COLUMNS`); then ``error``."""
    names: list[str] = []
    for name in target_names:
        names += [name, f"{name}_std"] if ensemble else [name]
    if calibration is not None:
        ends = ("_lo", "_hi") if calibration.task_type == "regression" else ("_set",)
        names += [f"{name}{end}" for name in target_names for end in ends]
    if domain:
        from molssl.finetune.domain import COLUMNS

        names += list(COLUMNS)
    return [*names, "error"]


def check_column_clash(
    input_columns: Sequence[str], written: Sequence[str], source: str | Path = "the input"
) -> None:
    """Refuse input columns named like the prediction columns ``written``.

    :func:`predict_file` never gets here (it keeps such columns under
    :func:`kept_column_names`); this guards the columns of a result added to a frame.

    Raises:
        ConfigError: Naming the clashing columns.
    """
    clash = [name for name in written if name in set(map(str, input_columns))]
    if clash:
        raise ConfigError(
            f"{source} has column(s) {', '.join(map(repr, clash))} that molssl predict writes "
            f"(its columns: {', '.join(written)}); rename them in the input, e.g. "
            f"{clash[0]!r} -> '{clash[0]}_input'"
        )


def kept_column_names(input_columns: Sequence[str], written: Sequence[str]) -> dict[str, str]:
    """The new names of input columns that are named like a prediction column.

    Each such column ``NAME`` is kept as ``NAME_input``, or ``NAME_input2``, ``NAME_input3``, ...
    when that name is taken by another input or prediction column: a labelled test file keeps its
    labels beside the predictions, and nothing is overwritten.

    Returns:
        ``{old name: new name}`` for the clashing columns only (empty when none clash).
    """
    present = set(map(str, input_columns))
    taken = present | set(written)
    renames: dict[str, str] = {}
    for name in written:
        if name not in present:
            continue
        new, k = f"{name}_input", 1
        while new in taken:
            k += 1
            new = f"{name}_input{k}"
        taken.add(new)
        renames[name] = new
    return renames


def predict_smiles(
    models: Sequence[SavedModel],
    smiles: Sequence[str],
    batch_size: int = 256,
    calibration: ConformalCalibration | None = None,
    *,
    workers: int = 0,
    standardize: bool = False,
) -> Predictions:
    """Predict every SMILES with every member (featurized once per distinct featurizer).

    Args:
        models: One model, or ensemble members predicting the same targets.
        smiles: SMILES strings; empty or invalid ones get NaN and an error.
        batch_size: Input rows per forward pass (default 256).
        calibration: Conformal calibration of the (mean) prediction, see
            :func:`find_calibration`; ``None`` adds no intervals or sets.
        workers: Processes that featurize ahead of the models (default 0: this process; see
            :func:`~molssl.featurize.featurized_batches`); the results do not depend on it.
        standardize: Standardize every input (largest fragment, neutralized) even for members
            trained without it; members trained with it standardize anyway.

    Returns:
        :class:`Predictions` aligned with ``smiles``, with the applicability columns when the
        first member stores its training molecules (:func:`has_domain`).
    """
    if batch_size < 1:
        raise ConfigError(f"batch_size must be >= 1, got {batch_size}")
    first = models[0]
    n, n_targets = len(smiles), len(first.target_names)
    per_member = np.full((len(models), n, n_targets), np.nan)
    errors = [""] * n
    rows_in = [str(s) if s is not None else "" for s in smiles]
    featurizers = [_standardized(m.featurizer) if standardize else m.featurizer for m in models]
    groups: dict[str, list[int]] = {}
    for m, saved in enumerate(models):
        saved.model.eval()
        groups.setdefault(repr(sorted(featurizers[m].to_dict().items())), []).append(m)
    for members in groups.values():
        featurizer = featurizers[members[0]]
        stream = featurized_batches(rows_in, featurizer, batch_size=batch_size, workers=workers)
        for chunk in stream:
            for failure in chunk.failures:
                errors[failure.index] = errors[failure.index] or failure.reason
            if chunk.batch is None:
                continue
            rows = np.asarray(chunk.indices, dtype=np.int64)
            for m in members:
                saved = models[m]
                batch = chunk.batch.to(next(saved.model.parameters()).device)
                with torch.inference_mode():
                    raw = saved.model(batch).double().cpu().numpy()
                per_member[m, rows] = to_outputs(raw, saved.task_type)
    failed = np.asarray([bool(e) for e in errors], dtype=bool)
    per_member[:, failed] = np.nan  # a row one member's featurizer rejects is failed for all
    mean = per_member.mean(axis=0) if len(models) > 1 else per_member[0]
    std = per_member.std(axis=0) if len(models) > 1 else None
    domain = None
    if has_domain(first):
        from molssl.finetune.domain import DomainReference, applicability

        reference = DomainReference.from_model(
            first.info["domain"], first.domain_fingerprints, featurizers[0].standardize
        )
        domain = applicability(rows_in, reference)
        domain["in_domain"] = domain["in_domain"] & ~failed
    return Predictions(list(first.target_names), mean, std, errors, calibration, domain)


def has_domain(model: SavedModel) -> bool:
    """Whether ``model`` stores its training molecules (so predictions get applicability
    columns)."""
    return model.domain_fingerprints is not None and isinstance(model.info.get("domain"), dict)


def _standardized(featurizer: Any) -> Any:
    """``featurizer`` standardizing its input (itself when it already does)."""
    from molssl.featurize import featurizer_from_dict

    if featurizer.standardize:
        return featurizer
    return featurizer_from_dict({**featurizer.to_dict(), "standardize": True})


def predict(
    models: str | Path | SavedModel | Sequence[str | Path | SavedModel],
    smiles: Sequence[str],
    *,
    batch_size: int = 256,
    device: str = "cpu",
    standardize: bool = False,
) -> pd.DataFrame:
    """Predict SMILES with a model or an ensemble, as a table (the Python ``molssl predict``).

    Args:
        models: A loaded :class:`SavedModel`, a model file or folder, or several of them.
        smiles: SMILES strings.
        batch_size: Molecules per forward pass (default 256).
        device: Where models given as paths are loaded (default ``"cpu"``).
        standardize: Standardize every input even if the models were trained without it.

    Returns:
        One row per SMILES, in order: ``smiles``, one column per target (probabilities for
        classification), ``<target>_std`` for an ensemble, ``<target>_lo``/``_hi`` or
        ``<target>_set`` for a conformally calibrated model, and ``error`` (``""`` when fine).
    """
    items = [models] if isinstance(models, str | Path | SavedModel) else list(models)
    loaded = [m for m in items if isinstance(m, SavedModel)]
    paths = [m for m in items if not isinstance(m, SavedModel)]
    members = loaded + (load_ensemble(paths, device) if paths else [])
    smiles = list(smiles)
    calibration = find_calibration(members, paths if not loaded else ())
    preds = predict_smiles(members, smiles, batch_size, calibration, standardize=standardize)
    return pd.DataFrame({"smiles": smiles, **preds.columns(taken=["smiles"])})


def read_table(
    path: str | Path, fmt: str | None = None, smiles_col: str | int | None = None
) -> pd.DataFrame:
    """Read an input table as text, keeping every column and every row.

    ``.csv``/``.tsv`` (optionally ``.gz``; ``fmt`` ``"csv"``/``"tsv"`` for other names): every
    column, the header as column names. ``.parquet``. ``.smi``/``.txt`` (or ``fmt="smi"``) and
    PubChem's ``CID-SMILES``: the rows of :class:`~molssl.data.smiles_source.SmilesSource`, as
    columns ``smiles`` and, when the file has them (a second token, PubChem's CID), ``id``.
    Blank lines after the first record stay rows (an empty SMILES, reported as a failure), so
    output row i is input row i. With ``smiles_col`` a 0-based index, a CSV whose first line
    holds a molecule in that column has no header; its columns are then named ``"0"``, ``"1"``...
    """
    from molssl.data.smiles_source import (
        FORMATS,
        SmilesSource,
        is_pubchem_cid_smiles,
        looks_like_column_name,
    )

    path = Path(path)
    if fmt is not None and fmt not in FORMATS:
        raise ConfigError(f"unknown --format {fmt!r} for {path}; use one of {', '.join(FORMATS)}")
    suffixes = [s.lower() for s in path.suffixes if s.lower() != ".gz"]
    kind = fmt or (suffixes[-1].lstrip(".") if suffixes else "")
    if kind == "parquet":
        return pd.read_parquet(path)
    if kind in ("smi", "smiles", "txt") or (kind != "csv" and is_pubchem_cid_smiles(path)):
        # as `embed` reads it: PubChem's CID<TAB>SMILES is recognised in a .txt/.smi file too,
        # unless --format smi says otherwise
        source = SmilesSource(path, fmt="smi" if fmt == "smi" else None)
        records = list(source.records())
        frame = pd.DataFrame({"smiles": [smiles for _, smiles, _ in records]}, dtype=str)
        ids = [row_id for _, _, row_id in records]
        if any(row_id is not None for row_id in ids):
            frame.insert(0, "id", [row_id or "" for row_id in ids])
        return frame
    if kind not in ("csv", "tsv"):
        raise ConfigError(
            f"cannot tell the format of {path} from its name; rename it to .csv, .tsv, "
            ".parquet or .smi (optionally .gz), or pass --format csv|tsv|smi"
        )
    # Blank lines stay rows (an empty SMILES, reported as a failure): output row i = input row i.
    options = {
        "sep": "\t" if kind == "tsv" else ",",
        "dtype": str,
        "keep_default_na": False,
        "skip_blank_lines": False,
    }
    frame = _read_csv(path, options)
    index = int(smiles_col) if str(smiles_col).isdigit() else None
    if index is not None and str(smiles_col) not in frame.columns and index < frame.shape[1]:
        if not looks_like_column_name(str(frame.columns[index])):  # no header: a molecule
            frame = _read_csv(path, {**options, "header": None})
            frame.columns = [str(i) for i in range(frame.shape[1])]
            logger.info(
                "%s has no header (column %d of its first line is a SMILES); its "
                "columns are named 0..%d",
                path,
                index,
                frame.shape[1] - 1,
            )
    return frame


def _read_csv(path: Path, options: dict[str, Any]) -> pd.DataFrame:
    """``pd.read_csv`` whose failures on a user's file are one :class:`DataFormatError` each."""
    import gzip
    import zlib

    try:
        frame = pd.read_csv(path, **options)
    except UnicodeDecodeError as err:
        raise DataFormatError(
            f"{path} is not UTF-8 text (byte {err.object[err.start : err.start + 1]!r} at offset "
            f"{err.start}); save it as UTF-8, e.g. iconv -f latin1 -t utf-8 {path.name}"
        ) from err
    except pd.errors.EmptyDataError as err:
        raise DataFormatError(
            f"{path} is empty; give a table with a header line and one molecule per row"
        ) from err
    except (EOFError, gzip.BadGzipFile, zlib.error) as err:
        raise DataFormatError(
            f"{path} cannot be read ({type(err).__name__}: {err}); the compressed file is "
            "truncated or damaged: copy or compress it again"
        ) from err
    except pd.errors.ParserError as err:
        raise DataFormatError(
            f"{path} is not a well-formed table ({' '.join(str(err).split())}); fix the rows it "
            "names or pass --format"
        ) from err
    first = str(frame.columns[0]) if len(frame.columns) else ""
    if options.get("header", "infer") is not None and first.startswith("#"):
        raise DataFormatError(
            f"{path} starts with a comment line ({first[:40]!r}); delete the leading '#' "
            "line(s) so that the first line is the header"
        )
    return frame


def smiles_column(
    frame: pd.DataFrame, wanted: str | int | None, source: str | Path, default: str
) -> str:
    """The SMILES column: ``wanted`` (a name, or a 0-based index), else ``default`` (the
    training file's), else ``smiles`` in any case.

    Raises:
        DataFormatError: No such column; the message lists the columns and names the flag.
    """
    if wanted is not None:
        if wanted in frame.columns:
            return wanted
        if str(wanted).isdigit() and int(wanted) < len(frame.columns):
            return frame.columns[int(wanted)]
    else:
        for name in (default, "smiles"):
            if name in frame.columns:
                return name
        lower = {str(c).lower(): c for c in frame.columns}
        if "smiles" in lower:
            return lower["smiles"]
    shown = ", ".join(map(str, list(frame.columns)[:10]))
    raise DataFormatError(
        f"{source} has no SMILES column {wanted if wanted is not None else default!r} "
        f"(columns: {shown}); pass --smiles-col NAME or a 0-based index"
    )


def write_table(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write ``.csv`` or ``.parquet`` atomically (temp file beside it, then ``os.replace``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = create_temp_beside(path)  # the user's file mode, not mkstemp's 0600
    os.close(fd)
    try:
        if path.suffix == ".parquet":
            frame.to_parquet(tmp, index=False)
        else:
            frame.to_csv(tmp, index=False)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return path


@dataclass
class PredictSummary:
    """What :func:`predict_file` wrote."""

    output: Path
    rows: int
    failed: int
    members: int
    target_names: list[str]


def check_output(output: str | Path) -> Path:
    """Refuse an output suffix other than ``.csv``/``.parquet`` (before any work)."""
    output = Path(output)
    if output.suffix not in OUTPUT_SUFFIXES:
        raise ConfigError(f"cannot write predictions to {output}; use a .csv or .parquet file")
    if output.suffix == ".parquet":
        try:
            import pyarrow  # noqa: F401
        except ImportError as err:
            raise ImportError(f"writing {output} needs pyarrow: pip install pyarrow") from err
    return output


def predict_file(
    models: str | Path | Sequence[str | Path],
    input: str | Path,
    output: str | Path,
    smiles_col: str | int | None = None,
    *,
    fmt: str | None = None,
    batch_size: int = 256,
    workers: int | None = None,
    device: str = "cpu",
    standardize: bool = False,
) -> PredictSummary:
    """Predict every row of a table with one model or an ensemble (``molssl predict``).

    Everything that can be checked is checked before featurizing: output suffix, device,
    models, input file and its SMILES column.

    Args:
        models: Model file(s) or folder(s) (see :func:`model_files`).
        input: ``.csv``/``.tsv`` (optionally ``.gz``), ``.parquet``, ``.smi``/``.txt``.
        output: ``.csv`` or ``.parquet``; written atomically.
        smiles_col: SMILES column of ``input``, a name or a 0-based index (default: the
            training file's, else ``smiles``).
        fmt: ``"smi"``, ``"csv"`` or ``"tsv"`` when the file's name does not say (default:
            from the name; PubChem's ``CID-SMILES`` by name or content).
        batch_size: Molecules per forward pass (default 256).
        workers: Processes that featurize ahead of the models (default 1 if a CPU is left
            beside torch's threads, else 0; see :func:`~molssl.featurize.default_workers`).
        device: ``"cpu"`` (default), ``"cuda"`` or ``"auto"``.
        standardize: Standardize every input even if the models were trained without it.

    Returns:
        :class:`PredictSummary`.

    Raises:
        ConfigError: Unsupported output suffix, CUDA missing, or ``output`` is ``input`` (same
            path or inode). An input column named like a prediction column is kept under
            :func:`kept_column_names` (logged), never overwritten.
        FileNotFoundError: Input or model missing.
        ModelFileError: A file that is not a fine-tuned model (pretraining or imagessl
            checkpoint) or one from a newer molssl.
        DataFormatError: The SMILES column is missing, or every row failed (the output is
            still written, with the reasons).
    """
    output = check_output(output)
    if same_file(output, input):
        raise ConfigError(
            f"output {output} is the input {input}; writing it would replace the "
            "input: choose another -o"
        )
    workers = default_workers() if workers is None else workers
    if batch_size < 1 or workers < 0:
        raise ConfigError(
            f"--batch-size must be >= 1 and --workers >= 0, got {batch_size} and {workers}"
        )
    members = load_ensemble(models, device)
    if not Path(input).is_file():
        raise FileNotFoundError(f"input {input} does not exist")
    frame = read_table(input, fmt, smiles_col)
    default = members[0].info.get("task", {}).get("smiles_col") or "smiles"
    column = smiles_column(frame, smiles_col, input, default)
    paths = [models] if isinstance(models, str | Path) else list(models)
    calibration = find_calibration(members, paths)
    written = prediction_columns(
        members[0].target_names, len(members) > 1, calibration, domain=has_domain(members[0])
    )
    renames = kept_column_names(frame.columns, written)
    if renames:
        logger.warning(
            "%s: input column(s) %s kept as %s (prediction columns have fixed names)",
            input,
            ", ".join(map(repr, renames)),
            ", ".join(map(repr, renames.values())),
        )
        frame = frame.rename(columns=renames)
        if isinstance(column, str) and column in renames:
            column = renames[column]
    preds = predict_smiles(
        members,
        frame[column].tolist(),
        batch_size,
        calibration,
        workers=workers,
        standardize=standardize,
    )
    out = frame.copy()
    for name, values in preds.columns(taken=list(frame.columns)).items():
        out[name] = values
    write_table(out, output)
    failed = sum(bool(e) for e in preds.errors)
    if len(frame) and failed == len(frame):
        shown = "; ".join(
            f"row {i} {str(s)[:40]!r}: {e[:80]}"
            for i, (s, e) in enumerate(zip(frame[column], preds.errors, strict=True))
            if i < 3
        )
        raise DataFormatError(
            f"every one of the {failed} rows of {input} failed ({shown}); is it a SMILES file "
            f"and the right column (--smiles-col {column!r}, --format)? The rows and reasons "
            f"are written to {output}."
        )
    if failed:
        logger.warning(
            "%d of %d rows could not be predicted (see the error column of %s)",
            failed,
            len(frame),
            output,
        )
    return PredictSummary(output, len(frame), failed, len(members), preds.target_names)
