"""The dashboard in a real browser, fed by a real ``genrescope serve``.

Chromium is driven through Playwright with the system's /usr/bin/chromium (Playwright's
own browser downloads are not used). Without it these tests skip, unless
GENRESCOPE_REQUIRE_BROWSER=1 (CI), where a missing browser is a failure.
Screenshots land in each test's tmp_path (light, dark and phone).
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import os
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import replace
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from genrescope.stream.cover.cover_link import CoverLink
from harness import genrescope, running, wait_for

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
DESKTOP = {"viewport": {"width": 1280, "height": 800}}
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}
WAIT_MS = 60_000  # guards against a hang; never a measurement

# What the page shows, read in one go so it is one consistent render.
READ_PAGE = """() => ({
  column: Number(document.querySelector('#bars').dataset.column),
  top: document.querySelector('#top-label').textContent,
  connection: document.querySelector('#connection').dataset.state,
  source: document.querySelector('#source').textContent,
  provider: document.querySelector('#provider').textContent,
  coverHidden: document.querySelector('#cover').hidden,
  bars: [...document.querySelectorAll('#bars li')].map((li) => ({
    label: li.dataset.label, rank: Number(li.dataset.rank), percent: li.querySelector('.percent').textContent,
    length: Number(li.style.getPropertyValue('--p')),
  })),
})"""

PAINTED_PIXELS = """(id) => {
  const canvas = document.getElementById(id);
  const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  let painted = 0;
  for (let i = 3; i < data.length; i += 4) painted += data[i] > 0;
  return painted / (canvas.width * canvas.height);
}"""


def _playwright():
    """Playwright's async API and the system Chromium, or a skip (a failure in CI)."""
    required = os.environ.get("GENRESCOPE_REQUIRE_BROWSER") == "1"
    try:
        from playwright.async_api import async_playwright
    except ImportError as error:
        reason = f"playwright is not installed ({error})"
    else:
        if CHROMIUM.is_file():
            return async_playwright
        reason = f"no Chromium at {CHROMIUM}"
    if required:
        pytest.fail(f"GENRESCOPE_REQUIRE_BROWSER=1 but {reason}")
    pytest.skip(reason)


@pytest.fixture
def chromium() -> Callable[[], AbstractAsyncContextManager[Any]]:
    """``async with chromium() as browser``: the system Chromium, headless."""
    async_playwright = _playwright()

    @asynccontextmanager
    async def launch() -> AsyncIterator[Any]:
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            try:
                yield browser
            finally:
                await browser.close()

    return launch


class Dashboard:
    """One browser page on the dashboard, recording every websocket frame it receives
    and every script error."""

    def __init__(self, page: Any):
        self.page = page
        self.frames: dict[int, dict] = {}
        self.hellos: list[dict] = []
        self.errors: list[str] = []
        page.on("websocket", lambda socket: socket.on("framereceived", self._record))
        page.on("pageerror", lambda error: self.errors.append(str(error)))

    def _record(self, payload: str | bytes) -> None:
        message = json.loads(payload)
        if message["type"] == "hello":  # a new stream: its columns count from 0 again
            self.hellos.append(message)
            self.frames.clear()
        for update in message["updates"] if message["type"] == "history" else [message]:
            if update["type"] == "update":
                self.frames[update["column"]] = update

    async def read(self) -> dict:
        return await self.page.evaluate(READ_PAGE)

    async def shown_after(self, column: int) -> dict:
        """The page once it shows an update past ``column``, and that update's message."""
        await self.page.wait_for_function(
            f"() => Number(document.querySelector('#bars').dataset.column) > {column}", timeout=WAIT_MS
        )
        shown = await self.read()
        await wait_for(lambda: shown["column"] in self.frames)
        return shown

    async def wait_state(self, state: str) -> None:
        await self.page.wait_for_function(
            f"() => document.querySelector('#connection').dataset.state === '{state}'", timeout=WAIT_MS
        )


