"""Typed configuration: dataclasses are the schema, YAML is only their serialisation.

Loading is strict: unknown keys and values of the wrong type are errors that name the key and
the file, and YAML 1.1's quirk of reading ``1e-5`` as a string is handled (a string that parses
as a number is accepted for a float field). Any field can be overridden from the command line
with ``--set section.field=value``.

A config class may hold open sections, named at run time (e.g. one per registered objective):
it names a ``dict`` field in ``__open_sections__`` and returns ``{section: dataclass}`` from a
classmethod ``open_section_types()``. Those sections read and write as if they were fields
(``objective.moco.queue_size``); :func:`from_dict` builds each from its dataclass into that
field, and :func:`to_dict` writes them beside the class's fields.
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar, Union, get_args, get_origin, get_type_hints

import yaml

T = TypeVar("T")


class ConfigError(ValueError):
    """A configuration value or key is invalid."""


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """``" (did you mean 'x'?)"`` for the closest of ``choices`` to ``name``, else ``""``.

    Used by every "unknown name" message (``--task``, ``--method``, ``--set`` keys, registries).
    """
    close = difflib.get_close_matches(str(name), [str(c) for c in choices], n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _coerce(value: Any, tp: Any, where: str) -> Any:
    origin = get_origin(tp)
    if tp is Any:
        return value
    if origin in (Union, types.UnionType):
        args = get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(value, arg, where)
            except ConfigError as err:
                errors.append(str(err))
        raise ConfigError(f"{where}: {value!r} does not match {tp}")
    if origin is typing.Literal:
        if value not in get_args(tp):
            raise ConfigError(f"{where}: {value!r} is not one of {list(get_args(tp))}")
        return value
    if dataclasses.is_dataclass(tp):
        if isinstance(value, tp):
            return value
        if not isinstance(value, Mapping):
            raise ConfigError(f"{where}: expected a mapping for {tp.__name__}, got {value!r}")
        return from_dict(tp, value, where=where)
    if origin in (tuple, list, Sequence):
        if isinstance(value, str) or not isinstance(value, Sequence):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        args = get_args(tp)
        if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
            items = [_coerce(v, args[0], f"{where}[{i}]") for i, v in enumerate(value)]
        elif origin is tuple and args:
            if len(args) != len(value):
                raise ConfigError(f"{where}: expected {len(args)} items, got {len(value)}")
            items = [
                _coerce(v, a, f"{where}[{i}]")
                for i, (v, a) in enumerate(zip(value, args, strict=True))
            ]
        else:
            inner = args[0] if args else Any
            items = [_coerce(v, inner, f"{where}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else list(items)
    if origin is dict or tp is dict:
        if not isinstance(value, Mapping):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        return dict(value)
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false", "yes", "no", "1", "0"):
            return value.lower() in ("true", "yes", "1")
        raise ConfigError(f"{where}: expected true/false, got {value!r}")
    if tp is int:
        if isinstance(value, bool):
            raise ConfigError(f"{where}: expected an integer, got {value!r}")
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str):
            try:
                return int(value)
            except ValueError:
                pass
        raise ConfigError(f"{where}: expected an integer, got {value!r}")
    if tp is float:
        if isinstance(value, bool):
            raise ConfigError(f"{where}: expected a number, got {value!r}")
        if isinstance(value, int | float):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
        raise ConfigError(f"{where}: expected a number, got {value!r}")
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where}: expected a string, got {value!r}")
        return value
    if isinstance(value, tp):
        return value
    raise ConfigError(f"{where}: expected {tp}, got {value!r}")


def from_dict(cls: type[T], data: Mapping[str, Any], *, where: str = "") -> T:
    """Build dataclass ``cls`` from a mapping, strictly.

    Raises:
        ConfigError: an unknown key, a missing required field or a value of the wrong type.
    """
    hints = get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    data, sections = _pack_open_sections(cls, data, fields, where)
    unknown = sorted(set(data) - set(fields))
    if unknown:
        valid = sorted([*fields, *sections])
        raise ConfigError(
            f"{where or cls.__name__}: unknown key(s) {unknown}"
            f"{did_you_mean(unknown[0], valid)}; valid keys are {valid}"
        )
    kwargs = {
        name: _coerce(data[name], hints[name], f"{where + '.' if where else ''}{name}")
        for name in fields
        if name in data
    }
    try:
        return cls(**kwargs)
    except ConfigError:
        raise
    except (TypeError, ValueError) as err:  # range checks of __post_init__
        raise ConfigError(f"{where or cls.__name__}: {err}") from err


def _pack_open_sections(
    cls: type, data: Mapping[str, Any], fields: Mapping[str, Any], where: str
) -> tuple[Mapping[str, Any], Mapping[str, type]]:
    """Move the open sections of ``data`` into ``cls.__open_sections__``, built from their
    dataclasses; returns ``(data, {section: dataclass})``."""
    holder = getattr(cls, "__open_sections__", None)
    if holder is None:
        return data, {}
    types_ = {k: v for k, v in cls.open_section_types().items() if k not in fields}
    rest = {k: v for k, v in data.items() if k not in types_}
    given = dict(rest.pop(holder, None) or {})
    given.update({k: v for k, v in data.items() if k in types_})
    packed = {}
    for key, value in given.items():
        name = f"{where + '.' if where else ''}{key}"
        if key not in types_:
            raise ConfigError(
                f"{name}: no such section{did_you_mean(key, types_)}; sections are {sorted(types_)}"
            )
        packed[key] = _coerce(value, types_[key], name)
    return {**rest, holder: packed}, types_


def to_dict(cfg: Any) -> Any:
    """A dataclass config as plain YAML/JSON-serialisable data (open sections as fields)."""
    if dataclasses.is_dataclass(cfg):
        holder = getattr(cfg, "__open_sections__", None)
        out = {
            f.name: to_dict(getattr(cfg, f.name))
            for f in dataclasses.fields(cfg)
            if f.name != holder
        }
        if holder is not None:
            out.update(to_dict(getattr(cfg, holder)))
        return out
    if isinstance(cfg, tuple | list):
        return [to_dict(v) for v in cfg]
    if isinstance(cfg, Mapping):
        return {k: to_dict(v) for k, v in cfg.items()}
    if isinstance(cfg, Path):
        return str(cfg)
    return cfg


def load_yaml(cls: type[T], path: str | Path) -> T:
    """Load a YAML file into dataclass ``cls`` (strict; errors name the file)."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"config file {path} does not exist")
    if path.is_dir():
        presets = sorted(p.name for p in path.glob("*.y*ml"))[:5]
        raise ConfigError(
            f"--config {path} is a folder; give a YAML file"
            + (f" such as {path / presets[0]} (it holds {', '.join(presets)})" if presets else "")
        )
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as err:
        raise ConfigError(f"{path} is not valid YAML ({_one_line(err)}); fix the file") from err
    except UnicodeDecodeError as err:
        raise ConfigError(f"{path} is not UTF-8 text; give a YAML config file") from err
    if not isinstance(data, Mapping):
        raise ConfigError(f"{path}: the top level must be a mapping, got {type(data).__name__}")
    try:
        return from_dict(cls, data)
    except ConfigError as err:
        raise ConfigError(f"{path}: {err}") from err


