"""Featurizer registry and configs: by name, from checkpoints, errors that list the fix."""

from __future__ import annotations

import json

import pytest

from molssl.featurize import (
    FEATURIZERS,
    SCHEME_VERSION,
    MolGraphFeaturizer,
    RichGraphFeaturizer,
    UnknownFeaturizerError,
    featurizer_from_dict,
    get_featurizer,
)


def test_registry_contents() -> None:
    assert set(FEATURIZERS) == {"molclr", "rich"}
    assert FEATURIZERS["molclr"] is MolGraphFeaturizer
    assert FEATURIZERS["rich"] is RichGraphFeaturizer
    assert len(FEATURIZERS) == 2


def test_get_featurizer_with_options() -> None:
    f = get_featurizer("rich", hydrogens="explicit", fingerprint=True)
    assert isinstance(f, RichGraphFeaturizer)
    assert f.hydrogens.value == "explicit" and f.fingerprint and not f.fragments


def test_unknown_name_lists_valid_names() -> None:
    with pytest.raises(KeyError) as info:
        get_featurizer("gin")
    assert isinstance(info.value, UnknownFeaturizerError)
    assert "'gin'" in str(info.value) and "molclr, rich" in str(info.value)


def test_bad_hydrogen_policy() -> None:
    with pytest.raises(ValueError, match="hydrogen policy 'none'"):
        get_featurizer("molclr", hydrogens="none")


@pytest.mark.parametrize(
    "featurizer",
    [
        MolGraphFeaturizer(),
        MolGraphFeaturizer(hydrogens="explicit", fingerprint=True, fragments=True),
        RichGraphFeaturizer(fingerprint_bits=1024, max_smiles_length=500),
    ],
)
def test_config_round_trip_through_json(featurizer) -> None:
    config = json.loads(json.dumps(featurizer.to_dict()))
    assert config["name"] == featurizer.name
    assert config["scheme_version"] == SCHEME_VERSION
    assert config["hydrogens"] in ("implicit", "explicit")
    rebuilt = featurizer_from_dict(config)
    assert type(rebuilt) is type(featurizer)
    assert rebuilt == featurizer and rebuilt.config == featurizer.config
    assert hash(rebuilt) == hash(featurizer)


def test_config_errors() -> None:
    with pytest.raises(ValueError, match="no 'name'"):
        featurizer_from_dict({"hydrogens": "implicit"})
    with pytest.raises(ValueError, match="scheme version 0"):
        featurizer_from_dict({"name": "molclr", "scheme_version": 0})
    with pytest.raises(ValueError, match="does not fit MolGraphFeaturizer"):
        featurizer_from_dict({"name": "molclr", "colour": "blue"})
    with pytest.raises(KeyError, match="registered featurizers"):
        featurizer_from_dict({"name": "nope"})


def test_register_rejects_duplicates_and_nameless() -> None:
    class Nameless(MolGraphFeaturizer):
        name = ""

    class Clash(MolGraphFeaturizer):
        name = "molclr"

    with pytest.raises(ValueError, match="no `name`"):
        FEATURIZERS.register(Nameless)
    with pytest.raises(ValueError, match="already registered"):
        FEATURIZERS.register(Clash)
    assert FEATURIZERS.register(MolGraphFeaturizer) is MolGraphFeaturizer  # idempotent
