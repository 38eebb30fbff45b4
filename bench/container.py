"""The container at Fargate size, next to the same server on one bare core, in one run.

    uv run python -m bench.container [--duration 10] [--runs 3] [--starts 5]

Figures: MB the image adds to its base; cold start (`docker run` → first `/ready` 200) at
0.25 vCPU; GET /items/{id} req/s and p99 inside the container (0.25 vCPU, 512 MiB, read-only,
no capabilities) and from `python -m app` pinned to one core, interleaved; the container's peak
RSS under that load. PostgreSQL and wrk share core 1; the servers get core 0.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from bench.services import Server, http_get, postgres
from bench.wrk import RANDOM_IDS_SCRIPT, WrkResult, run_wrk, wrk_command
from testbed import docker as d
from testbed.pg import PostgresServer, free_port

RESULTS = Path(__file__).with_name("results") / "container.json"
IMAGE = "auto-pipe-api:bench"
API_KEY = "bench-key-0123456789"
ITEMS = 1000


def seed(pg: PostgresServer) -> str:
    url = pg.create_database("bench")
    from alembic import command  # noqa: PLC0415 - only this script needs alembic here

    from app.migrate import alembic_config  # noqa: PLC0415

    command.upgrade(alembic_config(url), "head")
    rows = "SELECT 'item ' || g, 'A sample item', now(), now(), 1 FROM generate_series(1, %d) g"
    insert = "INSERT INTO items (name, description, created_at, updated_at, version) "
    pg.psql(insert + rows % ITEMS, "bench")
    return url.replace("+asyncpg", "")


def start_container(url: str, port: int) -> tuple[str, float]:
    name = f"autopipe-bench-{uuid.uuid4().hex[:8]}"
    env = {"HOST": "127.0.0.1", "PORT": str(port), "DATABASE_URL": url, "API_KEYS": API_KEY}
    started = time.monotonic()
    d.run_detached(IMAGE, name=name, env=env, extra=[*d.FARGATE_LIMITS, "--cpuset-cpus", "0"])
    while time.monotonic() - started < 60:
        try:
            if http_get(port, "/ready", timeout=1)[0] == 200:
                return name, time.monotonic() - started
        except OSError:
            pass
        time.sleep(0.02)
    raise RuntimeError(f"{name} never became ready:\n{d.docker('logs', name).stdout}")


class RssSampler(threading.Thread):
    """Peak resident memory of the container's processes, sampled every 100 ms."""

    def __init__(self, name: str) -> None:
        super().__init__(daemon=True)
        self.pid = int(d.inspect("container", name)["State"]["Pid"])
        self.peak_kib = 0
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.is_set():
            for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    self.peak_kib = max(self.peak_kib, int(line.split()[1]))
            time.sleep(0.1)


def load(port: int, args: argparse.Namespace) -> WrkResult:
    command = wrk_command(
        f"http://127.0.0.1:{port}/items/1",
        cpu=1,
        connections=args.connections,
        duration=args.duration,
        script=RANDOM_IDS_SCRIPT,
        script_args=(str(ITEMS),),
    )
    return run_wrk(command, duration=args.duration)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.container", description=__doc__)
    parser.add_argument("--duration", type=float, default=10)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--starts", type=int, default=5)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--base-image", default=d.LOCAL_BASE)
    args = parser.parse_args(argv)
    d.ensure_engine()
    d.build(IMAGE, d.ROOT, PYTHON_IMAGE=args.base_image, GIT_SHA="bench", IMAGE_TAG="bench")
    added_mb = (
        d.inspect("image", IMAGE)["Size"] - d.inspect("image", args.base_image)["Size"]
    ) / 1e6

    rows: dict[str, list[WrkResult]] = {"container (0.25 vCPU, 512 MiB)": [], "bare core": []}
    cold: list[float] = []
    peak_rss_mb = 0.0
    with postgres(cpu=1) as pg:
        url = seed(pg)
        for _ in range(args.starts):
            name, seconds = start_container(url, free_port())
            cold.append(seconds)
            d.remove(name)
        port = free_port()
        env = {"PORT": str(port), "HOST": "127.0.0.1", "DATABASE_URL": url, "API_KEYS": API_KEY,
               "ENV": "production", "LOG_FORMAT": "json", "PATH": "/usr/bin:/bin"}  # fmt: skip
        bare = Server("bare core", [sys.executable, "-m", "app"], port=port, cpu=0, env=env,
                      log_path=RESULTS.with_name("container-bare.log"))  # fmt: skip
        for _ in range(args.runs):
            name, _seconds = start_container(url, cport := free_port())
            sampler = RssSampler(name)
            sampler.start()
            try:
                load(cport, argparse.Namespace(**{**vars(args), "duration": 2}))  # warm-up
                rows["container (0.25 vCPU, 512 MiB)"].append(load(cport, args))
            finally:
                sampler.stopped.set()
                sampler.join()
                d.remove(name)
            peak_rss_mb = max(peak_rss_mb, sampler.peak_kib / 1024)
            bare.start("/ready")
            try:
                load(port, argparse.Namespace(**{**vars(args), "duration": 2}))
                rows["bare core"].append(load(port, args))
            finally:
                bare.stop()
    report(added_mb, cold, peak_rss_mb, rows)
    return 0


def report(
    added_mb: float, cold: list[float], rss: float, rows: dict[str, list[WrkResult]]
) -> None:
    med = {k: {"rps": statistics.median(r.requests_per_sec for r in v),
               "p99_ms": statistics.median(r.p99_ms for r in v),
               "errors": sum(r.errors for r in v)} for k, v in rows.items()}  # fmt: skip
    box, core = med["container (0.25 vCPU, 512 MiB)"], med["bare core"]
    ratio = box["rps"] / core["rps"]
    print(f"image adds {added_mb:.1f} MB to its base (target <= 60)")
    print(
        f"cold start to /ready: median {statistics.median(cold):.2f} s of {len(cold)} (target <= 3)"
    )
    print(f"peak RSS under load: {rss:.0f} MB (target <= 150)")
    print("| server | req/s | p99 ms | errors |\n|---|---:|---:|---:|")
    for key, value in med.items():
        print(f"| {key} | {value['rps']:,.0f} | {value['p99_ms']:.1f} | {value['errors']} |")
    print(f"container / bare core: {ratio:.2f} (target >= 0.2)")
    RESULTS.parent.mkdir(exist_ok=True)
    data: dict[str, Any] = {"image_added_mb": added_mb, "cold_start_s": cold, "peak_rss_mb": rss,
                            "medians": med, "ratio": ratio}  # fmt: skip
    RESULTS.write_text(json.dumps(data, indent=2) + "\n")


if __name__ == "__main__":
    sys.exit(main())
