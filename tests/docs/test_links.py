"""Every relative link in the README and docs/ points at a file that exists, every line anchor
(`#L10-L20`) at lines the file has, and every heading anchor (`runbook.md#6-…`) at a heading of
that page. Whether the cited lines still hold the cited code is for a reader to check when code
moves; this catches the links that broke outright."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", ROOT / "bench" / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)\s]+)\)")
ANCHOR = re.compile(r"^L(\d+)(?:-L(\d+))?$")


def heading_slugs(page: Path) -> set[str]:
    """GitHub's anchors: lower case, punctuation dropped, spaces to hyphens."""
    slugs = set()
    for line in page.read_text().splitlines():
        if line.startswith("#"):
            text = line.lstrip("#").strip().lower()
            slugs.add(re.sub(r"[^\w\- ]", "", text).replace(" ", "-"))
    return slugs


def relative_links(page: Path) -> list[str]:
    return [t for t in LINK.findall(page.read_text()) if not re.match(r"^[a-z]+:|^#", t)]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_links_point_at_files_and_lines_that_exist(page: Path) -> None:
    broken = []
    for target in relative_links(page):
        path, _, anchor = target.partition("#")
        file = (page.parent / path).resolve()
        if not file.exists():
            broken.append(f"{target}: no such file")
            continue
        lines = ANCHOR.match(anchor)
        if anchor and not lines and file.suffix == ".md":
            if anchor not in heading_slugs(file):
                broken.append(f"{target}: no such heading")
            continue
        if lines and file.is_file():
            first, last = int(lines[1]), int(lines[2] or lines[1])
            length = len(file.read_text().splitlines())
            if not 1 <= first <= last <= length:
                broken.append(f"{target}: lines {first}-{last} of a {length}-line file")
    assert broken == [], f"{page.relative_to(ROOT)}: {broken}"


def test_the_pages_have_links_to_check() -> None:
    assert sum(len(relative_links(p)) for p in PAGES) > 100
