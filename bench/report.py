"""Medians, the markdown table, the targets, and the JSON record of one benchmark run."""

from __future__ import annotations

import json
import os
import platform
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from statistics import median
from typing import Any

from bench.wrk import WrkResult

# From the issue: the service against the bare endpoint, measured in the same run.
MIN_RATIO = 0.6
MAX_P99_MS = 15.0
# More than this of the server's core going to other processes makes a run suspect.
MAX_OTHERS_ON_SERVER_CORE = 0.05


@dataclass(frozen=True)
class Measurement:
    round: int
    wrk: WrkResult
    server_cpu: float  # cores the server used on average (1.0 = its whole core)
    load_core_busy: float  # share of the load generator's core in use (wrk, and PostgreSQL)
    others_on_server_core: float  # share of the server's core used by anything but the server


@dataclass(frozen=True)
class Summary:
    key: str
    label: str
    runs: list[Measurement]

    @property
    def rps(self) -> float:
        return median(m.wrk.requests_per_sec for m in self.runs)

    @property
    def p50_ms(self) -> float:
        return median(m.wrk.p50_ms for m in self.runs)

    @property
    def p99_ms(self) -> float:
        return median(m.wrk.p99_ms for m in self.runs)

    @property
    def server_cpu(self) -> float:
        return median(m.server_cpu for m in self.runs)

    @property
    def load_core_busy(self) -> float:
        return median(m.load_core_busy for m in self.runs)

    @property
    def errors(self) -> int:
        return sum(m.wrk.errors for m in self.runs)

    @property
    def disturbed_runs(self) -> list[int]:
        return [m.round for m in self.runs if m.others_on_server_core > MAX_OTHERS_ON_SERVER_CORE]


@dataclass(frozen=True)
class Verdict:
    ratio: float  # median app req/s over median bare req/s
    round_ratios: list[float]  # the same, round by round: shows how steady the ratio is
    app_p99_ms: float
    errors: int

    @property
    def met(self) -> bool:
        return self.ratio >= MIN_RATIO and self.app_p99_ms <= MAX_P99_MS and self.errors == 0


def verdict(bare: Summary, app: Summary) -> Verdict:
    rounds = zip(app.runs, bare.runs, strict=True)
    return Verdict(
        ratio=app.rps / bare.rps,
        round_ratios=[a.wrk.requests_per_sec / b.wrk.requests_per_sec for a, b in rounds],
        app_p99_ms=app.p99_ms,
        errors=app.errors + bare.errors,
    )


def markdown(summaries: list[Summary], result: Verdict, *, load_cpu: int) -> str:
    lines = [
        f"| server | req/s | p50 ms | p99 ms | server CPU | core {load_cpu} busy | errors |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for s in summaries:
        lines.append(
            f"| {s.label} | {s.rps:,.0f} | {s.p50_ms:.2f} | {s.p99_ms:.2f} "
            f"| {s.server_cpu:.0%} | {s.load_core_busy:.0%} | {s.errors} |"
        )
    rounds = ", ".join(f"{r:.2f}" for r in result.round_ratios)
    lines += [
        "",
        f"app / bare req/s: **{result.ratio:.2f}** (target >= {MIN_RATIO}; by round: {rounds})",
        f"app p99: **{result.app_p99_ms:.1f} ms** (target <= {MAX_P99_MS:g} ms)",
        f"errors: {result.errors}; targets {'MET' if result.met else 'NOT MET'}",
    ]
    for s in summaries:
        if s.disturbed_runs:
            lines.append(
                f"WARNING: other processes used > {MAX_OTHERS_ON_SERVER_CORE:.0%} of the server's "
                f"core during {s.label} round(s) {s.disturbed_runs}: rerun on a quiet machine"
            )
    return "\n".join(lines)


def record_header(benchmark: str, config: dict[str, Any]) -> dict[str, Any]:
    """What every results file starts with: which bench, when, on what, with which settings."""
    return {
        "benchmark": benchmark,
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "kernel": platform.release(),
            "python": platform.python_version(),
        },
        "config": config,
    }


def write_json(
    path: Path, summaries: list[Summary], result: Verdict, config: dict[str, Any]
) -> None:
    record = {
        **record_header("read_path", config),
        "servers": {
            s.key: {
                "label": s.label,
                "median": {
                    "requests_per_sec": s.rps,
                    "p50_ms": s.p50_ms,
                    "p99_ms": s.p99_ms,
                    "server_cpu": s.server_cpu,
                    "load_core_busy": s.load_core_busy,
                },
                "errors": s.errors,
                "disturbed_rounds": s.disturbed_runs,
                "runs": [asdict(m) for m in s.runs],
            }
            for s in summaries
        },
        "ratio_app_to_bare": result.ratio,
        "round_ratios": result.round_ratios,
        "targets": {"min_ratio": MIN_RATIO, "max_p99_ms": MAX_P99_MS, "met": result.met},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    # Write then rename, so an interrupted run never leaves half a file behind.
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(record, indent=2) + "\n")
    tmp.replace(path)
