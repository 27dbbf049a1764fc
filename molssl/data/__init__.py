"""Datasets: the MoleculeNet registry, file location/download, loading and SMILES streaming."""

from molssl.data.errors import (
    ChecksumError,
    DataFormatError,
    DatasetNotFoundError,
    UnknownDatasetError,
)
from molssl.data.locate import (
    ENV_CACHE_DIR,
    ENV_DATA_DIR,
    ENV_OFFLINE,
    candidate_file_names,
    default_cache_dir,
    download_file,
    find_local_file,
    locate_dataset_file,
    search_dirs,
)
from molssl.data.moleculenet import MoleculeNetData, load_csv_task, load_dataset, read_task_table
from molssl.data.registry import (
    DATASETS,
    HARTREE_TO_EV,
    METRICS,
    SPLITS,
    TASK_TYPES,
    DatasetSpec,
    dataset_names,
    get_dataset_spec,
)
from molssl.data.smiles_source import (
    SmilesIterableDataset,
    SmilesSource,
    embedded_smiles_path,
    embedded_tpsa_path,
    read_tpsa_table,
)
from molssl.data.status import DatasetStatus, dataset_status, format_dataset_table

__all__ = [
    "DATASETS",
    "ENV_CACHE_DIR",
    "ENV_DATA_DIR",
    "ENV_OFFLINE",
    "HARTREE_TO_EV",
    "METRICS",
    "SPLITS",
    "TASK_TYPES",
    "ChecksumError",
    "DataFormatError",
    "DatasetNotFoundError",
    "DatasetSpec",
    "DatasetStatus",
    "MoleculeNetData",
    "SmilesIterableDataset",
    "SmilesSource",
    "UnknownDatasetError",
    "candidate_file_names",
    "dataset_names",
    "dataset_status",
    "default_cache_dir",
    "download_file",
    "embedded_smiles_path",
    "embedded_tpsa_path",
    "find_local_file",
    "format_dataset_table",
    "get_dataset_spec",
    "load_csv_task",
    "load_dataset",
    "locate_dataset_file",
    "read_task_table",
    "read_tpsa_table",
    "search_dirs",
]
