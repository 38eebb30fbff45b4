"""Soak: the container at Fargate size under steady mixed load for 10 minutes.

    uv run --locked python -m bench.soak [--duration 600] [--rate 200] [--connections 64]

Targets: no errors (non-2xx or socket errors) and the server's RSS growing < 5 % from the
baseline (median after the warm-up) to the final window (median at the end). The container is
pinned to core 0; PostgreSQL and this load generator share core 1. See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import threading
import time
from pathlib import Path
from types import FrameType
from typing import Any, NoReturn

from bench.container import API_KEY, IMAGE, ITEMS, seed, start_container
from bench.read_path import source_revision
from bench.services import ServiceError, core_ticks, postgres
from bench.soak_load import LIST_SHARE, READ_SHARE, WRITE_CYCLE, run_load
from bench.soak_report import Sample, build_record, memory, minutes, render, write_json
from testbed import docker as d
from testbed.pg import PostgresServer, PostgresUnavailable, free_port

RESULTS = Path(__file__).with_name("results") / "soak.json"
SERVER_CPU, LOAD_CPU = 0, 1  # bench.container pins the container to core 0
# Rows seeded past ITEMS for the first deletes: more than the creates that can be in flight at
# once (one per connection), so a delete never waits for a create to answer.
RESERVE = 128
CPUS = float(d.FARGATE_LIMITS[d.FARGATE_LIMITS.index("--cpus") + 1])


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.soak",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--duration", type=float, default=600.0, help="seconds of load")
    # Below saturation on purpose (see bench/README.md): 60-75 % of the 0.25 vCPU quota, ~45 % of
    # the ~460 req/s this mix saturates at. Queues drain, so an error is a bug, not overload.
    parser.add_argument("--rate", type=float, default=200.0, help="requests per second")
    parser.add_argument("--connections", type=int, default=64, help="most requests in flight")
    parser.add_argument("--interval", type=float, default=5.0, help="seconds between samples")
    parser.add_argument("--base-image", default=d.LOCAL_BASE)
    parser.add_argument("--output", type=Path, default=RESULTS, help="JSON results file")
    return parser.parse_args(argv)


def read_sample(pid: int, t: float) -> Sample:
    rss = 0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1])
    # utime and stime are fields 14 and 15 of proc(5); fields[0] here is field 3.
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    busy, total = core_ticks()[SERVER_CPU]
    return Sample(t, rss, cpu, busy, total)


class Sampler(threading.Thread):
    """A sample at start + k * interval for k = 0, 1, ... through the end of the load: on a fixed
    grid rather than sleep-after-read, so the windows hold the same number of samples."""

    def __init__(self, pid: int, start: float, interval: float, until: float) -> None:
        super().__init__(daemon=True)
        self.pid, self.start_at, self.interval, self.until = pid, start, interval, until
        self.samples: list[Sample] = []
        self.failure = ""
        self.stopped = threading.Event()

    def run(self) -> None:
        k = 0
        while (at := k * self.interval) <= self.until + 1e-6:
            if self.stopped.wait(max(0.0, self.start_at + at - time.monotonic())):
                return
            try:
                self.samples.append(read_sample(self.pid, time.monotonic() - self.start_at))
            except (OSError, IndexError, ValueError) as exc:  # the server process is gone
                self.failure = f"sampling stopped at {at:g} s: {exc}"
                return
            k += 1


def seed_reserve(pg: PostgresServer, count: int) -> list[int]:
    rows = "SELECT 'reserve ' || g, 'to be deleted', now(), now(), 1 FROM generate_series(1, %d) g"
    pg.psql(
        "INSERT INTO items (name, description, created_at, updated_at, version) " + rows % count,
        "bench",
    )
    ids = pg.psql("SELECT id FROM items WHERE name LIKE 'reserve %' ORDER BY id", "bench")
    return [int(line) for line in ids.split()]


def item_rows(pg: PostgresServer) -> int:
    # The API no longer counts (a COUNT(*) per list call grows with the table): ask the table.
    return int(pg.psql("SELECT count(*) FROM items", "bench"))


def soak(args: argparse.Namespace, config: dict[str, Any]) -> dict[str, Any]:
    d.build(IMAGE, d.ROOT, PYTHON_IMAGE=args.base_image, GIT_SHA="bench", IMAGE_TAG="bench")
    config["image_id"] = d.inspect("image", IMAGE)["Id"][:19]
    with postgres(cpu=LOAD_CPU) as pg:
        url = seed(pg)
        reserve = seed_reserve(pg, RESERVE)
        name, config["cold_start_s"] = start_container(url, port := free_port())
        try:
            pid = int(d.inspect("container", name)["State"]["Pid"])
            rows_before = item_rows(pg)
            idle = read_sample(pid, -1.0)
            start = time.monotonic() + 1.0
            sampler = Sampler(pid, start, args.interval, args.duration)
            sampler.start()
            tally = asyncio.run(
                run_load(port, rate=args.rate, connections=args.connections, start=start,
                         duration=args.duration, items=ITEMS, api_key=API_KEY,
                         reserve=reserve)
            )  # fmt: skip
            sampler.stopped.set()
            sampler.join()
            state = d.inspect("container", name)["State"]
            container = {"running": state["Running"], "oom_killed": state["OOMKilled"],
                         "health": state.get("Health", {}).get("Status", "none")}  # fmt: skip
            rows_after = item_rows(pg) if state["Running"] else -1
        finally:
            d.remove(name)
    container["sampling"] = sampler.failure or "complete"
    try:
        mem = memory(idle, sampler.samples, args.duration, warmup=args.duration / 10)
    except ValueError as exc:  # the server died early, or the run was too short to judge
        raise ServiceError(f"{exc}; container {container}") from exc
    per_minute = minutes(tally, sampler.samples, args.duration, CPUS)
    rows = {"before": rows_before, "after": rows_after}
    return build_record(
        config=config, tally=tally, mem=mem, samples=sampler.samples, rows=per_minute,
        table_rows=rows, container=container,
    )  # fmt: skip


def _interrupted(signum: int, frame: FrameType | None) -> NoReturn:
    raise KeyboardInterrupt  # so that SIGTERM, too, unwinds through every cleanup


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not {SERVER_CPU, LOAD_CPU} <= os.sched_getaffinity(0):
        print("error: needs cores 0 (server) and 1 (load, PostgreSQL)", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, _interrupted)
    # Before any thread or child starts: they inherit the mask (docker CLI, PostgreSQL too).
    os.sched_setaffinity(0, {LOAD_CPU})
    config: dict[str, Any] = {
        "duration": args.duration, "rate": args.rate, "connections": args.connections,
        "interval": args.interval, "image": IMAGE, "cpus": CPUS,
        "limits": " ".join(d.FARGATE_LIMITS), "server_cpu": SERVER_CPU, "load_cpu": LOAD_CPU,
        "items": ITEMS, "reserve": RESERVE,
        "mix": {"read": READ_SHARE, "list": LIST_SHARE,
                **dict.fromkeys(WRITE_CYCLE, round((1 - READ_SHARE - LIST_SHARE) / 3, 4))},
        "revision": source_revision(),
    }  # fmt: skip
    try:
        d.ensure_engine()
        record = soak(args, config)
    except (d.DockerUnavailable, ServiceError, PostgresUnavailable, RuntimeError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("Interrupted", file=sys.stderr)
        return 130
    print(render(record))
    write_json(args.output, record)
    print(f"\nwrote {args.output}", file=sys.stderr)
    reasons = record["targets"]["failures"]
    if reasons:
        print(f"FAILED: {'; '.join(reasons)}", file=sys.stderr)
    return 1 if reasons else 0


if __name__ == "__main__":
    sys.exit(main())
