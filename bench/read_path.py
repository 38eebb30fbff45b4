"""GET /items/{id} from PostgreSQL against a bare FastAPI endpoint, side by side in one run.

    uv run python -m bench.read_path [--duration 10] [--runs 3] [--connections 64] [--check]

Servers on core 0, wrk (and PostgreSQL, standing in for RDS on another host) on core 1.
Rounds are interleaved (bare, app, app /health, bare, ...) so that drift on the machine hits
every server alike; the table shows medians. See bench/README.md for how to read it.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import FrameType
from typing import Any, NoReturn

from bench import candidates
from bench.bare_app import SEEDED_AT, SEEDED_DESCRIPTION
from bench.report import Measurement, Summary, markdown, verdict, write_json
from bench.services import ROOT, Server, ServiceError, busy_share, core_ticks, http_get, postgres
from bench.wrk import RANDOM_IDS_SCRIPT, WrkError, run_wrk, wrk_command
from testbed.pg import PostgresServer, PostgresUnavailable, free_port

RESULTS = Path(__file__).with_name("results") / "read_path.json"
API_KEY = "bench-key-0123456789"
DATABASE = "bench"


@dataclass(frozen=True)
class Target:
    key: str
    label: str
    server: Server
    path: str  # a fixed path, or "" for random item ids from the Lua script

    def command(self, args: argparse.Namespace, duration: float) -> list[str]:
        url = f"http://127.0.0.1:{self.server.port}{self.path or '/'}"
        random_ids = (RANDOM_IDS_SCRIPT, (str(args.items),)) if not self.path else (None, ())
        return wrk_command(
            url,
            cpu=args.load_cpu,
            connections=args.connections,
            duration=duration,
            script=random_ids[0],
            script_args=random_ids[1],
        )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.read_path",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per run")
    parser.add_argument("--runs", type=int, default=3, help="interleaved rounds")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds per server, discarded")
    parser.add_argument("--items", type=int, default=1000, help="seeded rows; ids are 1..N")
    parser.add_argument("--server-cpu", type=int, default=0)
    parser.add_argument("--load-cpu", type=int, default=1)
    parser.add_argument(
        "--app-server",
        choices=candidates.NAMES,
        default="shipped",
        help="how the service is served (bench/candidates.py); the baseline never changes",
    )
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument("--output", type=Path, default=RESULTS, help="JSON results file")
    return parser.parse_args(argv)


def preflight(args: argparse.Namespace) -> str | None:
    missing = [tool for tool in ("wrk", "taskset") if shutil.which(tool) is None]
    if missing:
        return f"{' and '.join(missing)} not found (Debian: apt-get install -y wrk util-linux)"
    cpus = os.sched_getaffinity(0)
    if args.server_cpu == args.load_cpu or not {args.server_cpu, args.load_cpu} <= cpus:
        return f"needs two distinct usable cores for --server-cpu/--load-cpu (have {sorted(cpus)})"
    return None


def app_env(database_url: str, port: int | None = None) -> dict[str, str]:
    """The production configuration, JSON logs and one access line per request included.
    DB_POOL_SIZE and friends pass through from the caller's environment."""
    inherited = {k: v for k, v in os.environ.items() if not k.startswith(("API_KEYS", "DATABASE"))}
    env = {
        **inherited,
        "ENV": "production",
        "LOG_FORMAT": "json",
        "LOG_LEVEL": "INFO",
        "API_KEYS": API_KEY,
        "DATABASE_URL": database_url,
        "HOST": "127.0.0.1",
        "WORKERS": "1",
        "SHUTDOWN_TIMEOUT": "5",
    }
    if port is not None:
        env["PORT"] = str(port)
    return env


