"""Judge a fresh-machine test run from its JUnit report: every skipped test must have been
skipped for want of a Docker engine (none runs inside that container); a PostgreSQL, CDK or any
other test that skipped means `make test` did not do all the set-up.

Usage: python3 scripts/ci/skip_reasons.py JUNIT_XML
"""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET
from collections import Counter


def main(path: str) -> int:
    cases = ET.parse(path).getroot().iter("testcase")  # noqa: S314
    outcomes: Counter[str] = Counter()
    bad: list[str] = []
    for case in cases:
        skipped = case.find("skipped")
        failed = case.find("failure") is not None or case.find("error") is not None
        outcome = "skipped" if skipped is not None else "failed" if failed else "passed"
        outcomes[outcome] += 1
        name = f"{case.get('classname')}::{case.get('name')}"
        if failed:
            bad.append(f"{name}: failed")
        elif skipped is not None and "docker" not in (skipped.get("message") or "").lower():
            bad.append(f"{name}: skipped, not for Docker: {skipped.get('message')}")
    print(
        f"fresh machine: {outcomes['passed']} tests passed; {outcomes['skipped']} skipped, "
        f"{'each for want of a Docker engine' if not bad else 'NOT all for Docker'}"
    )
    for line in bad:
        print(f"  {line}")
    return 1 if bad or not outcomes["passed"] else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
