"""Embedded cover art from audio files (mutagen), as a PIL image.

Supports the four places artwork lives in practice: ID3 ``APIC`` frames (MP3, also
AIFF/WAV with ID3), MP4 ``covr`` atoms (M4A/AAC/ALAC), FLAC ``PICTURE`` blocks, and
Vorbis comments ``METADATA_BLOCK_PICTURE`` (Ogg Vorbis/Opus; base64 of a FLAC picture
block). When a file has several pictures the front cover (picture type 3) wins, else
the first one.

``extract_artwork`` returns None when a readable file simply has no artwork, and raises
``ArtworkError`` (one clear sentence, no traceback needed) when the file, its tags or
the embedded image cannot be read — callers can tell "no cover" from "broken file".
"""

from __future__ import annotations

import base64
import binascii
import io
import warnings
from pathlib import Path
from typing import IO

import mutagen
from mutagen.flac import Picture
from PIL import Image, UnidentifiedImageError

FRONT_COVER = 3  # picture type shared by ID3 APIC and FLAC/Vorbis pictures


class ArtworkError(Exception):
    """The file, its tags or its embedded image could not be read."""


def extract_artwork(path: str | Path) -> Image.Image | None:
    """The embedded front cover of an audio file, or None when it has none."""
    path = Path(path)
    try:
        audio = mutagen.File(path)
    except (mutagen.MutagenError, OSError, ValueError, IndexError, KeyError, TypeError) as exc:
        raise ArtworkError(f"cannot read tags of {path}: {exc}") from exc
    if audio is None:
        raise ArtworkError(f"{path} is not an audio file mutagen recognises")
    data = _picture_bytes(audio, path)
    return None if data is None else _decode(data, path)


def _picture_bytes(audio: mutagen.FileType, path: Path) -> bytes | None:
    """Raw bytes of the preferred picture, from whichever tag system the file uses."""
    candidates: list[tuple[int, bytes]] = []  # (picture type, data)
    tags = audio.tags
    if hasattr(audio, "pictures"):  # FLAC picture blocks
        candidates += [(p.type, p.data) for p in audio.pictures]
    if tags is not None and hasattr(tags, "getall"):  # ID3
        candidates += [(int(f.type), f.data) for f in tags.getall("APIC")]
    elif tags is not None:
        if "covr" in tags:  # MP4
            candidates += [(FRONT_COVER, bytes(c)) for c in tags["covr"]]
        for b64 in _vorbis_values(tags, "metadata_block_picture"):
            picture = _vorbis_picture(b64, path)
            candidates.append((picture.type, picture.data))
    if not candidates:
        return None
    fronts = [data for kind, data in candidates if kind == FRONT_COVER]
    return fronts[0] if fronts else candidates[0][1]


def _vorbis_values(tags, key: str) -> list[str]:
    """Values of a Vorbis comment, case-insensitively; [] for other tag types."""
    try:
        return list(tags.get(key, [])) if hasattr(tags, "vendor") else []
    except (KeyError, ValueError):
        return []


def _vorbis_picture(b64: str, path: Path) -> Picture:
    """Decode a METADATA_BLOCK_PICTURE value (base64 of a FLAC picture block)."""
    try:
        return Picture(base64.b64decode(b64, validate=False))
    except (binascii.Error, mutagen.MutagenError, ValueError, IndexError) as exc:
        raise ArtworkError(f"corrupt METADATA_BLOCK_PICTURE in {path}: {exc}") from exc


# What Pillow raises for an image it cannot (or will not) decode: not an image, corrupt,
# truncated, or so large it could exhaust memory (a decompression bomb).
IMAGE_ERRORS = (
    UnidentifiedImageError,
    OSError,
    ValueError,
    SyntaxError,
    Image.DecompressionBombError,
    Image.DecompressionBombWarning,
)


def open_rgb(source: str | Path | IO[bytes]) -> Image.Image:
    """A file or byte stream → fully loaded RGB image (Pillow's errors pass through).

    An image over Pillow's pixel limit is refused outright, not decoded with a warning:
    what a decompression bomb costs in memory is decided by its header, not its size."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        with Image.open(source) as image:
            return image.convert("RGB")


def _decode(data: bytes, path: Path) -> Image.Image:
    """Bytes → fully loaded RGB image."""
    try:
        return open_rgb(io.BytesIO(data))
    except IMAGE_ERRORS as exc:
        raise ArtworkError(f"embedded artwork in {path} is not a readable image: {exc}") from exc
