"""How long the CDK app takes to synthesize (why tests/infra synthesizes once per session).

    UV_PYTHON_DOWNLOADS=never uv run python -m bench.infra_synth [--runs 3]

Each run is a fresh interpreter (so jsii's node process starts cold, as in `make synth`):
import, build the constructs, synthesize with and without cdk-nag. Prints medians and writes
bench/results/infra_synth.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results" / "infra_synth.json"
PROBE = """
import json, sys, time
t0 = time.perf_counter()
import aws_cdk
from infra.app import build_app
t1 = time.perf_counter()
app = build_app(outdir=sys.argv[1], nag=sys.argv[2] == "nag")
t2 = time.perf_counter()
app.synth()
t3 = time.perf_counter()
print(json.dumps({"import": t1 - t0, "construct": t2 - t1, "synth": t3 - t2, "total": t3 - t0}))
"""


def one(nag: bool) -> dict[str, float]:
    env = {**os.environ, "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"}
    with tempfile.TemporaryDirectory() as outdir:
        done = subprocess.run(
            [sys.executable, "-c", PROBE, outdir, "nag" if nag else "plain"],
            capture_output=True, text=True, check=True, env=env,
        )  # fmt: skip
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    runs: dict[str, list[dict[str, float]]] = {"with cdk-nag": [], "without cdk-nag": []}
    for _ in range(args.runs):  # interleaved, so drift hits both alike
        runs["with cdk-nag"].append(one(nag=True))
        runs["without cdk-nag"].append(one(nag=False))
    medians = {
        label: {k: round(statistics.median(r[k] for r in rs), 2) for k in rs[0]}
        for label, rs in runs.items()
    }
    print("| 4 stacks | import | construct | synth | total |\n|---|---|---|---|---|")
    for label, m in medians.items():
        print(
            f"| {label} | {m['import']} s | {m['construct']} s | {m['synth']} s | {m['total']} s |"
        )
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps({"medians": medians, "runs": runs}, indent=2) + "\n")


if __name__ == "__main__":
    main()
