"""The shape and types of a configuration file, checked before anything reads it: one
line naming the key, and never a coercion.

TOML and YAML parse into tables, lists and scalars. Code that reads them as the shape
it expects fails far from the mistake (``stream = ["radio1"]`` ended in an
AttributeError) or, worse, coerces: ``bool("no")`` is True, ``tuple("a.pt")`` is
``('a', '.', 'p', 't')``. Each file a command reads goes through ``check_table`` with
the ``Kind`` of every key it knows; any other key is a typo, refused.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass


class ShapeError(ValueError):
    """A value of the wrong kind, a missing or an unknown key; the caller adds the file
    (and, where its parser knows them, the line of ``key``)."""

    def __init__(self, message: str, key: str | None = None):
        super().__init__(message)
        self.key = key


@dataclass(frozen=True)
class Kind:
    """What a key's value must be: ``noun`` says it in an error message."""

    noun: str
    admits: Callable[[object], bool]


def _number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


STRING = Kind("a string", lambda value: isinstance(value, str))
BOOLEAN = Kind("true or false", lambda value: isinstance(value, bool))
INTEGER = Kind("an integer", lambda value: isinstance(value, int) and not isinstance(value, bool))
NUMBER = Kind("a number", _number)  # an integer is a number too: 1 for 1.0 loses nothing


def list_of(kind: Kind) -> Kind:
    """A list whose every element is ``kind``."""
    return Kind(
        f"a list, each element {kind.noun}", lambda value: isinstance(value, list) and all(map(kind.admits, value))
    )


def check_table(value: object, kinds: Mapping[str, Kind], where: str, required: Collection[str] = ()) -> dict:
    """``value`` itself if it is a table whose keys are all in ``kinds`` (those in
    ``required`` present) and whose values are of their kind; else ``ShapeError``,
    naming ``where`` (e.g. "stream #2"; "" for a file's top level) and the key."""
    if not isinstance(value, dict):
        raise ShapeError(f"{where or 'the file'} must be a table of keys and values, got {shown(value)}")
    prefix = f"{where}: " if where else ""
    unknown = sorted(set(value) - set(kinds))
    if unknown:
        raise ShapeError(f"{prefix}unknown key {unknown[0]!r} (known: {', '.join(kinds)})", unknown[0])
    missing = [key for key in required if key not in value]
    if missing:
        raise ShapeError(f"{prefix}{missing[0]} is missing")
    for key, item in value.items():
        if not kinds[key].admits(item):
            raise ShapeError(f"{prefix}{key} must be {kinds[key].noun}, got {shown(item)}", key)
    return value


def shown(value: object) -> str:
    """A value as an error message shows it: its kind, and its text cut short."""
    kind = {bool: "a boolean", str: "text", int: "an integer", float: "a number", list: "a list", dict: "a table"}.get(
        type(value), type(value).__name__
    )
    text = repr(value)
    return f"{kind} {text if len(text) <= 40 else text[:37] + '...'}"
