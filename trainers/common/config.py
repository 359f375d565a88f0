"""Typed configs from dataclasses: dotted ``key=value`` overrides (``generator.ngf=32``) converted
to the field's type, JSON/TOML files with the same nesting, choice checks. Unknown keys are refused
with the list of valid ones.
"""

from __future__ import annotations

import dataclasses
import json
import math
import tomllib
import typing
from pathlib import Path

from p2peval.core.errors import ConfigError, InputError

T = typing.TypeVar("T")


def _fields(obj) -> dict[str, tuple[object, dataclasses.Field]]:
    hints = typing.get_type_hints(type(obj))
    return {f.name: (hints[f.name], f) for f in dataclasses.fields(obj)}


def _convert(key: str, value, hint):
    """Convert ``value`` (a string from the command line, or a JSON/TOML value) to ``hint``."""
    args = typing.get_args(hint)
    optional = type(None) in args
    base = next((a for a in args if a is not type(None)), hint) if args else hint
    if value is None or (optional and isinstance(value, str) and value.lower() in ("none", "null")):
        if optional:
            return None
        raise ConfigError(f"{key}: may not be null")
    try:
        if base is bool:
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.lower() in ("true", "1", "yes", "on"):
                return True
            if isinstance(value, str) and value.lower() in ("false", "0", "no", "off"):
                return False
            raise ValueError
        if base is int:
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError
            return int(value) if not isinstance(value, str) else int(value, 10)
        if base is float:
            if isinstance(value, bool):
                raise ValueError
            out = float(value)
            if not math.isfinite(out):
                raise ValueError
            return out
        if base is str:
            if not isinstance(value, str):
                raise ValueError
            return value
    except ValueError:
        raise ConfigError(f"{key}: expected {getattr(base, '__name__', base)}, got {value!r}") from None
    raise ConfigError(f"{key}: unsupported field type {hint}")


def _set(obj, dotted: str, value, prefix: str = "") -> None:
    head, _, rest = dotted.partition(".")
    fields = _fields(obj)
    if head not in fields:
        valid = ", ".join(prefix + n for n in fields)
        raise ConfigError(f"unknown config key {prefix + head!r}; valid keys: {valid}")
    hint, _ = fields[head]
    current = getattr(obj, head)
    if dataclasses.is_dataclass(current):
        if not rest:
            raise ConfigError(f"{prefix + head}: is a section; set one of its keys, "
                              f"e.g. {prefix + head}.{next(iter(_fields(current)))}=...")
        _set(current, rest, value, prefix + head + ".")
        return
    if rest:
        raise ConfigError(f"unknown config key {prefix + dotted!r}; {prefix + head} has no sub-keys")
    setattr(obj, head, _convert(prefix + head, value, hint))


def _merge_dict(obj, d: dict, prefix: str = "") -> None:
    if not isinstance(d, dict):
        raise ConfigError(f"{prefix.rstrip('.') or 'config'}: expected a table/object")
    for k, v in d.items():
        if isinstance(v, dict):
            if k not in _fields(obj) or not dataclasses.is_dataclass(getattr(obj, k)):
                _set(obj, k, v, prefix)  # raises: unknown key or not a section
            _merge_dict(getattr(obj, k), v, prefix + k + ".")
        else:
            _set(obj, k, v, prefix)


def apply_overrides(config: T, overrides: typing.Iterable[str]) -> T:
    """Apply ``key=value`` strings (dotted keys) in place, with type checking; returns config."""
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set {item!r}: expected key=value, e.g. generator.ngf=32")
        _set(config, key.strip(), value.strip())
    return config


def config_from_dict(cls: type[T], d: dict) -> T:
    """A ``cls`` config from a (possibly partial) nested dict; unknown keys are refused."""
    config = cls()
    _merge_dict(config, d)
    return config


def load_config(cls: type[T], path: str | Path) -> T:
    """Read a JSON or TOML config file (by suffix; ``.toml`` is TOML, anything else JSON)."""
    path = Path(path)
    if not path.is_file():
        raise InputError("no such config file", path)
    try:
        if path.suffix.lower() == ".toml":
            d = tomllib.loads(path.read_text())
        else:
            d = json.loads(path.read_text())
    except (tomllib.TOMLDecodeError, json.JSONDecodeError, UnicodeDecodeError) as e:
        raise InputError(f"not a valid config file ({str(e).splitlines()[0]})", path) from None
    try:
        return config_from_dict(cls, d)
    except ConfigError as e:
        raise InputError(str(e), path) from None


def check_choices(config, choices: dict[str, tuple[str, ...]]) -> None:
    """Refuse a value outside its key's choices (dotted keys), naming the valid ones."""
    for key, valid in choices.items():
        obj = config
        *parents, name = key.split(".")
        for p in parents:
            obj = getattr(obj, p)
        if getattr(obj, name) not in valid:
            raise ConfigError(f"{key}: {getattr(obj, name)!r} is not one of {', '.join(valid)}")


def check_positive(pairs: typing.Iterable[tuple[str, int]]) -> None:
    """Refuse any (key, value) whose value is < 1."""
    for key, v in pairs:
        if v < 1:
            raise ConfigError(f"{key}: must be >= 1, got {v}")


def flatten(d: dict, prefix: str = "") -> dict:
    """Nested dict -> {dotted key: value}."""
    out = {}
    for k, v in d.items():
        out.update(flatten(v, f"{prefix}{k}.") if isinstance(v, dict) else {prefix + k: v})
    return out


def save_config(config, path: str | Path) -> Path:
    from p2peval.core.atomic import write_json_atomic
    return write_json_atomic(path, dataclasses.asdict(config))
