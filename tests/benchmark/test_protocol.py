"""protocol.json: written with every results folder, compared by `molssl benchmark --compare`."""

from __future__ import annotations

import hashlib
import json
import shutil

import pandas as pd
import pytest

from molssl.benchmark.compare import compare_folders
from molssl.benchmark.protocol import ProtocolMismatchError, read_protocol, split_sha256
from molssl.benchmark.runner import BenchmarkConfig, benchmark
from molssl.finetune import clear_task_cache


def _run(tmp_path, data_dir, name, **kwargs):
    options = {
        "tasks": ["bbbp"],
        "methods": ["ecfp-rf"],
        "seeds": [0, 1],
        "out_dir": str(tmp_path / name),
        "data_dir": str(data_dir),
        "device": "cpu",
        "rf_estimators": 5,
        "progress": False,
        **kwargs,
    }
    clear_task_cache()
    return benchmark(BenchmarkConfig(**options))


def test_protocol_json_records_file_split_metric_and_versions(tmp_path, tiny_data_dir):
    from molssl.featurize import MolGraphFeaturizer
    from molssl.finetune import TaskSource, prepare_task, task_split

    result = _run(tmp_path, tiny_data_dir, "a")
    record = read_protocol(result.out_dir)
    task = record["tasks"]["BBBP"]
    digest = hashlib.sha256((tiny_data_dir / "BBBP.csv").read_bytes()).hexdigest()
    assert task["file"] == "BBBP.csv" and task["file_sha256"] == digest
    data = prepare_task(TaskSource("bbbp", data_dir=str(tiny_data_dir)), MolGraphFeaturizer(), 4000)
    expected = split_sha256(data.rows, task_split(data))
    assert task["split_sha256"] == {"0": expected, "1": expected}
    assert (task["split"], task["metric"], task["epochs"]) == ("scaffold", "roc_auc", 15)
    assert task["split_sizes"] == [0.8, 0.1, 0.1] and task["molecules"] == 160
    assert "single class" in record["single_class_targets"]
    assert record["search_budget"] == 0 and record["profile"] == "quick"
    assert "selection" in record["methods"]["ecfp-rf"]
    assert {"torch", "rdkit", "sklearn"} <= set(record["runs"][0]["packages"])
    # resuming with another seed extends the record instead of refusing it
    _run(tmp_path, tiny_data_dir, "a", seeds=[0, 1, 2])
    assert set(read_protocol(result.out_dir)["tasks"]["BBBP"]["split_sha256"]) == {"0", "1", "2"}
    assert len(read_protocol(result.out_dir)["runs"]) == 2


def test_compare_joins_folders_that_differ_only_in_methods(tmp_path, tiny_data_dir, capsys):
    from molssl.cli import main

    _run(tmp_path, tiny_data_dir, "a", methods=["ecfp-rf"])
    _run(tmp_path, tiny_data_dir, "b", methods=["ecfp-mlp"])
    joint = compare_folders(tmp_path / "a", tmp_path / "b", out_dir=tmp_path / "joint")
    assert "ecfp-rf" in joint.markdown and "ecfp-mlp" in joint.markdown
    assert len(joint.ledger) == 4 and (tmp_path / "joint" / "protocol.json").is_file()
    assert main(["benchmark", "--compare", str(tmp_path / "a"), str(tmp_path / "b")]) == 0
    assert "| BBBP |" in capsys.readouterr().out
    # the same method label in both folders stays apart
    joint = compare_folders(tmp_path / "a", tmp_path / "a")
    assert set(joint.ledger["method"]) == {"ecfp-rf (A)", "ecfp-rf (B)"}


def test_compare_refuses_a_changed_dataset_file(tmp_path, tiny_data_dir, capsys):
    from molssl.cli import main

    _run(tmp_path, tiny_data_dir, "a")
    other = tmp_path / "other_data"
    shutil.copytree(tiny_data_dir, other)
    frame = pd.read_csv(other / "BBBP.csv")
    frame.loc[0, "p_np"] = 1 - frame.loc[0, "p_np"]
    frame.to_csv(other / "BBBP.csv", index=False)
    _run(tmp_path, other, "b")
    with pytest.raises(ProtocolMismatchError, match=r"tasks\.BBBP\.file_sha256"):
        compare_folders(tmp_path / "a", tmp_path / "b")
    assert main(["benchmark", "--compare", str(tmp_path / "a"), str(tmp_path / "b")]) == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert "file_sha256" in last


