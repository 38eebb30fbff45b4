"""The processes a benchmark owns: HTTP servers pinned to a core, and PostgreSQL.

Every server runs in its own session (process group), so that stopping it also stops whatever
it started, and nothing else: we signal our own process groups by id, never by name.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

from testbed.pg import PostgresServer

ROOT = Path(__file__).resolve().parents[1]


class ServiceError(RuntimeError):
    """A process did not start, or did not answer as it should."""


def http_get(port: int, path: str, timeout: float = 5.0) -> tuple[int, bytes]:
    # http.client, not urllib or httpx: those honour *_PROXY variables, and benchmark traffic
    # must never leave loopback.
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


class Server:
    """`command` run under `taskset -c <cpu>`, stdout and stderr to `log_path`."""

    def __init__(
        self,
        name: str,
        command: list[str],
        *,
        port: int,
        cpu: int,
        env: dict[str, str],
        log_path: Path,
    ) -> None:
        self.name = name
        self.command = ["taskset", "-c", str(cpu), *command]
        self.port = port
        self.env = env
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        # taskset execs the command, so this is the server's own pid.
        assert self.process is not None
        return self.process.pid

    def start(self, ready_path: str, timeout: float = 30.0) -> None:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self.command,
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ServiceError(
                    f"{self.name} exited with {self.process.returncode}:\n{self.tail()}"
                )
            with contextlib.suppress(OSError):
                if http_get(self.port, ready_path, timeout=1)[0] == 200:
                    return
            time.sleep(0.1)
        raise ServiceError(
            f"{self.name} did not answer {ready_path} in {timeout:g}s:\n{self.tail()}"
        )

    def stop(self, timeout: float = 10.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        # SIGTERM first: uvicorn drains and runs the lifespan shutdown (engine disposal).
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=timeout)

    def cpu_seconds(self) -> float:
        """User + system CPU time the server has used so far."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        # utime and stime are fields 14 and 15 of proc(5); fields[0] here is field 3.
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def tail(self, lines: int = 20) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


@contextlib.contextmanager
def postgres(cpu: int | None) -> Iterator[PostgresServer]:
    """A throwaway cluster, destroyed on the way out whatever happens."""
    server = PostgresServer()
    try:
        server.init()
        server.start()
        if cpu is not None:
            pin_postgres(server, cpu)
        yield server
    finally:
        try:
            server.destroy()
        except (RuntimeError, OSError):
            # destroy() raises when the cluster never started (pg_ctl stop fails), and then
            # leaves its directory behind: there is nothing to stop, only files to remove.
            shutil.rmtree(server.root, ignore_errors=True)


def pin_postgres(server: PostgresServer, cpu: int) -> None:
    """Pin the postmaster and its children to `cpu`. Backends forked later inherit the mask, so
    the server's connections (opened after this) run there too."""
    postmaster = int((server.datadir / "postmaster.pid").read_text().split()[0])
    for pid in [postmaster, *_children(postmaster)]:
        with contextlib.suppress(ProcessLookupError):
            os.sched_setaffinity(pid, {cpu})


def _children(parent: int) -> list[int]:
    children = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # gone since we listed it
        if int(stat.rsplit(")", 1)[1].split()[1]) == parent:
            children.append(int(entry.name))
    return children


def core_ticks() -> dict[int, tuple[int, int]]:
    """(busy, total) clock ticks per core since boot, from /proc/stat."""
    ticks = {}
    for line in Path("/proc/stat").read_text().splitlines():
        name, *values = line.split()
        if name.startswith("cpu") and name[3:].isdigit():
            # user nice system idle iowait irq softirq steal
            counts = [int(v) for v in values[:8]]
            ticks[int(name[3:])] = (sum(counts) - counts[3] - counts[4], sum(counts))
    return ticks


def busy_share(
    before: dict[int, tuple[int, int]], after: dict[int, tuple[int, int]], cpu: int
) -> float:
    busy = after[cpu][0] - before[cpu][0]
    total = after[cpu][1] - before[cpu][1]
    return busy / total if total else 0.0
