"""The README's layout section names every top-level folder and Python package that exists."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def layout_block() -> str:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("\n## Layout\n", 1)[1]
    return section.split("```", 2)[1]


def top_level_folders() -> set[str]:
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, timeout=30, check=True
    ).stdout.splitlines()
    return {path.split("/", 1)[0] for path in tracked if "/" in path}


def test_every_top_level_folder_is_in_the_layout() -> None:
    listed = set(re.findall(r"^([.\w-]+)/", layout_block(), flags=re.MULTILINE))
    assert top_level_folders() - listed == set()


def test_every_package_is_in_the_layout() -> None:
    packages = {p.parent.name for p in ROOT.glob("*/__init__.py")}
    listed = set(re.findall(r"^([\w-]+)/", layout_block(), flags=re.MULTILINE))
    assert packages, "no packages found"
    assert packages - listed == set()


def test_the_benchmarks_do_not_import_the_tests() -> None:
    importers = [
        path.name
        for path in (ROOT / "bench").rglob("*.py")
        if re.search(r"^\s*(from|import) tests\b", path.read_text(), flags=re.MULTILINE)
    ]
    assert importers == []
