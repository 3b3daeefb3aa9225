"""A served file with embedded cover art: the hello carries the cover, updates the fusion."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import pytest
from mutagen.id3 import APIC, ID3
from PIL import Image

from harness import first_updates, genrescope
from support import write_tone


def song_with_cover(path: Path) -> Path:
    write_tone(path, 20.0, frequency=330.0)
    image = io.BytesIO()
    Image.new("RGB", (64, 64), (200, 30, 30)).save(image, format="JPEG")
    tags = ID3()
    tags.add(APIC(encoding=3, mime="image/jpeg", type=3, desc="front", data=image.getvalue()))
    tags.save(path)
    return path


def test_cover_and_fused_estimate_reach_the_clients(test_model_path: Path, tmp_path: Path) -> None:
    song = song_with_cover(tmp_path / "song.mp3")
    with genrescope("serve", "--source", str(song), "--model", str(test_model_path)) as server:
        messages = asyncio.run(first_updates(server.ws_url, 2))
    cover = messages[0]["cover"]
    assert cover["image"].startswith("data:image/jpeg;base64,")
    assert sum(cover["probabilities"].values()) == pytest.approx(1.0, abs=1e-3)
    update = next(m for m in messages if m["type"] == "update")
    assert set(update["fused"]) == set(update["probabilities"])
    assert sum(update["fused"].values()) == pytest.approx(1.0, abs=1e-3)
