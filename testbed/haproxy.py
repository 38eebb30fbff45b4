"""A local HAProxy process driven through its runtime API (the stats socket at level admin):
what the tests' and the rehearsal's load-balancer stand-ins share. The configuration is the
caller's; this starts it, sends one command per connection, and stops it.

https://docs.haproxy.org/2.6/management.html#9.3 (the runtime API)
"""

from __future__ import annotations

import contextlib
import csv
import shutil
import socket
import subprocess
from pathlib import Path
from typing import Self

from testbed.pg import free_port
from testbed.waiting import wait_for


class HAProxyUnavailable(RuntimeError):
    """No haproxy binary on this machine."""


def find_binary() -> str:
    found = shutil.which("haproxy") or shutil.which("haproxy", path="/usr/sbin:/usr/local/sbin")
    if found is None:
        raise HAProxyUnavailable(
            "haproxy not found (apt-get install -y --no-install-recommends haproxy)"
        )
    return found


def preamble(admin_socket: Path, *, maxconn: int = 1000) -> str:
    """The `global` and `defaults` sections both stand-ins use: the runtime API at level admin,
    HTTP mode, and, as the ALB, no retry and no redispatch of a failed request."""
    return f"""\
global
    stats socket {admin_socket} mode 600 level admin
    maxconn {maxconn}

defaults
    mode http
    timeout connect 2s
    timeout client 30s
    timeout server 30s
    timeout check 2s
    timeout http-keep-alive 10s
    # The ALB neither retries nor redispatches a failed request: fail loudly instead.
    retries 0
    no option redispatch
"""


class HAProxyProcess:
    """`config_text(port, admin_socket)` renders the configuration once the port is known."""

    def __init__(self, workdir: Path) -> None:
        self.binary = find_binary()
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.admin_socket = workdir / "admin.sock"
        self.config = workdir / "haproxy.cfg"
        self.log = workdir / "haproxy.log"
        self.process: subprocess.Popen[bytes] | None = None

    def write_config(self, text: str) -> None:
        self.config.write_text(text)

    def start(self, timeout: float = 10.0) -> Self:
        check = subprocess.run(
            [self.binary, "-c", "-q", "-f", str(self.config)],
            capture_output=True,
            text=True,
            check=False,
        )
        if check.returncode != 0:
            raise RuntimeError(f"haproxy rejected its config:\n{check.stdout}{check.stderr}")
        with self.log.open("wb") as log:  # the child keeps its own copy of the descriptor
            # -db: foreground, no daemon, so terminate() reaches the process that serves.
            self.process = subprocess.Popen(
                [self.binary, "-db", "-f", str(self.config)], stdout=log, stderr=log
            )
        wait_for(self._answers, "haproxy admin socket", timeout)
        return self

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def command(self, line: str) -> str:
        """One command per connection (the socket's non-interactive mode): send, read to EOF."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(5)
            sock.connect(str(self.admin_socket))
            sock.sendall(line.encode() + b"\n")
            chunks = []
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        return b"".join(chunks).decode()

    def servers_state(self, backend: str) -> dict[str, dict[str, str]]:
        """`show servers state`: server name → its fields (srv_op_state, srv_admin_state, …)."""
        lines = self.command(f"show servers state {backend}").splitlines()
        header = lines[1].lstrip("# ").split()
        rows = (dict(zip(header, line.split(), strict=False)) for line in lines[2:])
        return {row["srv_name"]: row for row in rows if row}

    def stats(self, proxy: str, kind: int) -> list[dict[str, str]]:
        """`show stat` of one proxy: kind 1 frontend, 2 backend, 4 servers (CSV rows)."""
        text = self.command(f"show stat {proxy} {kind} -1").lstrip("# ")
        return list(csv.DictReader(text.splitlines()))

    def expect_silence(self, line: str) -> None:
        """State-changing commands print nothing on success and a reason on failure."""
        if reply := self.command(line).strip():
            raise RuntimeError(f"haproxy: {line!r} -> {reply}")

    def _answers(self) -> bool:
        if self.process is None:
            raise RuntimeError("haproxy is not started")
        if self.process.poll() is not None:
            raise RuntimeError(f"haproxy exited {self.process.returncode}:\n{self.output()}")
        with contextlib.suppress(OSError):
            return "Name: HAProxy" in self.command("show info")
        return False
