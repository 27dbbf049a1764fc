from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import pytest

from molssl.contrastive.config import (
    ConfigError,
    apply_overrides,
    from_dict,
    load_yaml,
    parse_set_arguments,
    save_yaml,
    to_dict,
)


@dataclass
class Inner:
    lr: float = 5e-4
    layers: int = 5
    pooling: Literal["mean", "sum"] = "mean"


@dataclass
class Outer:
    name: str = "run"
    inner: Inner = field(default_factory=Inner)
    seeds: tuple[int, ...] = (0, 1)
    max_steps: int | None = None
    amp: bool = False


def test_round_trip_through_yaml(tmp_path):
    cfg = Outer(name="x", inner=Inner(lr=1e-5, layers=3), seeds=(4,), max_steps=7, amp=True)
    save_yaml(cfg, tmp_path / "c.yaml")
    assert load_yaml(Outer, tmp_path / "c.yaml") == cfg


def test_yaml_scientific_notation_string_is_a_float(tmp_path):
    (tmp_path / "c.yaml").write_text("inner:\n  lr: 1e-5\n")
    cfg = load_yaml(Outer, tmp_path / "c.yaml")
    assert cfg.inner.lr == pytest.approx(1e-5)
    assert isinstance(cfg.inner.lr, float)


def test_unknown_key_is_an_error_naming_it(tmp_path):
    (tmp_path / "c.yaml").write_text("inner:\n  lrr: 0.1\n")
    with pytest.raises(ConfigError, match="lrr"):
        load_yaml(Outer, tmp_path / "c.yaml")


@pytest.mark.parametrize(
    "data",
    [
        {"inner": {"layers": "five"}},
        {"inner": {"layers": 2.5}},
        {"inner": {"pooling": "median"}},
        {"amp": "perhaps"},
        {"seeds": "0,1"},
        {"name": 3},
    ],
)
def test_wrong_types_are_errors(data):
    with pytest.raises(ConfigError):
        from_dict(Outer, data)


def test_overrides_are_type_checked():
    cfg = apply_overrides(Outer(), {"inner.lr": "1e-4", "max_steps": "3", "amp": "true"})
    assert cfg.inner.lr == pytest.approx(1e-4)
    assert cfg.max_steps == 3 and cfg.amp is True
    with pytest.raises(ConfigError, match="unknown key"):
        apply_overrides(Outer(), {"inner.nope": "1"})
    with pytest.raises(ConfigError):
        apply_overrides(Outer(), {"inner.layers": "many"})


def test_parse_set_arguments():
    assert parse_set_arguments(["a.b=1", "c= x"]) == {"a.b": "1", "c": " x"}
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        parse_set_arguments(["oops"])


def test_to_dict_is_plain():
    assert to_dict(Outer()) == {
        "name": "run",
        "inner": {"lr": 5e-4, "layers": 5, "pooling": "mean"},
        "seeds": [0, 1],
        "max_steps": None,
        "amp": False,
    }


def test_set_reaches_into_free_form_mapping_fields() -> None:
    """``--set encoder.num_layers=2``: keys below a ``dict[str, Any]`` field go to its consumer."""
    from molssl.finetune.config import FinetuneConfig

    cfg = apply_overrides(FinetuneConfig(task="bbbp"), {"encoder.num_layers": "2"})
    assert cfg.encoder == {"num_layers": 2}
    with pytest.raises(ConfigError, match="did you mean 'num_layers'"):
        apply_overrides(FinetuneConfig(task="bbbp"), {"encoder.num_layerz": "2"})
    with pytest.raises(ConfigError, match="unknown key 'encoder_lrr'"):
        apply_overrides(FinetuneConfig(task="bbbp"), {"encoder_lrr": "1e-4"})
