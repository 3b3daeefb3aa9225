"""The multi-stream pages in headless Chromium, fed by a real ``genrescope serve`` with
three named streams (two of music, one near-silent): the overview, the detailed view of
one stream, and the OBS overlay."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from harness import genrescope
from test_dashboard import DESKTOP, PAINTED_PIXELS, WAIT_MS, chromium  # noqa: F401  (chromium: a fixture)

READ_CARDS = """() => Object.fromEntries([...document.querySelectorAll('#streams .card')].map((card) => [
  card.dataset.stream,
  {state: card.dataset.state, column: Number(card.dataset.column ?? -1),
   genre: card.querySelector('.genre').textContent, key: card.querySelector('.key').textContent,
   painted: (() => {
     const canvas = card.querySelector('canvas');
     const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
     let painted = 0;
     for (let i = 3; i < data.length; i += 4) painted += data[i] > 0;
     return painted / (canvas.width * canvas.height);
   })()},
]))"""


def test_overview_detail_and_overlay(chromium, test_model_path: Path, music_file: Path, tmp_path: Path) -> None:  # noqa: F811
    quiet = tmp_path / "quiet.wav"
    sf.write(quiet, np.random.default_rng(0).normal(0, 1e-4, 44_100 * 10).astype(np.float32), 44_100)
    sources = [
        "--source",
        f"music=loop:{music_file}",
        "--source",
        f"room=loop:{quiet}",
        "--source",
        f"more=loop:{music_file}",
    ]

    async def scenario(base: str) -> None:
        async with chromium() as browser:
            context = await browser.new_context(**DESKTOP, reduced_motion="reduce")
            page = await context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            await page.goto(base)
            await page.wait_for_function(
                "() => Number(document.querySelector('[data-stream=music]')?.dataset.column) > 20 &&"
                " document.querySelector('[data-stream=room]')?.dataset.state === 'silence'",
                timeout=WAIT_MS,
            )
            cards = await page.evaluate(READ_CARDS)
            assert list(cards) == ["music", "room", "more"]
            assert cards["music"]["state"] == "live" and cards["music"]["painted"] > 0.1  # ≥ 20 of 128 updates
            assert cards["room"]["genre"] == "silence" and cards["room"]["key"] == ""  # silence: no key
            assert cards["music"]["key"].startswith("key ")  # real music: its key, with its fit
            await page.screenshot(path=tmp_path / "overview.png", full_page=True)

            await page.click("[data-stream=room] a.detail")
            await page.wait_for_function(
                "() => document.querySelector('#bars').dataset.silent === 'true'", timeout=WAIT_MS
            )
            assert await page.text_content("#top-label") == "silence"
            assert await page.get_attribute("#connection", "data-state") == "silence"
            await page.goto(base + "index.html?stream=music")
            await page.wait_for_function(
                "() => Number(document.querySelector('#bars').dataset.column) > 0", timeout=WAIT_MS
            )
            assert await page.get_attribute("#connection", "data-state") == "live"
            assert await page.evaluate(PAINTED_PIXELS, "timeline") > 0.05
            await page.goto(base + "index.html")  # no stream named: the overview, not a mix of streams
            await page.wait_for_function(
                "() => document.querySelectorAll('#streams .card').length === 3", timeout=WAIT_MS
            )

            overlay = await (await browser.new_context(viewport={"width": 640, "height": 360})).new_page()
            overlay.on("pageerror", lambda error: errors.append(str(error)))
            await overlay.goto(base + "overlay?stream=music")
            await overlay.wait_for_function(
                "() => Number(document.querySelector('#overlay').dataset.column) > 0", timeout=WAIT_MS
            )
            box = await overlay.evaluate(
                "() => { const r = document.querySelector('#overlay')"
                ".getBoundingClientRect(); return [r.width, r.height]; }"
            )
            assert box == [480, 180]
            assert len(await overlay.query_selector_all("#bars li")) == 3
            path = tmp_path / "overlay.png"
            await overlay.screenshot(path=path, omit_background=True)
            from PIL import Image

            image = Image.open(path).convert("RGBA")
            assert image.getpixel((600, 340))[3] == 0  # outside the box: transparent for OBS
            assert image.getpixel((240, 20))[3] > 0  # inside it: drawn
            assert errors == []

    with genrescope("serve", *sources, "--model", str(test_model_path)) as server:
        asyncio.run(scenario(server.page_url))


def test_the_overlay_names_no_genre_when_the_engine_is_unsure(
    chromium,  # noqa: F811
    test_model_path: Path,
    music_file: Path,
    tmp_path: Path,
) -> None:
    """The overlay says "unsure (X?)" exactly when the update it shows is uncertain, as the
    overview and the dashboard do. The random-weights test model is never confident, so
    every update it sends is uncertain; the frames the page received are the reference."""

    async def scenario(base: str) -> None:
        async with chromium() as browser:
            page = await (await browser.new_context(viewport={"width": 640, "height": 360})).new_page()
            updates: dict[int, dict] = {}
            page.on("websocket", lambda socket: socket.on("framereceived", lambda frame: _keep_updates(frame, updates)))
            await page.goto(base + "overlay?stream=music")
            await page.wait_for_function(
                "() => Number(document.querySelector('#overlay').dataset.column) > 4", timeout=WAIT_MS
            )
            shown = await page.evaluate(
                "() => { const o = document.querySelector('#overlay'); return "
                "[Number(o.dataset.column), o.dataset.unsure, "
                "document.querySelector('#genre').textContent]; }"
            )
            await page.screenshot(path=tmp_path / "overlay-unsure.png", omit_background=True)
        column, unsure, genre = shown
        update = updates[column]
        assert update["uncertain"]  # the premise: the test model is unsure
        assert (unsure, genre) == ("true", f"unsure ({update['top']}?)")

    with genrescope("serve", "--source", f"music=loop:{music_file}", "--model", str(test_model_path)) as server:
        asyncio.run(scenario(server.page_url))


def _keep_updates(frame: str | bytes, updates: dict[int, dict]) -> None:
    """Each update of a received frame (an update, or a history of them), by column."""
    message = json.loads(frame)
    for update in message.get("updates", [message] if message.get("type") == "update" else []):
        updates[update["column"]] = update


@pytest.mark.parametrize("source", ["{file}", "music=loop:{file}"], ids=["single-stream-v1", "named-stream-v2"])
def test_the_dashboard_draws_the_segment_band_under_the_timeline(
    chromium,  # noqa: F811
    source: str,
    test_model_path: Path,
    music_file: Path,
    tmp_path: Path,
) -> None:
    """The server's `segments` snapshots reach the dashboard, which draws them as a band
    under the timeline in the genres' colours, the running segment named as sent."""

    async def scenario(url: str) -> None:
        async with chromium() as browser:
            page = await (await browser.new_context(**DESKTOP)).new_page()
            snapshots: list[dict] = []
            page.on(
                "websocket",
                lambda socket: socket.on(
                    "framereceived",
                    lambda frame: snapshots.extend([m] if (m := json.loads(frame)).get("type") == "segments" else []),
                ),
            )
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            await page.goto(url)
            await page.wait_for_function(
                "() => Number(document.querySelector('#segments').dataset.segments) > 0", timeout=WAIT_MS
            )
            band = await page.evaluate("""() => { const c = document.querySelector('#segments');
              return {open: c.dataset.open, hidden: c.hidden, label: c.getAttribute('aria-label'),
                      below: c.getBoundingClientRect().top >= document.querySelector('#timeline')
                                                                  .getBoundingClientRect().bottom}; }""")
            painted = await page.evaluate(PAINTED_PIXELS, "segments")
            await page.screenshot(path=tmp_path / "dashboard-segments.png", full_page=True)
        assert errors == [] and snapshots
        newest = snapshots[-1]
        assert newest["v"] == (2 if "=" in source else 1) and ("stream" in newest) == ("=" in source)
        assert not band["hidden"] and band["below"]
        assert band["open"] == newest["open"]["genre"] and newest["open"]["genre"] in band["label"]
        assert painted > 0.005  # ≥ 3 s of a 10-minute band, drawn

    query = "index.html?stream=music" if "=" in source else ""
    with genrescope("serve", "--source", source.format(file=music_file), "--model", str(test_model_path)) as server:
        asyncio.run(scenario(server.page_url + query))