def migrate(url: str) -> None:
    """The schema as production gets it: `python -m app.migrate`."""
    done = subprocess.run(
        [sys.executable, "-m", "app.migrate", "--attempts", "5"],
        cwd=ROOT,
        env=app_env(url),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        raise ServiceError(
            f"python -m app.migrate exited with {done.returncode}:\n{done.stdout}{done.stderr}"
        )


def prepare_database(pg: PostgresServer, items: int) -> str:
    url = pg.create_database(DATABASE)
    migrate(url)
    # Straight SQL: 1000 rows in one statement, with the values bench.bare_app answers with.
    seeded_at = SEEDED_AT.isoformat()
    pg.psql(
        "INSERT INTO items (name, description, created_at, updated_at, version) "  # noqa: S608
        f"SELECT 'Item ' || g, '{SEEDED_DESCRIPTION}', '{seeded_at}', '{seeded_at}', 1 "
        f"FROM generate_series(1, {items:d}) AS g; ANALYZE items",
        database=DATABASE,
    )
    return url


def check_same_document(app: Server, bare: Server, item_ids: tuple[int, ...]) -> None:
    """The baseline is only a baseline if it answers what the service answers."""
    for item_id in item_ids:
        answers = [http_get(server.port, f"/items/{item_id}") for server in (app, bare)]
        if any(status != 200 for status, _ in answers):
            raise ServiceError(f"GET /items/{item_id}: {[s for s, _ in answers]}, expected 200s")
        app_doc, bare_doc = (_normalized(json.loads(body)) for _, body in answers)
        if app_doc != bare_doc:
            raise ServiceError(f"documents differ for id {item_id}:\n{app_doc}\n{bare_doc}")


def _normalized(document: dict[str, Any]) -> dict[str, Any]:
    # Both are RFC 3339; orjson writes UTC as +00:00 and pydantic as Z.
    return {k: datetime.fromisoformat(v) if k.endswith("_at") else v for k, v in document.items()}


def measure(target: Target, args: argparse.Namespace, round_no: int) -> Measurement:
    cpu_before, ticks_before = target.server.cpu_seconds(), core_ticks()
    result = run_wrk(target.command(args, args.duration), duration=args.duration)
    cpu_after, ticks_after = target.server.cpu_seconds(), core_ticks()
    server_cpu = (cpu_after - cpu_before) / args.duration
    return Measurement(
        round=round_no,
        wrk=result,
        server_cpu=server_cpu,
        load_core_busy=busy_share(ticks_before, ticks_after, args.load_cpu),
        # What else ran on the server's core: other people's processes skew the run.
        others_on_server_core=max(
            busy_share(ticks_before, ticks_after, args.server_cpu) - server_cpu, 0.0
        ),
    )


def benchmark(args: argparse.Namespace, workdir: Path) -> list[Summary]:
    with ExitStack() as stack:
        pg = stack.enter_context(postgres(cpu=args.load_cpu))
        url = prepare_database(pg, args.items)
        app_port, bare_port = free_port(), free_port()
        app = Server(
            "app",
            candidates.command(args.app_server, app_port),
            port=app_port,
            cpu=args.server_cpu,
            env=app_env(url, app_port),
            log_path=workdir / "app.log",
        )
        bare = Server(
            "bare",
            [sys.executable, "-m", "bench.bare_app", "--port", str(bare_port)],
            port=bare_port,
            cpu=args.server_cpu,
            env=dict(os.environ),
            log_path=workdir / "bare.log",
        )
        for server, ready_path in ((app, "/health"), (bare, "/items/1")):
            stack.callback(server.stop)
            server.start(ready_path)
        check_same_document(app, bare, (1, args.items))

        targets = [
            Target("bare", "bare FastAPI GET /items/{id}", bare, ""),
            Target("app", "app GET /items/{id}", app, ""),
            Target("app_health", "app GET /health (no DB)", app, "/health"),
        ]
        # Warm-up fills the pool, asyncpg's prepared statements and SQLAlchemy's compiled cache.
        for target in targets:
            print(f"warming up {target.label} ({args.warmup:g}s)", file=sys.stderr)
            run_wrk(target.command(args, args.warmup), duration=args.warmup)
        runs: dict[str, list[Measurement]] = {t.key: [] for t in targets}
        for round_no in range(1, args.runs + 1):
            for target in targets:
                m = measure(target, args, round_no)
                runs[target.key].append(m)
                print(
                    f"round {round_no}/{args.runs} {target.label}: "
                    f"{m.wrk.requests_per_sec:,.0f} req/s, p99 {m.wrk.p99_ms:.2f} ms",
                    file=sys.stderr,
                )
        return [Summary(t.key, t.label, runs[t.key]) for t in targets]


def source_revision() -> str:
    """The commit measured, marked dirty when app/ has local changes: results travel to READMEs."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
        changes = subprocess.run(
            ["git", "status", "--porcelain", "--", "app"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{head}-dirty" if changes else head


def _interrupted(signum: int, frame: FrameType | None) -> NoReturn:
    raise KeyboardInterrupt  # so that SIGTERM, too, unwinds through every cleanup


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    problem = preflight(args)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, _interrupted)
    workdir = Path(tempfile.mkdtemp(prefix="autopipe-bench-"))
    try:
        summaries = benchmark(args, workdir)
    except (ServiceError, WrkError, PostgresUnavailable, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("Interrupted", file=sys.stderr)
        return 130
    finally:
        shutil.rmtree(workdir, ignore_errors=True)  # the server logs: gigabytes over long runs

    by_key = {s.key: s for s in summaries}
    result = verdict(by_key["bare"], by_key["app"])
    print(markdown(summaries, result, load_cpu=args.load_cpu))
    config = {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}
    config["db_pool_size"] = os.environ.get("DB_POOL_SIZE", "default")
    config["revision"] = source_revision()
    write_json(args.output, summaries, result, config)
    print(f"\nwrote {args.output}", file=sys.stderr)
    return 1 if args.check and not result.met else 0


if __name__ == "__main__":
    sys.exit(main())
