"""Registry of the MoleculeNet benchmark datasets (Wu et al., 2018) as frozen specs.

Targets, metrics and default splits follow MolCLR (Wang et al., 2022): ROC-AUC for the
classification sets, RMSE for FreeSolv/ESOL/Lipophilicity, MAE for QM7/QM8/QM9; scaffold split
everywhere except QM9 (random). File names and URLs are those of the DeepChem distribution.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

from molssl.data.errors import UnknownDatasetError

TaskType = Literal["classification", "regression"]
MetricName = Literal["roc_auc", "prc_auc", "rmse", "mae"]
SplitName = Literal["scaffold", "random", "random_scaffold"]

TASK_TYPES: tuple[str, ...] = ("classification", "regression")
METRICS: tuple[str, ...] = ("roc_auc", "prc_auc", "rmse", "mae")
SPLITS: tuple[str, ...] = ("scaffold", "random", "random_scaffold")

DEEPCHEM_BASE_URL = "https://deepchemdata.s3-us-west-1.amazonaws.com/datasets/"
HARTREE_TO_EV = 27.211386246
"""Factor MolCLR applies to the QM9 energies stored in Hartree (homo, lumo, gap, zpve)."""


@dataclass(frozen=True)
class DatasetSpec:
    """Everything needed to find, read and evaluate one benchmark dataset.

    Attributes:
        name: Display name, e.g. ``"BBBP"``; lookup is case-insensitive.
        files: Canonical file names in order of preference (``.csv`` or ``.csv.gz``). The
            ``.gz``/plain variant of each name is accepted as well. A download is saved as
            ``files[0]``.
        url: Canonical download URL (DeepChem S3 bucket).
        smiles_column: Header of the SMILES column.
        targets: Header names of the target columns, in output order. An empty tuple means
            "every column except ``smiles_column``", resolved from the header at load time
            (used for ToxCast, whose 617 assay names are impractical to list here).
        task_type: ``"classification"`` or ``"regression"``.
        metric: ``"roc_auc"``, ``"prc_auc"``, ``"rmse"`` or ``"mae"``: the metric that selects
            the best validation epoch and that tables compare.
        extra_metrics: Further test metrics reported beside ``metric`` (HIV and MUV: PRC-AUC,
            which MoleculeNet recommends for heavily imbalanced sets).
        default_split: ``"scaffold"``, ``"random"`` or ``"random_scaffold"``.
        description: One line for tables and the CLI.
        sha256: SHA-256 of the file at ``url``; ``None`` where unknown. Only downloads are
            checked; files found on disk are trusted.
        target_scale: Per-target multiplicative unit conversion applied at load time (QM9:
            Hartree to eV for homo, lumo, gap and zpve, as MolCLR does).
        aliases: Extra lower-case names accepted by :func:`get_dataset_spec`.
        expected_num_targets: Number of targets when ``targets`` is empty (ToxCast: 617).

    Raises:
        ValueError: On an unknown task type, metric or split, or an empty ``files``.
    """

    name: str
    files: tuple[str, ...]
    url: str
    smiles_column: str
    targets: tuple[str, ...]
    task_type: TaskType
    metric: MetricName
    default_split: SplitName
    description: str = ""
    sha256: str | None = None
    target_scale: Mapping[str, float] = field(default_factory=dict, hash=False)
    aliases: tuple[str, ...] = ()
    expected_num_targets: int | None = None
    extra_metrics: tuple[MetricName, ...] = ()

    def __post_init__(self) -> None:
        for attr, allowed in (
            ("task_type", TASK_TYPES),
            ("metric", METRICS),
            ("default_split", SPLITS),
        ):
            if getattr(self, attr) not in allowed:
                raise ValueError(
                    f"DatasetSpec {self.name!r}: {attr}={getattr(self, attr)!r} is not one of "
                    f"{allowed}"
                )
        unknown = [m for m in self.extra_metrics if m not in METRICS]
        if unknown:
            raise ValueError(f"DatasetSpec {self.name!r}: extra_metrics {unknown} not in {METRICS}")
        if not self.files:
            raise ValueError(f"DatasetSpec {self.name!r}: files must name at least one file")
        object.__setattr__(self, "target_scale", MappingProxyType(dict(self.target_scale)))

    @property
    def key(self) -> str:
        """Registry key: the lower-case name."""
        return self.name.lower()

    @property
    def num_targets(self) -> int | None:
        """Number of targets (``None`` when only the file header can tell)."""
        return len(self.targets) if self.targets else self.expected_num_targets


def _dc(file: str) -> str:
    return DEEPCHEM_BASE_URL + file


TOX21_TARGETS = (
    "NR-AR",
    "NR-AR-LBD",
    "NR-AhR",
    "NR-Aromatase",
    "NR-ER",
    "NR-ER-LBD",
    "NR-PPAR-gamma",
    "SR-ARE",
    "SR-ATAD5",
    "SR-HSE",
    "SR-MMP",
    "SR-p53",
)
SIDER_TARGETS = (
    "Hepatobiliary disorders",
    "Metabolism and nutrition disorders",
    "Product issues",
    "Eye disorders",
    "Investigations",
    "Musculoskeletal and connective tissue disorders",
    "Gastrointestinal disorders",
    "Social circumstances",
    "Immune system disorders",
    "Reproductive system and breast disorders",
    "Neoplasms benign, malignant and unspecified (incl cysts and polyps)",
    "General disorders and administration site conditions",
    "Endocrine disorders",
    "Surgical and medical procedures",
    "Vascular disorders",
    "Blood and lymphatic system disorders",
    "Skin and subcutaneous tissue disorders",
    "Congenital, familial and genetic disorders",
    "Infections and infestations",
    "Respiratory, thoracic and mediastinal disorders",
    "Psychiatric disorders",
    "Renal and urinary disorders",
    "Pregnancy, puerperium and perinatal conditions",
    "Ear and labyrinth disorders",
    "Cardiac disorders",
    "Nervous system disorders",
    "Injury, poisoning and procedural complications",
)
MUV_TARGETS = tuple(
    f"MUV-{i}"
    for i in (466, 548, 600, 644, 652, 689, 692, 712, 713, 733, 737, 810, 832, 846, 852, 858, 859)
)
# The PBE0 block appears twice in qm8.csv (pandas names the repeat "E1-PBE0.1", ...). Both
# blocks hold identical values; MolCLR's list names each PBE0 column once.
QM8_TARGETS = tuple(
    f"{quantity}-{method}"
    for method in ("CC2", "PBE0", "CAM")
    for quantity in ("E1", "E2", "f1", "f2")
)
QM9_TARGETS = ("mu", "alpha", "homo", "lumo", "gap", "r2", "zpve", "cv")

_SPECS: tuple[DatasetSpec, ...] = (
    DatasetSpec(
        "BBBP",
        ("BBBP.csv",),
        _dc("BBBP.csv"),
        "smiles",
        ("p_np",),
        "classification",
        "roc_auc",
        "scaffold",
        "Blood-brain barrier penetration (binary)",
        sha256="d07a38487aeac5cee5508413e468043ef3097451d2a112701c2d60be9ec6b662",
    ),
    DatasetSpec(
        "Tox21",
        ("tox21.csv.gz", "tox21.csv"),
        _dc("tox21.csv.gz"),
        "smiles",
        TOX21_TARGETS,
        "classification",
        "roc_auc",
        "scaffold",
        "Toxicity on 12 nuclear-receptor and stress-response assays",
    ),
    DatasetSpec(
        "ToxCast",
        ("toxcast_data.csv.gz", "toxcast_data.csv"),
        _dc("toxcast_data.csv.gz"),
        "smiles",
        (),
        "classification",
        "roc_auc",
        "scaffold",
        "Toxicity on 617 in-vitro ToxCast assays (targets read from header)",
        expected_num_targets=617,
    ),
    DatasetSpec(
        "SIDER",
        ("sider.csv.gz", "sider.csv"),
        _dc("sider.csv.gz"),
        "smiles",
        SIDER_TARGETS,
        "classification",
        "roc_auc",
        "scaffold",
        "Adverse drug reactions grouped in 27 organ classes",
    ),
    DatasetSpec(
        "ClinTox",
        ("clintox.csv.gz", "clintox.csv"),
        _dc("clintox.csv.gz"),
        "smiles",
        ("FDA_APPROVED", "CT_TOX"),
        "classification",
        "roc_auc",
        "scaffold",
        "FDA approval and clinical-trial toxicity",
    ),
    DatasetSpec(
        "MUV",
        ("muv.csv.gz", "muv.csv"),
        _dc("muv.csv.gz"),
        "smiles",
        MUV_TARGETS,
        "classification",
        "roc_auc",
        "scaffold",
        "Maximum Unbiased Validation: 17 virtual-screening targets",
        extra_metrics=("prc_auc",),
    ),
    DatasetSpec(
        "HIV",
        ("HIV.csv",),
        _dc("HIV.csv"),
        "smiles",
        ("HIV_active",),
        "classification",
        "roc_auc",
        "scaffold",
        "Inhibition of HIV replication",
        sha256="9ffa7fe57dc86c342627ee1d5255e937e2ab812393c73c4d16c697022f6e1d22",
        extra_metrics=("prc_auc",),
    ),
    DatasetSpec(
        "BACE",
        ("bace.csv",),
        _dc("bace.csv"),
        "mol",
        ("Class",),
        "classification",
        "roc_auc",
        "scaffold",
        "Inhibition of human beta-secretase 1",
        sha256="f3fb9ce90bada3e2bd6148b0df13f8f8145a357bf87df0dd5b391ede974fc737",
    ),
    DatasetSpec(
        "FreeSolv",
        ("SAMPL.csv",),
        _dc("SAMPL.csv"),
        "smiles",
        ("expt",),
        "regression",
        "rmse",
        "scaffold",
        "Hydration free energy in water (kcal/mol)",
        sha256="ab5895d914ee87cb563bd7b9611e869527bba45bec6b014d34dc495a0f9dcb72",
        aliases=("sampl",),
    ),
    DatasetSpec(
        "ESOL",
        ("delaney-processed.csv",),
        _dc("delaney-processed.csv"),
        "smiles",
        ("measured log solubility in mols per litre",),
        "regression",
        "rmse",
        "scaffold",
        "Aqueous solubility (log mol/L)",
        sha256="8c06a76f0c6487d29ab0f903e6a7a7139f189ab3c1178f159c8be8964602f189",
        aliases=("delaney",),
    ),
    DatasetSpec(
        "Lipophilicity",
        ("Lipophilicity.csv",),
        _dc("Lipophilicity.csv"),
        "smiles",
        ("exp",),
        "regression",
        "rmse",
        "scaffold",
        "Octanol/water distribution coefficient (logD at pH 7.4)",
        sha256="aed41590cb30609d51d8e08ad3ff06495a76e80e211358801f596b10da69bacd",
        aliases=("lipo",),
    ),
    DatasetSpec(
        "QM7",
        ("qm7.csv",),
        _dc("qm7.csv"),
        "smiles",
        ("u0_atom",),
        "regression",
        "mae",
        "scaffold",
        "Atomization energy (kcal/mol), GDB-13 subset",
    ),
    DatasetSpec(
        "QM8",
        ("qm8.csv",),
        _dc("qm8.csv"),
        "smiles",
        QM8_TARGETS,
        "regression",
        "mae",
        "scaffold",
        "Electronic spectra: excitation energies and oscillator strengths",
    ),
    DatasetSpec(
        "QM9",
        ("qm9.csv", "qm9.csv.gz"),
        _dc("qm9.csv"),
        "smiles",
        QM9_TARGETS,
        "regression",
        "mae",
        "random",
        "Quantum-chemical properties of small organic molecules (GDB-9)",
        target_scale={t: HARTREE_TO_EV for t in ("homo", "lumo", "gap", "zpve")},
    ),
)

DATASETS: Mapping[str, DatasetSpec] = MappingProxyType({spec.key: spec for spec in _SPECS})
"""All 14 MoleculeNet specs keyed by lower-case name, in MoleculeNet's usual order."""

