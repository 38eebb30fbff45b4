"""GET /items pages against a read by id, at 1 k, 1 M and 5 M rows, side by side in one run.

    uv run python -m bench.list_path [--sizes 1000,1000000,5000000] [--duration 3] [--runs 3]

One service (`python -m app`, production settings) on core 0; PostgreSQL and wrk on core 1.
The table grows in place from one size to the next, each step one `INSERT … SELECT` over
`generate_series` (its time is reported). At each size, rounds are interleaved: by id (random
ids over the whole table), the first page, and a page near the end reached through a cursor.
The target: every page's median latency <= 3 x the by-id read's at the same size.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import asdict
from pathlib import Path
from types import FrameType
from typing import Any, NoReturn

from app.items import cursor
from bench.read_path import DATABASE, app_env, migrate, preflight, source_revision
from bench.report import Measurement, Summary, record_header
from bench.services import Server, ServiceError, busy_share, core_ticks, http_get, postgres
from bench.wrk import RANDOM_IDS_SCRIPT, WrkError, run_wrk, wrk_command
from testbed.pg import PostgresServer, PostgresUnavailable, free_port

RESULTS = Path(__file__).with_name("results") / "list_path.json"
MAX_RATIO = 3.0
PAGE = 20


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.list_path",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--sizes", default="1000,1000000,5000000", help="rows, ascending")
    parser.add_argument("--duration", type=float, default=3.0, help="seconds per run")
    parser.add_argument("--runs", type=int, default=3, help="interleaved rounds per size")
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--server-cpu", type=int, default=0)
    parser.add_argument("--load-cpu", type=int, default=1)
    parser.add_argument("--check", action="store_true", help="exit 1 when the target is missed")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    args.sizes = [int(s) for s in args.sizes.split(",")]
    if args.sizes != sorted(args.sizes) or args.sizes[0] <= PAGE:
        parser.error(f"--sizes must ascend and start above {PAGE}")
    return args


def grow(pg: PostgresServer, rows_now: int, rows: int) -> tuple[float, float]:
    """Rows rows_now+1..rows in one statement, then fresh statistics (and a visibility map,
    as autovacuum would leave it): the seconds each took."""
    start = time.monotonic()
    pg.psql(
        "INSERT INTO items (name, description, created_at, updated_at, version) "  # noqa: S608
        f"SELECT 'Item ' || g, 'A sample item', now(), now(), 1 "
        f"FROM generate_series({rows_now + 1:d}, {rows:d}) AS g",
        database=DATABASE,
        timeout=900,  # 4 M rows take ~13 s on a quiet machine, minutes on a busy one
    )
    inserted = time.monotonic()
    pg.psql("VACUUM ANALYZE items", database=DATABASE, timeout=900)
    return inserted - start, time.monotonic() - inserted


def targets(rows: int) -> list[tuple[str, str]]:
    near_end = cursor.encode(rows - PAGE)  # what `next` of the page before the last one says
    return [
        ("by_id", ""),
        ("first_page", f"/items?limit={PAGE}"),
        ("end_page", f"/items?limit={PAGE}&after={near_end}"),
    ]


def measure(
    app: Server, args: argparse.Namespace, path: str, rows: int, *, duration: float, round_no: int
) -> Measurement:
    url = f"http://127.0.0.1:{app.port}{path or '/'}"
    script = (RANDOM_IDS_SCRIPT, (str(rows),)) if not path else (None, ())
    command = wrk_command(
        url,
        cpu=args.load_cpu,
        connections=args.connections,
        duration=duration,
        script=script[0],
        script_args=script[1],
    )
    cpu_before, ticks_before = app.cpu_seconds(), core_ticks()
    result = run_wrk(command, duration=duration)
    cpu, ticks = app.cpu_seconds() - cpu_before, core_ticks()
    return Measurement(
        round=round_no,
        wrk=result,
        server_cpu=cpu / duration,
        load_core_busy=busy_share(ticks_before, ticks, args.load_cpu),
        others_on_server_core=max(
            busy_share(ticks_before, ticks, args.server_cpu) - cpu / duration, 0
        ),
    )


def benchmark(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    sizes: dict[str, Any] = {}
    with ExitStack() as stack:
        pg = stack.enter_context(postgres(cpu=args.load_cpu))
        url = pg.create_database(DATABASE)
        migrate(url)
        app = Server(
            "app",
            [sys.executable, "-m", "app"],
            port=(port := free_port()),
            cpu=args.server_cpu,
            env=app_env(url, port),
            log_path=workdir / "app.log",
        )
        stack.callback(app.stop)
        app.start("/health")
        rows_now = 0
        for rows in args.sizes:
            insert_s, vacuum_s = grow(pg, rows_now, rows)
            print(
                f"{rows:,} rows: {rows - rows_now:,} inserted in {insert_s:.1f} s, "
                f"vacuum analyze {vacuum_s:.1f} s",
                file=sys.stderr,
            )
            rows_now = rows
            plan = targets(rows)
            for _key, path in plan:
                status, body = http_get(app.port, path or f"/items/{rows}")
                if status != 200 or (path and len(json.loads(body)["items"]) != PAGE):
                    raise ServiceError(f"GET {path or '/items/{id}'}: {status} {body[:200]!r}")
                measure(app, args, path, rows, duration=args.warmup, round_no=0)
            runs: dict[str, list[Measurement]] = {key: [] for key, _ in plan}
            for round_no in range(1, args.runs + 1):
                for key, path in plan:
                    runs[key].append(
                        measure(app, args, path, rows, duration=args.duration, round_no=round_no)
                    )
            summaries = {key: Summary(key, key, runs[key]) for key in runs}
            sizes[str(rows)] = {
                "insert_s": round(insert_s, 2),
                "vacuum_s": round(vacuum_s, 2),
                "summaries": summaries,
            }
    return sizes


def report(sizes: dict[str, Any]) -> tuple[str, bool]:
    lines = [
        "| rows | insert s | by id p50 ms | first page p50 ms | end page p50 ms "
        "| first / by id | end / by id | errors |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    met = True
    for rows, entry in sizes.items():
        s = entry["summaries"]
        by_id = s["by_id"].p50_ms
        first, end = s["first_page"].p50_ms / by_id, s["end_page"].p50_ms / by_id
        errors = sum(x.errors for x in s.values())
        met = met and max(first, end) <= MAX_RATIO and errors == 0
        lines.append(
            f"| {int(rows):,} | {entry['insert_s']:.1f} | {by_id:.2f} "
            f"| {s['first_page'].p50_ms:.2f} | {s['end_page'].p50_ms:.2f} "
            f"| {first:.2f} | {end:.2f} | {errors} |"
        )
    lines.append(f"\ntarget: every page <= {MAX_RATIO:g} x by id; {'MET' if met else 'NOT MET'}")
    return "\n".join(lines), met


def write_json(path: Path, sizes: dict[str, Any], config: dict[str, Any], met: bool) -> None:
    record = {
        **record_header("list_path", config),
        "sizes": {
            rows: {
                "insert_s": entry["insert_s"],
                "vacuum_s": entry["vacuum_s"],
                **{
                    key: {
                        "median": {"p50_ms": s.p50_ms, "p99_ms": s.p99_ms, "rps": s.rps},
                        "errors": s.errors,
                        "disturbed_rounds": s.disturbed_runs,
                        "runs": [asdict(m) for m in s.runs],
                    }
                    for key, s in entry["summaries"].items()
                },
            }
            for rows, entry in sizes.items()
        },
        "targets": {"max_page_to_by_id": MAX_RATIO, "met": met},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(record, indent=2) + "\n")
    tmp.replace(path)


def _interrupted(signum: int, frame: FrameType | None) -> NoReturn:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    problem = preflight(args)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, _interrupted)
    with tempfile.TemporaryDirectory(prefix="autopipe-bench-") as workdir:
        try:
            sizes = benchmark(args, Path(workdir))
        except (ServiceError, WrkError, PostgresUnavailable, OSError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            print("Interrupted", file=sys.stderr)
            return 130
    table, met = report(sizes)
    print(table)
    config = {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}
    config["revision"] = source_revision()
    write_json(args.output, sizes, config, met)
    print(f"\nwrote {args.output}", file=sys.stderr)
    return 1 if args.check and not met else 0


if __name__ == "__main__":
    sys.exit(main())