def js_percent(p: float) -> str:
    """``(100 * p).toFixed(1) + "%"`` as the page writes it: JavaScript rounds an exact tie
    (13.25) up, where Python's format rounds it to even."""
    return f"{Decimal(100 * p).quantize(Decimal('0.1'), rounding=ROUND_HALF_UP)}%"


def assert_matches(shown: dict, message: dict) -> None:
    """The bars, their lengths, order and texts, and the top genre are exactly what
    ``message`` says."""
    probabilities = message["probabilities"]
    # below the engine's confidence threshold the page names its best guess, marked as such
    assert shown["top"] == (f"unsure ({message['top']}?)" if message["uncertain"] else message["top"])
    assert {bar["label"]: bar["length"] for bar in shown["bars"]} == probabilities
    assert {bar["label"]: bar["percent"] for bar in shown["bars"]} == {
        label: js_percent(p) for label, p in probabilities.items()
    }
    by_rank = [bar["label"] for bar in sorted(shown["bars"], key=lambda bar: bar["rank"])]
    assert [probabilities[label] for label in by_rank] == sorted(probabilities.values(), reverse=True)
    assert by_rank[0] == message["top"]


def test_the_dashboard_shows_the_live_updates(
    chromium, test_model_path: Path, music_file: Path, tmp_path: Path
) -> None:
    async def scenario(url: str) -> None:
        async with chromium() as browser:
            context = await browser.new_context(**DESKTOP, reduced_motion="reduce")
            dashboard = Dashboard(await context.new_page())
            await dashboard.page.goto(url)
            first = await dashboard.shown_after(16)  # the test model's outputs move after 16 columns
            assert_matches(first, dashboard.frames[first["column"]])
            later = await dashboard.shown_after(first["column"] + 8)
            assert_matches(later, dashboard.frames[later["column"]])
            assert [bar["length"] for bar in later["bars"]] != [bar["length"] for bar in first["bars"]]
            assert (later["connection"], later["source"], later["provider"]) == ("live", "loop.wav", "CPU")
            assert later["coverHidden"]  # no cover art in a WAV file
            assert await dashboard.page.evaluate(PAINTED_PIXELS, "timeline") > 0.05
            assert await dashboard.page.evaluate(PAINTED_PIXELS, "spectrogram") > 0.05
            await screenshots(dashboard.page, tmp_path, "desktop")
            phone = Dashboard(await (await browser.new_context(**PHONE, reduced_motion="reduce")).new_page())
            await phone.page.goto(url)
            shown = await phone.shown_after(later["column"])
            assert_matches(shown, phone.frames[shown["column"]])
            assert min(phone.frames) <= first["column"]  # it joined late but got the history
            assert await phone.page.evaluate(PAINTED_PIXELS, "timeline") > 0.05
            await screenshots(phone.page, tmp_path, "phone")
            assert dashboard.errors == phone.errors == []

    with genrescope("serve", "--source", str(music_file), "--model", str(test_model_path)) as server:
        asyncio.run(scenario(server.page_url))


async def screenshots(page: Any, folder: Path, name: str) -> None:
    """Full-page screenshots in the light and the dark colour scheme."""
    for scheme in ("light", "dark"):
        await page.emulate_media(color_scheme=scheme)
        await page.wait_for_timeout(300)  # one more update repaints the canvases
        path = folder / f"dashboard-{name}-{scheme}.png"
        await page.screenshot(path=path, full_page=True)
        assert path.stat().st_size > 10_000


def test_the_dashboard_reconnects_after_a_server_restart(chromium, test_model_path: Path, music_file: Path) -> None:
    port = _free_port()
    arguments = ("serve", "--source", str(music_file), "--model", str(test_model_path))

    async def scenario() -> None:
        async with chromium() as browser:
            dashboard = Dashboard(await (await browser.new_context(**DESKTOP)).new_page())
            with genrescope(*arguments, port=port) as server:
                await dashboard.page.goto(server.page_url)
                await dashboard.shown_after(0)
            await dashboard.wait_state("reconnecting")
            with genrescope(*arguments, port=port):
                await dashboard.wait_state("live")
                shown = await dashboard.shown_after(0)  # a new stream: columns start again
                assert_matches(shown, dashboard.frames[shown["column"]])
            assert len(dashboard.hellos) == 2
            assert dashboard.errors == []

    asyncio.run(scenario())


