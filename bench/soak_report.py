"""The soak bench's arithmetic (RSS growth, slope, per-minute rows), its verdict, its printed
report and its JSON record."""

from __future__ import annotations

import json
import statistics
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.report import record_header
from bench.soak_load import Tally

MAX_ERRORS = 0
MAX_RSS_GROWTH_PERCENT = 5.0
# More than this of a late share or of the server's core going to others makes a run suspect.
MAX_LATE_SHARE = 0.01
MAX_OTHERS_ON_SERVER_CORE = 0.05


@dataclass(frozen=True)
class Sample:
    t: float  # seconds since the load started (negative: before it)
    rss_kib: int  # VmRSS of the server process
    cpu_s: float  # the server's user + system CPU time so far
    core_busy: int  # clock ticks the server's core was busy so far, whoever ran on it
    core_total: int

    @property
    def rss_mb(self) -> float:
        return self.rss_kib / 1024


@dataclass(frozen=True)
class Memory:
    idle_mb: float  # before any load: what the warm-up adds is not growth
    baseline_mb: float  # median over [warmup, warmup + window)
    final_mb: float  # median over the last `window` seconds
    peak_mb: float
    growth_percent: float  # final against baseline
    slope_mb_per_min: float  # least squares over every sample after the warm-up
    warmup_s: float
    window_s: float


def memory(idle: Sample, samples: list[Sample], duration: float, warmup: float) -> Memory:
    # Medians of windows, not single samples: RSS wobbles with the allocator and the GC, and one
    # unlucky sample at either end would make or hide "growth". The slope over everything after
    # the warm-up catches a slow leak that a short run's two windows could miss.
    window = warmup
    base = [s.rss_mb for s in samples if warmup <= s.t < warmup + window]
    final = [s.rss_mb for s in samples if s.t >= duration - window]
    after = [s for s in samples if s.t >= warmup]
    if not base or not final or len(after) < 2:
        raise ValueError("too few RSS samples: a longer --duration or a shorter --interval")
    fit = statistics.linear_regression([s.t / 60 for s in after], [s.rss_mb for s in after])
    baseline, last = statistics.median(base), statistics.median(final)
    return Memory(
        idle_mb=idle.rss_mb,
        baseline_mb=baseline,
        final_mb=last,
        peak_mb=max(s.rss_mb for s in samples),
        growth_percent=(last - baseline) / baseline * 100,
        slope_mb_per_min=fit.slope,
        warmup_s=warmup,
        window_s=window,
    )


def _nearest(samples: list[Sample], t: float) -> Sample:
    return min(samples, key=lambda s: abs(s.t - t))


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


def minutes(
    tally: Tally, samples: list[Sample], duration: float, cpus: float
) -> list[dict[str, Any]]:
    rows = []
    for i, bucket in enumerate(tally.buckets):
        lo, hi = i * tally.bucket_s, min((i + 1) * tally.bucket_s, duration)
        first, last = _nearest(samples, lo), _nearest(samples, hi)
        wall = max(last.t - first.t, 1e-9)
        server_cores = (last.cpu_s - first.cpu_s) / wall
        ticks = max(last.core_total - first.core_total, 1)
        core_busy = (last.core_busy - first.core_busy) / ticks
        done = sum(bucket.ok.values()) + sum(bucket.errors.values())
        rows.append({
            "minute": i + 1,
            "requests": done,
            "requests_per_sec": round(done / (hi - lo), 1),
            "ok_by_op": dict(bucket.ok),
            "errors": dict(bucket.errors),
            "late": bucket.late,
            "p50_ms": round(_percentile(bucket.latencies_ms, 0.50), 2),
            "p99_ms": round(_percentile(bucket.latencies_ms, 0.99), 2),
            "server_cpu_of_quota": round(server_cores / cpus, 3),
            "others_on_server_core": round(max(0.0, core_busy - server_cores), 3),
            "rss_mb": round(last.rss_mb, 1),
        })  # fmt: skip
    return rows


def failures(errors: Counter[str], mem: Memory, container: dict[str, Any]) -> list[str]:
    reasons = []
    if sum(errors.values()) > MAX_ERRORS:
        kinds = ", ".join(f"{kind}: {n}" for kind, n in errors.most_common())
        reasons.append(f"{sum(errors.values())} errors ({kinds}); target {MAX_ERRORS}")
    if mem.growth_percent >= MAX_RSS_GROWTH_PERCENT:
        reasons.append(
            f"RSS grew {mem.growth_percent:+.1f} % (baseline {mem.baseline_mb:.1f} MB → "
            f"final {mem.final_mb:.1f} MB); target < {MAX_RSS_GROWTH_PERCENT:g} %"
        )
    if not container["running"] or container["oom_killed"]:
        reasons.append(f"the container did not survive the soak: {container}")
    return reasons


