"""`make rehearse` wall time on this machine (target ≤ 20 s, images already built).

    uv run python -m bench.rehearse [--runs 3] [--check]

Runs the real `make rehearse` (uv sync, then `autopipe rehearse`: emulator start, seeding,
deploy v1, v2, broken v3 and its rollback, real containers where Docker and the image are
there) and times it end to end, as a person typing it would wait for it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from statistics import median
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).with_name("results") / "rehearse.json"
TARGET_SECONDS = 20.0


def one_run() -> dict[str, Any]:
    make = shutil.which("make") or "make"
    started = time.monotonic()
    done = subprocess.run(
        [make, "--no-print-directory", "rehearse", "REHEARSE_ARGS=--output json"],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    wall = time.monotonic() - started
    if done.returncode != 0:
        raise SystemExit(f"make rehearse failed ({done.returncode}):\n{done.stderr[-3000:]}")
    doc = json.loads(done.stdout)
    return {
        "wall_seconds": round(wall, 2),
        "rehearsal_seconds": doc["seconds"],
        "docker": doc["docker"],
        "deploy_seconds": {d["tag"]: d["seconds"] for d in doc["deploys"]},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--check", action="store_true", help="exit 1 if the median > target")
    args = parser.parse_args()
    runs = []
    for n in range(args.runs):
        runs.append(one_run())
        print(f"  run {n + 1}: {runs[-1]['wall_seconds']:.1f}s", file=sys.stderr)
    walls = sorted(r["wall_seconds"] for r in runs)
    record = {
        "benchmark": "rehearse",
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "target_seconds": TARGET_SECONDS,
        "median_seconds": median(walls),
        "min_seconds": walls[0],
        "max_seconds": walls[-1],
        "docker": all(r["docker"] for r in runs),
        "runs": runs,
    }
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(record, indent=2) + "\n")
    mode = "real containers" if record["docker"] else "stand-in (no Docker or no image)"
    print(
        f"make rehearse, {args.runs} runs ({mode}): median {record['median_seconds']:.1f}s, "
        f"min {walls[0]:.1f}s, max {walls[-1]:.1f}s (target ≤ {TARGET_SECONDS:g}s)\n"
        f"  written to {RESULTS.relative_to(ROOT)}"
    )
    if args.check and record["median_seconds"] > TARGET_SECONDS:
        sys.exit(1)


if __name__ == "__main__":
    main()
