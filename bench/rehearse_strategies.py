"""The deployment strategies side by side, from the rehearsal under load (real containers behind
the loopback load balancer): per strategy and per way v3 is broken, the user requests the broken
v3 answered and the seconds from its failure being detected to 100 % of the traffic on v2.

    uv run python -m bench.rehearse_strategies [--runs 1] [--strategies rolling,blue_green,canary]
                                               [--failures ready,users] [--check]

Each run is `autopipe rehearse --strategy S --failure F --docker always --output json` in its
own process. `ready`: v3's /ready fails (every smoke test sees it); `users`: only its /items
does (the 5xx deployment alarm catches it). Targets (--check exits 1 when one is missed):
blue_green is back on v2 within 5 s of the detection, and with `ready` answers 0 user requests
from v3; canary answers at most its canary percentage (rounded up) of the user requests sent
while v3 held its canary share; rolling is the baseline, reported and not judged.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from statistics import median
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).with_name("results") / "rehearse_strategies.json"
BLUE_GREEN_SECONDS = 5.0
BROKEN = "user_requests_answered_by_broken_release"
BACK = "seconds_from_detection_to_all_traffic_on_previous_release"


def one_run(strategy: str, failure: str) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AUTOPIPE_", "AWS_"))}
    done = subprocess.run(
        [sys.executable, "-m", "autopipe", "rehearse", "--strategy", strategy,
         "--failure", failure, "--docker", "always", "--output", "json"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise SystemExit(f"rehearse --strategy {strategy} failed ({done.returncode}):\n"
                         f"{done.stderr[-3000:]}")  # fmt: skip
    doc = json.loads(done.stdout)
    return {
        **doc["broken_release"],
        "canary_percent": doc["strategy_settings"]["canary_percent"],
        "rehearsal_seconds": doc["seconds"],
    }


def verdict(strategy: str, failure: str, runs: list[dict[str, Any]]) -> str:
    worst_broken = max(r[BROKEN] for r in runs)
    backs = [r[BACK] for r in runs]
    if any(b is None for b in backs):
        return "MISSED: traffic not back on v2 within the run"
    if strategy == "blue_green":
        zero = worst_broken == 0 or failure != "ready"
        ok = zero and max(backs) <= BLUE_GREEN_SECONDS
        return "ok" if ok else f"MISSED: target ≤ {BLUE_GREEN_SECONDS:g}s (and 0 with ready)"
    if strategy == "canary":
        ok = all(r[BROKEN] <= canary_bound(r) for r in runs)
        return "ok" if ok else "MISSED: more than the canary percentage"
    return "baseline"


def canary_bound(run: dict[str, Any]) -> int:
    """At most the canary share of what was sent while v3 held it (0 if it never did)."""
    exposed = run.get("while_broken_release_had_production_traffic")
    return int(exposed["at_most"]) if exposed else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--strategies", default="rolling,blue_green,canary")
    parser.add_argument("--failures", default="ready,users")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args()
    record: dict[str, Any] = {
        "benchmark": "rehearse_strategies",
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "strategies": {},
    }
    rows = []
    for failure in args.failures.split(","):
        for strategy in args.strategies.split(","):
            runs = []
            for n in range(args.runs):
                runs.append(one_run(strategy, failure))
                print(f"  {strategy} / {failure} run {n + 1}: {runs[-1][BROKEN]} broken, "
                      f"{runs[-1][BACK]}s", file=sys.stderr)  # fmt: skip
            backs = [r[BACK] for r in runs if r[BACK] is not None]
            summary = {
                "runs": runs,
                "median_" + BROKEN: median(r[BROKEN] for r in runs),
                "median_" + BACK: median(backs) if backs else None,
                "median_user_requests_sent": median(r["user_requests_sent"] for r in runs),
                "verdict": verdict(strategy, failure, runs),
            }
            record["strategies"][f"{strategy}/{failure}"] = summary
            rows.append((f"{strategy}/{failure}", summary))
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(record, indent=2) + "\n")
    header = (
        f"{'strategy/failure':<18} {'sent':>6} {'answered by v3':>15} {'detected → all on v2':>21}"
    )
    print(f"{header}  verdict")
    for strategy, s in rows:
        back = s["median_" + BACK]
        print(f"{strategy:<18} {s['median_user_requests_sent']:>6} "
              f"{s['median_' + BROKEN]:>15} {'-' if back is None else f'{back:.2f}s':>21}  "
              f"{s['verdict']}")  # fmt: skip
    print(f"  medians of {args.runs} run(s); written to {RESULTS.relative_to(ROOT)}")
    if args.check and any(s["verdict"].startswith("MISSED") for _, s in rows):
        sys.exit(1)


if __name__ == "__main__":
    main()
