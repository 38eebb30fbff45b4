"""The service as a real process (`python -m app`) on a loopback port, for tests that need real
HTTP, real signals and real stdout."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from testbed.pg import free_port

ROOT = Path(__file__).resolve().parents[2]


class LiveServer:
    def __init__(self, env: dict[str, str], *, command: list[str] | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.command = command or [sys.executable, "-m", "app"]
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("API_KEYS", "DATABASE"))},
            "HOST": "127.0.0.1",
            "PORT": str(self.port),
            "ENV": "test",
            "LOG_FORMAT": "json",
            # A developer's own collector settings must not make test servers export anywhere;
            # the tracing tests switch it back on with an endpoint of their own.
            "OTEL_SDK_DISABLED": "false"
            if any(k.startswith("OTEL_EXPORTER") for k in env)
            else "true",
            **env,
        }
        self._log = tempfile.NamedTemporaryFile(prefix="autopipe-live-", suffix=".log")  # noqa: SIM115
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60.0) -> LiveServer:  # a deadline, not a speed target
        self.process = subprocess.Popen(
            self.command, cwd=ROOT, env=self.env, stdout=self._log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}:\n{self.output}")
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                time.sleep(0.05)
        raise TimeoutError(f"server did not become healthy:\n{self.output}")

    def terminate(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)

    def wait(self, timeout: float = 30.0) -> int:
        assert self.process is not None
        return self.process.wait(timeout=timeout)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self._log.close()

    @property
    def output(self) -> str:
        return Path(self._log.name).read_text(errors="replace")

    def json_lines(self) -> list[dict[str, Any]]:
        lines = []
        for line in self.output.splitlines():
            if line.startswith("{"):
                lines.append(json.loads(line))
        return lines

    def __enter__(self) -> LiveServer:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc: object) -> None:
        self.stop()
