"""The dashboard's pitch parts in a real browser on a real ``genrescope serve``: the key
of the context with its fit, and the chroma strip under the spectrogram."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import soundfile as sf

from genrescope.model.frontend.pitch import Key
from harness import genrescope, wait_for
from music_synth import key_piece
from test_dashboard import DESKTOP, PAINTED_PIXELS, Dashboard, chromium, screenshots  # noqa: F401 (fixture)

RATE = 48_000
SHOWN = """() => ({
  column: Number(document.querySelector('#bars').dataset.column),
  key: document.querySelector('#key').textContent,
  fit: document.querySelector('#key-confidence').textContent,
})"""


def test_the_key_and_the_chroma_strip_are_shown(chromium, test_model_path: Path, tmp_path: Path) -> None:  # noqa: F811
    piece = tmp_path / "a_minor.wav"
    sf.write(piece, np.tile(key_piece(Key(9, True), RATE), 6), RATE)  # 36 s: the file never ends here

    async def scenario(url: str) -> None:
        async with chromium() as browser:
            dashboard = Dashboard(await (await browser.new_context(**DESKTOP, reduced_motion="reduce")).new_page())
            await dashboard.page.goto(url)
            await dashboard.shown_after(30)  # 7 s: a whole piece in the context
            shown = await dashboard.page.evaluate(SHOWN)
            await wait_for(lambda: shown["column"] in dashboard.frames)
            message = dashboard.frames[shown["column"]]
            assert message["key"] == "A minor" and len(message["chroma"]) == 12
            assert shown["key"] == message["key"]
            assert shown["fit"] == f"fit {message['key_confidence']:.2f}"
            assert await dashboard.page.evaluate(PAINTED_PIXELS, "chroma") > 0.05
            await screenshots(dashboard.page, tmp_path, "pitch")
            assert dashboard.errors == []

    with genrescope("serve", "--source", str(piece), "--model", str(test_model_path)) as server:
        asyncio.run(scenario(server.page_url))
