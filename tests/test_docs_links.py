"""Every relative link in the README and docs/ leads somewhere: the file exists, and so does the heading
an anchor names (GitHub's heading ids)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from support import REPO

LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]


def prose(path: Path) -> list[str]:
    """The lines outside code fences."""
    lines, fenced = [], False
    for line in path.read_text().splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced:
            lines.append(line)
    return lines


def slug(heading: str) -> str:
    """GitHub's id for a heading: lower case, punctuation but - and _ dropped, spaces to hyphens."""
    text = heading.lstrip("#").strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    seen: dict[str, int] = {}
    ids = set()
    for line in prose(path):
        if line.startswith("#"):
            base = slug(line)
            count = seen.get(base, 0)
            seen[base] = count + 1
            ids.add(base if count == 0 else f"{base}-{count}")
    return ids


def links(path: Path) -> list[str]:
    return [
        target for line in prose(path) for target in LINK.findall(line) if not re.match(r"[a-z]+:", target)
    ]  # http:, https:, mailto: are not checked here


def test_the_slug_follows_github() -> None:
    assert slug("### Capacity: `bench/streams.py`") == "capacity-benchstreamspy"
    assert (
        slug("## Genre model (FMA-small, official split, 8 genres)") == "genre-model-fma-small-official-split-8-genres"
    )


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO)))
def test_every_relative_link_resolves(page: Path) -> None:
    broken = []
    for target in links(page):
        file, _, anchor = target.partition("#")
        destination = (page.parent / file).resolve() if file else page
        if not destination.exists():
            broken.append(f"{target}: no such file")
        elif anchor and destination.suffix == ".md" and anchor not in anchors(destination):
            broken.append(f"{target}: no heading #{anchor}")
    assert not broken, f"{page.relative_to(REPO)}: " + "; ".join(broken)


def test_the_readme_is_a_guide() -> None:
    assert len((REPO / "README.md").read_text().splitlines()) <= 350
    assert links(REPO / "README.md")  # and it points to the record
