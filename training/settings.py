"""One configuration style for every training command: a dataclass of settings, each
mapped 1:1 to a command-line flag and to a YAML key.

A field made with ``setting(default, help)`` becomes ``--field-name`` with that help line
(and its default); ``--config run.yaml`` sets many at once and explicit flags win. Fields
made otherwise (nested parts such as the cover splits) are fixed by the code and recorded
with the run, not set from outside. The genre side (training/genre/config.py) and the cover
side (training/cover/train_cover.py, training/cover/fit_fusion.py) both build on this.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import Field, field, fields, replace
from pathlib import Path
from typing import Any, TypeVar

import yaml

from genrescope.stream.checks import BOOLEAN, INTEGER, NUMBER, STRING, Kind, ShapeError, check_table, list_of

Settings = TypeVar("Settings")
SCALARS = {"int": int, "float": float, "str": str}
# What a YAML value of each setting type must be (checked, never coerced: see stream/checks.py).
YAML_KINDS = {
    "int": INTEGER,
    "float": NUMBER,
    "str": STRING,
    "bool": BOOLEAN,
    "tuple[int, ...]": list_of(INTEGER),
    "tuple[float, ...]": list_of(NUMBER),
    "tuple[str, ...]": list_of(STRING),
}


def setting(default: Any, help: str) -> Any:
    """A config field whose help text is its ``--help`` line."""
    return field(default=default, metadata={"help": help})


def settings_of(cls: type) -> list[Field]:
    """The fields of ``cls`` that are settings (made with ``setting``)."""
    return [f for f in fields(cls) if "help" in f.metadata]


def _type_name(f: Field) -> str:
    """A field's type as written ("int", "tuple[str, ...]"), with or without postponed annotations."""
    if isinstance(f.type, str) or "[" in str(f.type):
        return str(f.type)
    return f.type.__name__


def _yaml_kinds(cls: type) -> dict[str, Kind]:
    """What each setting of ``cls`` must be in a YAML file."""
    return {f.name: YAML_KINDS[_type_name(f)] for f in settings_of(cls)}


def _line_of(text: str, key: str) -> str:
    """' (line N)' where ``key`` is set at the top level of a YAML document."""
    for key_node, value_node in yaml.compose(text).value:
        if key_node.value == key:
            return f" (line {value_node.start_mark.line + 1})"
    return ""


def _element_type(f: Field) -> type | None:
    """``int``/``float`` for a ``tuple[int, ...]``/``tuple[float, ...]`` setting, else None."""
    kind = str(f.type)
    if kind.startswith("tuple["):
        return SCALARS[kind[len("tuple[") :].split(",")[0].strip()]
    return None


class ConfigError(ValueError):
    """A setting out of range, unknown, or a YAML file that does not parse: one line for the user."""


def check_ranges(settings: Any, ranges: dict[str, Any]) -> None:
    """Refuse a setting outside its range (``ranges``: name → stream/checks.py ``Number``)."""
    for name, check in ranges.items():
        value = getattr(settings, name)
        if not check.admits(value):
            raise ConfigError(f"setting {name} must be {check.describe()}, got {value!r}")


def add_setting_arguments(
    parser: argparse.ArgumentParser, cls: type, ranges: dict[str, Callable[[str], Any]] | None = None
) -> None:
    """One flag per setting, defaults left unset so that YAML values are not overridden;
    ``ranges`` gives a setting (or each element of a tuple setting) a checking type
    (stream/checks.py ``Number``)."""
    parser.add_argument("--config", type=Path, help="YAML file with any of the settings below")
    for f in settings_of(cls):
        flag = "--" + f.name.replace("_", "-")
        shown = " ".join(map(str, f.default)) if isinstance(f.default, tuple) else f.default
        text = f"{f.metadata['help']} (default: {'none' if f.default in ('', ()) else shown})"
        element = _element_type(f)
        checked = (ranges or {}).get(f.name)
        if _type_name(f) == "bool":
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=None, help=text)
        elif element is not None:
            parser.add_argument(
                flag, type=checked or element, nargs="+", default=None, metavar=f.name.upper(), help=text
            )
        else:
            parser.add_argument(flag, type=checked or SCALARS.get(_type_name(f), str), default=None, help=text)


def _typed(cls: type, values: dict[str, Any]) -> dict[str, Any]:
    """``values`` with lists (from flags or YAML) turned into the tuples the settings hold."""
    tuples = {f.name for f in settings_of(cls) if _element_type(f) is not None}
    return {k: tuple(v) if k in tuples else v for k, v in values.items()}


def load_settings(cls: type[Settings], path: Path) -> Settings:
    """A user's YAML: an unknown setting is a typo, refused; so is YAML that does not parse,
    and a value of the wrong type (``epochs: "10"``, ``pretrained: "no"``): never coerced."""
    try:
        text = path.read_text()
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        raise ConfigError(f"{path} is not valid YAML: {getattr(error, 'problem', None) or error}{where}") from error
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must hold settings as 'name: value' lines")
    unknown = set(data) - {f.name for f in settings_of(cls)}
    if unknown:
        raise ConfigError(f"unknown settings in {path}: {sorted(unknown)}")
    try:
        check_table(data, _yaml_kinds(cls), "")
    except ShapeError as error:
        raise ConfigError(f"{path}: setting {error}{_line_of(text, error.key)}") from error
    return cls(**_typed(cls, data))


def settings_from_arguments(args: argparse.Namespace, cls: type[Settings]) -> Settings:
    """The YAML of ``--config`` (if any), then every flag given on top of it."""
    base = load_settings(cls, args.config) if getattr(args, "config", None) else cls()
    given = {f.name: getattr(args, f.name) for f in settings_of(cls) if getattr(args, f.name, None) is not None}
    return replace(base, **_typed(cls, given))