def test_compare_refuses_a_changed_split(tmp_path, tiny_data_dir):
    _run(tmp_path, tiny_data_dir, "a")
    _run(tmp_path, tiny_data_dir, "b", finetune={"split_sizes": (0.7, 0.15, 0.15)})
    with pytest.raises(ProtocolMismatchError, match=r"tasks\.BBBP\.split"):
        compare_folders(tmp_path / "a", tmp_path / "b")
    _run(tmp_path, tiny_data_dir, "c", finetune={"split": "random"})
    with pytest.raises(ProtocolMismatchError, match=r"tasks\.BBBP\.split"):
        compare_folders(tmp_path / "a", tmp_path / "c")


def test_resume_into_a_folder_of_another_protocol_is_refused(tmp_path, tiny_data_dir):
    _run(tmp_path, tiny_data_dir, "a")
    before = (tmp_path / "a" / "results.csv").read_text()
    with pytest.raises(ProtocolMismatchError, match="use a new --out"):
        _run(tmp_path, tiny_data_dir, "a", finetune={"split": "random"})
    assert (tmp_path / "a" / "results.csv").read_text() == before  # nothing lost


def test_compare_names_a_folder_without_protocol(tmp_path, tiny_data_dir):
    _run(tmp_path, tiny_data_dir, "a")
    (tmp_path / "b").mkdir()
    with pytest.raises(FileNotFoundError, match="protocol.json"):
        compare_folders(tmp_path / "a", tmp_path / "b")
    with pytest.raises(FileNotFoundError, match="no such folder"):  # a typo in the path
        compare_folders(tmp_path / "a", tmp_path / "c")
    assert json.loads((tmp_path / "a" / "protocol.json").read_text())["format_version"] == 1


def test_a_setting_added_later_at_its_default_does_not_refuse_old_folders(tmp_path, tiny_data_dir):
    _run(tmp_path, tiny_data_dir, "a")
    path = tmp_path / "a" / "protocol.json"
    record = json.loads(path.read_text())
    assert record["finetune"]["head_layers"] == 2
    del record["finetune"]["head_layers"]  # as if written before the field existed
    record.pop("search_seed", None)
    path.write_text(json.dumps(record))
    assert _run(tmp_path, tiny_data_dir, "a", seeds=[0, 1, 2]).ran == 1  # resumes
    record["finetune"]["head_layers"] = 3  # a real difference still counts
    path.write_text(json.dumps(record))
    with pytest.raises(ProtocolMismatchError, match="finetune.head_layers"):
        _run(tmp_path, tiny_data_dir, "a")


def test_protocol_names_checkpoints_without_this_machines_paths(tmp_path, monkeypatch) -> None:
    from molssl.benchmark.methods import Method
    from molssl.benchmark.runner import portable_spec

    root = tmp_path / "shared" / "data"
    (root / "moleculenet").mkdir(parents=True)
    (root / "checkpoints").mkdir()
    ckpt = root / "checkpoints" / "molclr_gcn.pth"
    ckpt.write_bytes(b"x")
    data_dir = str(root / "moleculenet")
    spec = portable_spec(Method("m", "molclr-gcn", str(ckpt)), data_dir)
    assert spec == "molclr-gcn:checkpoints/molclr_gcn.pth"
    work = tmp_path / "work"
    (work / "runs").mkdir(parents=True)
    monkeypatch.chdir(work)
    mine = work / "runs" / "best.pt"
    assert portable_spec(Method("ours", "ckpt", str(mine)), data_dir) == "ckpt:runs/best.pt"
    elsewhere = tmp_path / "elsewhere.pt"
    assert portable_spec(Method("x", "ckpt", str(elsewhere)), data_dir) == f"ckpt:{elsewhere}"
    assert portable_spec(Method("ecfp-rf", "ecfp-rf", None), data_dir) == "ecfp-rf"
    assert portable_spec(Method("r", "ckpt", "runs/best.pt"), None) == "ckpt:runs/best.pt"