def save_yaml(cfg: Any, path: str | Path) -> None:
    """Write a config as YAML."""
    from molssl.contrastive.io.atomic import write_text_atomic

    write_text_atomic(path, yaml.safe_dump(to_dict(cfg), sort_keys=False))


def apply_overrides(cfg: T, overrides: Mapping[str, Any]) -> T:
    """Return a copy of ``cfg`` with dotted keys (``trainer.lr``) replaced, type-checked.

    Values given as strings are parsed as YAML scalars first (``1e-4``, ``true``, ``[1, 2]``).
    """
    data = to_dict(cfg)
    for dotted, value in overrides.items():
        if isinstance(value, str) and value.strip():
            try:
                value = yaml.safe_load(value)
            except yaml.YAMLError as err:
                raise ConfigError(
                    f"--set {dotted}={value}: the value is not valid YAML ({_one_line(err)}); "
                    "quote it, e.g. --set 'key=\"text\"'"
                ) from err
        node = data
        parts = dotted.split(".")
        free = _free_mapping_depth(type(cfg), parts)
        for depth, part in enumerate(parts):
            if free is not None and depth > free and isinstance(node, dict):
                # below a free-form mapping field (e.g. ``encoder``): its consumer checks keys
                if depth < len(parts) - 1:
                    node = node.setdefault(part, {})
                continue
            if not isinstance(node, dict) or part not in node:
                known = _dotted_keys(data) if isinstance(node, dict) else []
                what = "section" if depth < len(parts) - 1 else "key"
                raise ConfigError(
                    f"--set {dotted}: unknown {what} {part!r}{did_you_mean(dotted, known)}"
                )
            if depth < len(parts) - 1:
                node = node[part]
        node[parts[-1]] = value
    return from_dict(type(cfg), data)


def _free_mapping_depth(cls: type, parts: Sequence[str]) -> int | None:
    """The depth of the first field on ``parts`` typed as a free-form mapping (``dict[str, Any]``).

    Keys below such a field (``--set encoder.num_layers=2``) are not known to the config class;
    the component that receives the mapping validates them.
    """
    owner: Any = cls
    for depth, part in enumerate(parts[:-1]):
        if not dataclasses.is_dataclass(owner):
            return None
        hint = get_type_hints(owner).get(part)
        if hint is None:
            return None
        candidates = [a for a in get_args(hint) if a is not type(None)] or [hint]
        if get_origin(hint) in (Union, types.UnionType) and len(candidates) == 1:
            hint = candidates[0]
        if get_origin(hint) in (dict, Mapping) or hint in (dict, Mapping):
            return depth
        owner = hint
    return None


def _dotted_keys(data: Mapping[str, Any], prefix: str = "") -> list[str]:
    keys = []
    for key, value in data.items():
        keys.append(prefix + key)
        if isinstance(value, Mapping):
            keys += _dotted_keys(value, f"{prefix}{key}.")
    return keys


def _one_line(err: Exception) -> str:
    return " ".join(str(err).split())


def parse_set_arguments(items: Sequence[str] | None) -> dict[str, str]:
    """Parse ``--set key=value`` items into a mapping for :func:`apply_overrides`."""
    out = {}
    for item in items or ():
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"--set {item!r}: expected KEY=VALUE, e.g. --set trainer.lr=1e-4")
        out[key.strip()] = value
    return out
