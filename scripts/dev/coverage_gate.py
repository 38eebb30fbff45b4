"""Each package's coverage against its own floor ([tool.autopipe.coverage] in pyproject.toml),
from the .coverage data of the last test run. Exit 1 naming every package below its floor.

Usage: python scripts/dev/coverage_gate.py      (inside the project's environment)
"""

from __future__ import annotations

import io
import sys
import tomllib
from pathlib import Path

import coverage

ROOT = Path(__file__).resolve().parents[2]


def main() -> int:
    floors: dict[str, float] = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"][
        "autopipe"
    ]["coverage"]
    data = coverage.Coverage(data_file=str(ROOT / ".coverage"))
    data.load()
    below = []
    for package, floor in floors.items():
        total = data.report(include=[f"{package}/*"], file=io.StringIO(), skip_covered=False)
        verdict = "ok" if total >= floor else "BELOW"
        print(f"coverage {package}/: {total:.1f} % (floor {floor} %) {verdict}")
        if total < floor:
            below.append(package)
    return 1 if below else 0


if __name__ == "__main__":
    sys.exit(main())
