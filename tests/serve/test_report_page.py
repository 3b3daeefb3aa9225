"""``genrescope report --out FILE.html`` opened in real Chromium: self-contained (no request
leaves the file), the plot drawn, the totals and the segments as tables; screenshotted."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

from PIL import Image

from support import REPO, cli_command
from test_dashboard import WAIT_MS, chromium  # noqa: F401  (chromium: a fixture)


def test_the_html_report_is_one_self_contained_page(chromium, tmp_path: Path) -> None:  # noqa: F811
    sys.path.insert(0, str(REPO / "tests" / "segments"))
    from test_report import build_log  # the hand-built log of the CSV test

    page_file = tmp_path / "airplay.html"
    done = subprocess.run(
        cli_command(
            "report",
            str(build_log(tmp_path / "airplay.sqlite")),
            "--out",
            str(page_file),
        ),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "TZ": "UTC"},
    )
    assert done.returncode == 0, done.stderr

    async def scenario() -> dict:
        async with chromium() as browser:
            page = await (await browser.new_context(viewport={"width": 1200, "height": 900})).new_page()
            requests: list[str] = []
            page.on("request", lambda request: requests.append(request.url))
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            await page.goto(page_file.as_uri(), wait_until="load", timeout=WAIT_MS)
            shown = await page.evaluate("""() => ({
              plot: (() => { const r = document.querySelector('#hours svg').getBoundingClientRect();
                             return [r.width, r.height]; })(),
              bars: document.querySelectorAll('#hours svg path').length,
              totals: [...document.querySelectorAll('#totals tr')].slice(1).map((tr) => tr.innerText.split('\\t')),
              segments: [...document.querySelectorAll('#segments tr')].slice(1).map((tr) => tr.innerText.split('\\t')),
            })""")
            await page.screenshot(path=tmp_path / "report.png", full_page=True)
            return {**shown, "requests": requests, "errors": errors}

    shown = asyncio.run(scenario())
    assert shown["requests"] == [page_file.as_uri()] and shown["errors"] == []  # nothing fetched but the page
    assert shown["plot"][0] > 800 and shown["plot"][1] > 300 and shown["bars"] > 10
    assert shown["totals"] == [
        ["r1", "Rock", "1:00:00", "67%"],
        ["r1", "Pop", "30:00", "33%"],
        ["r2", "Folk", "30:00", "100%"],
    ]
    assert [row[0] for row in shown["segments"]] == ["r1", "r2", "r1", "r1"]
    assert shown["segments"][2][4:] == ["Pop (unsure)", "30%", "genre"]
    assert shown["segments"][3][1:3] == ["2026-12-01 11:15:00", "2026-12-01 11:30:00"]
    assert shown["segments"][3][-1] == "still running"
    screenshot = Image.open(tmp_path / "report.png")
    assert screenshot.width == 1200 and screenshot.height > 900  # the tables below the plot