_ALIASES: Mapping[str, str] = MappingProxyType(
    {alias: spec.key for spec in _SPECS for alias in (spec.key, *spec.aliases)}
)


def dataset_names() -> list[str]:
    """Registered display names, e.g. ``["BBBP", "Tox21", ...]``."""
    return [spec.name for spec in DATASETS.values()]


def get_dataset_spec(name: str | DatasetSpec) -> DatasetSpec:
    """Look a dataset up by name or alias, case-insensitively.

    Args:
        name: A registered name (``"bbbp"``, ``"Tox21"``), an alias (``"sampl"``, ``"delaney"``,
            ``"lipo"``) or a :class:`DatasetSpec`, which is returned unchanged.

    Returns:
        The registered spec.

    Raises:
        UnknownDatasetError: When the name is not registered; the message lists valid names.
    """
    if isinstance(name, DatasetSpec):
        return name
    key = _ALIASES.get(str(name).strip().lower())
    if key is None:
        from molssl.contrastive.config import did_you_mean

        aliases = sorted(a for a, k in _ALIASES.items() if a != k)
        hint = did_you_mean(str(name).strip().lower(), _ALIASES)
        raise UnknownDatasetError(
            f"Unknown dataset {name!r}{hint}. Valid names (case-insensitive): "
            f"{', '.join(dataset_names())}; aliases: {', '.join(aliases)}."
        )
    return DATASETS[key]
