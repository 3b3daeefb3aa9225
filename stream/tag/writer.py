"""Write results into audio files' own tags with mutagen, the audio bytes copied as they are.

The writer takes a mapping of *logical* fields (``{"genre": [...], "genrescope_model":
"..."}``) and knows, per tag format, where each goes:

* standard fields (``STANDARD_KEYS``): the key players and taggers read, ID3 TCON,
  Vorbis/FLAC GENRE, MP4 ©gen for ``genre``. One value per entry (ID3 2.4 and Vorbis
  keep several; MP4 too). A file that already has a value keeps it unless ``force``:
  a user's hand-made genre is worth more than a model's guess.
* every other field is ours, namespaced: ID3 ``TXXX:GENRESCOPE_<NAME>``, Vorbis
  ``GENRESCOPE_<NAME>``, MP4 ``----:org.genrescope:<name>``; always rewritten.

The musical key (model/frontend/pitch.py) goes to ID3 TKEY, Vorbis KEY and MP4's freeform
``initialkey``, kept like the genre unless ``force``. mutagen rewrites only the tag blocks; the audio frames are copied
as they are (a test decodes every format before and after). A file is saved only when
a value actually changes, so re-running ``--write`` leaves files (and mtimes) alone.

A tag that outgrows its padding makes mutagen move every audio byte, so a save is never
made in the user's file: it goes to a copy beside it that then replaces it in one step
(stream/outputs.py), with Ctrl-C and SIGTERM held meanwhile (stream/tag/stop_signals.py).
A file is thus either as it was or fully tagged, whenever a run is stopped.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import mutagen
from mutagen._vorbis import VComment  # the base of every Vorbis comment (FLAC, Ogg, Opus)
from mutagen.id3 import ID3, TXXX
from mutagen.mp4 import MP4FreeForm, MP4Tags

from genrescope.stream.engine.events import ranked
from genrescope.stream.outputs import changed_whole
from genrescope.stream.tag.stop_signals import stop_signals_held

NAMESPACE = "genrescope"
MP4_MEAN = "org.genrescope"
# logical field → {tag format: key}
STANDARD_KEYS: dict[str, dict[str, str]] = {
    "genre": {"id3": "TCON", "vorbis": "GENRE", "mp4": "\xa9gen"},
    # The musical key as DJ software reads it ("Am", "F#"): MP4 has no standard atom, and
    # iTunes-style freeform "initialkey" is what key-detection tools write there.
    "key": {"id3": "TKEY", "vorbis": "KEY", "mp4": "----:com.apple.iTunes:initialkey"},
}


class TagWriteError(Exception):
    """A file whose tags cannot be written (a format mutagen does not tag, a bad file)."""


@dataclass(frozen=True)
class WriteResult:
    """What writing did to one file."""

    changed: bool
    kept: tuple[str, ...] = ()  # standard fields left as they were: present, and no force


def genre_fields(
    probabilities: Mapping[str, float], model_version: str, min_confidence: float, key_tag: str | None = None
) -> dict[str, list[str]]:
    """The logical fields of one result: the genres at or above ``min_confidence``
    (most likely first; none when no genre reaches it), the probabilities, the model and,
    when the file has one, its key ("Am")."""
    best = ranked(probabilities.items())
    fields = {
        "genrescope_probabilities": [json.dumps({g: round(p, 4) for g, p in best})],
        "genrescope_model": [model_version],
    }
    genres = [genre for genre, p in best if p >= min_confidence]
    if genres:
        fields["genre"] = genres
    if key_tag:
        fields["key"] = [key_tag]
    return fields


def write_fields(path: str | Path, fields: Mapping[str, str | Sequence[str]], force: bool = False) -> WriteResult:
    """Set ``fields`` in the tags of ``path`` (see the module docstring)."""
    try:
        audio = mutagen.File(str(path))
    except (mutagen.MutagenError, OSError) as error:
        raise TagWriteError(f"{path}: cannot read its tags ({error})") from error
    if audio is None:
        raise TagWriteError(f"{path}: not a format whose tags can be written (mp3, flac, ogg, opus, m4a, wav, aiff)")
    if audio.tags is None:
        audio.add_tags()
    fmt = _format(audio.tags, path)
    changed, kept = False, []
    for name, value in fields.items():
        values = [value] if isinstance(value, str) else list(value)
        key = STANDARD_KEYS[name][fmt] if name in STANDARD_KEYS else _namespaced(name, fmt)
        current = _get(audio.tags, fmt, key)
        if current == values:
            continue
        if name in STANDARD_KEYS and any(v.strip() for v in current) and not force:
            kept.append(name)
            continue
        _set(audio.tags, fmt, key, values)
        changed = True
    if changed:
        _save(audio, fmt, path)
    return WriteResult(changed, tuple(kept))


def _format(tags: object, path: str | Path) -> str:
    if isinstance(tags, ID3):
        return "id3"
    if isinstance(tags, MP4Tags):
        return "mp4"
    if isinstance(tags, VComment):
        return "vorbis"
    raise TagWriteError(f"{path}: its tag format ({type(tags).__name__}) is not supported")


def _namespaced(name: str, fmt: str) -> str:
    suffix = name.removeprefix(NAMESPACE + "_")
    if fmt == "id3":
        return f"TXXX:{NAMESPACE.upper()}_{suffix.upper()}"
    if fmt == "mp4":
        return f"----:{MP4_MEAN}:{suffix}"
    return f"{NAMESPACE.upper()}_{suffix.upper()}"


def _get(tags, fmt: str, key: str) -> list[str]:
    if fmt == "id3":
        return [str(text) for frame in tags.getall(key) for text in frame.text]
    if fmt == "mp4":
        return [v.decode("utf-8") if isinstance(v, bytes) else str(v) for v in tags.get(key, [])]
    return list(tags.get(key, []))


def _set(tags, fmt: str, key: str, values: list[str]) -> None:
    if fmt == "id3":
        frame_id, _, description = key.partition(":")
        if frame_id == "TXXX":
            frame = TXXX(encoding=3, desc=description, text=values)
        else:
            frame = getattr(mutagen.id3, frame_id)(encoding=3, text=values)
        tags.setall(key, [frame])
    elif fmt == "mp4":
        tags[key] = [MP4FreeForm(v.encode("utf-8")) for v in values] if key.startswith("----") else values
    else:
        tags[key] = values


def _save(audio: mutagen.FileType, fmt: str, path: str | Path) -> None:
    """Save ``audio``'s tags into a copy of ``path`` that then replaces it (module docstring)."""
    try:
        with stop_signals_held(), changed_whole(path) as copy:
            if fmt == "id3":
                # Keep the file's ID3 version (2.3 stays 2.3: old players read nothing newer).
                audio.save(copy, v2_version=3 if audio.tags.version[1] == 3 else 4)
            else:
                audio.save(copy)
    except (mutagen.MutagenError, OSError) as error:
        raise TagWriteError(f"{path}: cannot save its tags ({error})") from error