def render(record: dict[str, Any]) -> str:
    c, mem, req = record["config"], record["rss_mb"], record["requests"]
    lines = [
        f"soak: {c['duration']:g} s at {c['rate']:g} req/s (open loop, <= {c['connections']} "
        f"connections), {c['image']} at {c['cpus']:g} vCPU / 512 MiB, revision {c['revision']}",
        "",
        "| minute | req/s | p50 ms | p99 ms | errors | late | server CPU / quota "
        "| others on its core | RSS MB |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for m in record["minutes"]:
        lines.append(
            f"| {m['minute']} | {m['requests_per_sec']:,.1f} | {m['p50_ms']:.1f} | "
            f"{m['p99_ms']:.1f} | {sum(m['errors'].values())} | {m['late']} | "
            f"{m['server_cpu_of_quota']:.0%} | {m['others_on_server_core']:.0%} | "
            f"{m['rss_mb']:.1f} |"
        )
    ops = " · ".join(f"{op} {n:,}" for op, n in req["ok_by_op"].items())
    kinds = ", ".join(f"{k}: {n}" for k, n in record["errors"]["by_kind"].items()) or "none"
    rows = record["table_rows"]
    lines += [
        "",
        f"requests: {req['total']:,} ({req['per_second']:,.1f}/s; {ops}); "
        f"late > 10 ms: {req['late']:,}; unsent: {req['unsent']:,}; "
        f"table rows {rows['before']} → {rows['after']}",
        f"errors: {record['errors']['total']} ({kinds})",
        f"RSS of the server process, every {c['interval']:g} s: idle {mem['idle']:.1f} MB, "
        f"baseline {mem['baseline']:.1f} (median {mem['warmup_s']:g} to "
        f"{mem['warmup_s'] + mem['window_s']:g} s), final {mem['final']:.1f} (median of the "
        f"last {mem['window_s']:g} s), peak {mem['peak']:.1f}",
        f"RSS growth {mem['growth_percent']:+.2f} % (target < {MAX_RSS_GROWTH_PERCENT:g} %), "
        f"slope {mem['slope_mb_per_min']:+.3f} MB/min after the warm-up",
    ]
    if req["late"] + req["unsent"] > MAX_LATE_SHARE * req["total"]:
        lines.append(
            "WARNING: over 1 % of requests went out late or not at all: the rate was not held ("
            "server saturated, or the load core busy)"
        )
    busy = [m["minute"] for m in record["minutes"]
            if m["others_on_server_core"] > MAX_OTHERS_ON_SERVER_CORE]  # fmt: skip
    if busy:
        lines.append(
            f"WARNING: other processes used > {MAX_OTHERS_ON_SERVER_CORE:.0%} of the server's "
            f"core in minute(s) {busy}"
        )
    reasons = record["targets"]["failures"]
    lines.append("targets MET" if not reasons else "targets NOT MET: " + "; ".join(reasons))
    return "\n".join(lines)


def build_record(
    *, config: dict[str, Any], tally: Tally, mem: Memory, samples: list[Sample],
    rows: list[dict[str, Any]], table_rows: dict[str, int], container: dict[str, Any],
) -> dict[str, Any]:  # fmt: skip
    ok: Counter[str] = Counter()
    errors: Counter[str] = Counter()
    for bucket in tally.buckets:
        ok.update(bucket.ok)
        errors.update(bucket.errors)
    total = sum(ok.values()) + sum(errors.values())
    return {
        **record_header("soak", config),
        "requests": {
            "total": total,
            "per_second": round(total / config["duration"], 1),
            "ok_by_op": dict(ok.most_common()),
            "late": sum(b.late for b in tally.buckets),
            "reconnects": tally.reconnects,
            "unsent": tally.unsent,
        },
        "errors": {"total": sum(errors.values()), "by_kind": dict(errors.most_common())},
        "table_rows": table_rows,
        "rss_mb": {
            "idle": round(mem.idle_mb, 2),
            "baseline": round(mem.baseline_mb, 2),
            "final": round(mem.final_mb, 2),
            "peak": round(mem.peak_mb, 2),
            "growth_percent": round(mem.growth_percent, 3),
            "slope_mb_per_min": round(mem.slope_mb_per_min, 4),
            "warmup_s": mem.warmup_s,
            "window_s": mem.window_s,
        },
        "container": container,
        "minutes": rows,
        "targets": {
            "max_errors": MAX_ERRORS,
            "max_rss_growth_percent": MAX_RSS_GROWTH_PERCENT,
            "met": not failures(errors, mem, container),
            "failures": failures(errors, mem, container),
        },
        # [seconds since the load started, VmRSS MB, server CPU seconds so far]
        "samples": [[round(s.t, 2), round(s.rss_mb, 2), round(s.cpu_s, 2)] for s in samples],
    }


def write_json(path: Path, record: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # Write then rename, so an interrupted run never leaves half a file behind.
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(record, indent=2) + "\n")
    tmp.replace(path)
