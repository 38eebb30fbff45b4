"""Verdict latency: from the moment the service reaches a steady state to `autopipe deploy`
returning (target ≤ 2 s), with the production waits: polls every `poll_interval` (1 s),
3 smoke passes 0.3 s apart, lock release and the Slack message included.

    uv run python -m bench.deploy_verdict [--runs 10] [--rollout 2.5] [--check]

AWS is the in-process emulator (moto + rollout engine): it records the instant each rollout
turns COMPLETED, on the same monotonic clock the deploy runs on. Rollouts take `--rollout`
seconds plus a fraction of a poll interval that differs in every run, so the steady moment
falls at every phase between two polls. The service's URL is the
emulator's stand-in (no container: this measures the deployer, not the app's start-up).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from statistics import median, quantiles
from typing import Any

from autopipe.commands import deploy
from autopipe.commands._shared import ImageOptions
from autopipe.commands.rehearse import fake_credentials
from autopipe.config import Settings, load_settings
from autopipe.output import Reporter
from autopipe.runner import Common, make_aws
from ecs_model.emulator import Emulator
from ecs_model.seed import ImageSpec, seed
from ecs_model.targets import SlackReceiver, StandIn

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).with_name("results") / "deploy_verdict.json"
TARGET_SECONDS = 2.0
# The production defaults (the rehearsal environment polls faster).
PRODUCTION_WAITS = {
    field: getattr(Settings(), field)
    for field in ("poll_interval", "smoke_passes", "smoke_interval", "smoke_timeout")
}


def one_deploy(emulator: Emulator, settings: Settings, tag: str) -> dict[str, float]:
    reporter = Reporter(stream=io.StringIO())
    options = deploy.DeployOptions(Common(), ImageOptions(tag=tag, git_sha=tag * 8))
    before = len(emulator.deployments.steady_at)
    result = deploy.run(options, reporter, settings=settings)
    returned = time.monotonic()
    assert result["result"] == "success", result
    steady = emulator.deployments.steady_at[before][0]
    steps = {s["message"]: reporter.started + s["t"] for s in reporter.timeline}
    seen = next(t for m, t in steps.items() if "PRIMARY COMPLETED" in m and t >= steady - 0.05)
    smoked = next(t for m, t in steps.items() if m.startswith("smoke: ") and "ready" in m)
    return {
        "verdict_seconds": returned - steady,
        "detect_seconds": max(0.0, seen - steady),
        "smoke_seconds": max(0.0, smoked - seen),
        "after_smoke_seconds": returned - smoked,
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    samples: list[dict[str, float]] = []
    with fake_credentials(), Emulator(step=args.rollout) as emulator:
        base = load_settings(config=ROOT / "autopipe.toml", env="rehearsal")
        aws = make_aws(base.with_overrides(endpoint_url=emulator.url))
        stand_in = StandIn(aws, emulator, base, broken=set())
        slack = SlackReceiver()
        os.environ[base.slack_webhook_env] = slack.url
        try:
            settings = base.with_overrides(
                endpoint_url=emulator.url, url=stand_in.url, **PRODUCTION_WAITS
            )
            seed(aws, emulator, settings, [ImageSpec("v1"), ImageSpec("v2")])
            for n in range(args.runs):
                # Rollout lengths spread over one poll interval: every phase of "steady"
                # relative to the poll cadence is sampled once.
                emulator.step = args.rollout + settings.poll_interval * (n + 0.5) / args.runs
                samples.append(one_deploy(emulator, settings, "v1" if n % 2 == 0 else "v2"))
                print(f"  run {n + 1}: {samples[-1]['verdict_seconds']:.2f}s", file=sys.stderr)
        finally:
            os.environ.pop(base.slack_webhook_env, None)
            stand_in.close()
            slack.close()
    verdicts = sorted(s["verdict_seconds"] for s in samples)
    return {
        "benchmark": "deploy_verdict",
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "settings": {**PRODUCTION_WAITS, "rollout_seconds": args.rollout, "runs": args.runs},
        "target_seconds": TARGET_SECONDS,
        "median_seconds": round(median(verdicts), 3),
        "p90_seconds": round(quantiles(verdicts, n=10)[-1], 3) if len(verdicts) > 1 else None,
        "max_seconds": round(verdicts[-1], 3),
        "breakdown_median_seconds": {
            k: round(median(s[k] for s in samples), 3)
            for k in ("detect_seconds", "smoke_seconds", "after_smoke_seconds")
        },
        "samples": [{k: round(v, 3) for k, v in s.items()} for s in samples],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--rollout", type=float, default=2.5, help="seconds per emulated rollout")
    parser.add_argument("--check", action="store_true", help="exit 1 if max > target")
    args = parser.parse_args()
    record = run(args)
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(record, indent=2) + "\n")
    b = record["breakdown_median_seconds"]
    print(
        f"verdict latency over {args.runs} deploys: median {record['median_seconds']:.2f}s, "
        f"p90 {record['p90_seconds']}s, max {record['max_seconds']:.2f}s "
        f"(target ≤ {TARGET_SECONDS:g}s)\n"
        f"  median breakdown: notice steady {b['detect_seconds']:.2f}s + smoke "
        f"{b['smoke_seconds']:.2f}s + unlock/notify {b['after_smoke_seconds']:.2f}s\n"
        f"  written to {RESULTS.relative_to(ROOT)}"
    )
    if args.check and record["max_seconds"] > TARGET_SECONDS:
        sys.exit(1)


if __name__ == "__main__":
    main()