def test_cover_art_and_its_estimates_are_shown(chromium, make_feed, tmp_path: Path) -> None:
    """The real cover wiring: CoverLink's hello panel, and the fused estimate of each update."""
    link = CoverLink(_jpeg_data_url(), {"Electronic": 0.7, "Rock": 0.2, "Pop": 0.1}, weight=0.25)
    feed = make_feed(realtime=True)

    async def scenario() -> dict:
        async with (
            running(replace(feed, updates=link.attach(feed.updates)), hello_extra=link.hello_extra()) as server,
            chromium() as browser,
        ):
            page = await (await browser.new_context(**DESKTOP, reduced_motion="reduce")).new_page()
            await page.goto(f"http://127.0.0.1:{server.port}/")
            await page.wait_for_selector("#cover:not([hidden])", timeout=WAIT_MS)
            await page.wait_for_selector("#fused-bars li", timeout=WAIT_MS)
            shown = await page.evaluate(READ_COVER)
            await page.screenshot(path=tmp_path / "dashboard-cover.png", full_page=True)
            await page.emulate_media(color_scheme="dark")
            await page.wait_for_function(  # the main bars took the dark ink: the page has recoloured
                "() => document.querySelector('#bars li[data-label=Rock]').style.getPropertyValue('--colour')"
                " === '#E8E8E8'",
                timeout=WAIT_MS,
            )
            shown["dark"] = await page.evaluate(READ_COVER)
            return shown

    shown = asyncio.run(scenario())
    assert shown["image"] == link.image_uri
    assert [text for text, _ in shown["cover"]] == ["Electronic 70.0%", "Rock 20.0%", "Pop 10.0%"]
    fused = {text.rsplit(" ", 1)[0]: float(text.rsplit(" ", 1)[1].rstrip("%")) for text, _ in shown["fused"]}
    assert set(fused) == set(feed.engine.labels)  # the whole audio distribution
    assert sum(fused.values()) == pytest.approx(100.0, abs=0.5)
    assert list(fused.values()) == sorted(fused.values(), reverse=True)
    # Rock is the eighth genre: drawn in the scheme's ink, so it must follow a scheme switch.
    rock = dict(shown["cover"])["Rock 20.0%"]
    assert rock.lower() == "#000000"
    assert dict(shown["dark"]["cover"])["Rock 20.0%"].lower() == "#e8e8e8"


READ_COVER = """() => {
  const bars = (id) => [...document.querySelectorAll(`#${id} li`)]
    .map((li) => [li.textContent, li.style.getPropertyValue('--colour')]);
  return {image: document.querySelector('#cover-image').src, cover: bars('cover-bars'), fused: bars('fused-bars')};
}"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _jpeg_data_url() -> str:
    """A small gradient JPEG as a data: URL, the form the cover engineer's hello uses."""
    image = Image.linear_gradient("L").resize((64, 64)).convert("RGB")
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG")
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode()


@pytest.mark.parametrize(
    ("required", "outcome"),
    [("1", pytest.fail.Exception), ("", pytest.skip.Exception)],
    ids=["CI fails", "elsewhere skips"],
)
def test_a_missing_browser_fails_in_ci_and_skips_elsewhere(
    monkeypatch: pytest.MonkeyPatch, required: str, outcome: type[BaseException]
) -> None:
    monkeypatch.setitem(globals(), "CHROMIUM", Path("/nonexistent/chromium"))
    monkeypatch.setenv("GENRESCOPE_REQUIRE_BROWSER", required)
    with pytest.raises(outcome, match="no Chromium at /nonexistent/chromium"):
        _playwright()
