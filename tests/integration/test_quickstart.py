"""The README's quick start: `make run` migrates, prints where to go, and serves the API."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from testbed.pg import free_port
from tests.support.live import ROOT

pytestmark = pytest.mark.live


def test_make_run_serves_the_api_it_prints(tmp_path: Path) -> None:
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if k not in {"API_KEYS", "ENV", "DATABASE_URL"}},
        "PORT": str(port),
        "DATABASE_URL": f"sqlite:///{tmp_path}/quickstart.db",
    }
    log = tmp_path / "make-run.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            ["make", "--no-print-directory", "run"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            deadline = time.monotonic() + 120
            while True:
                assert process.poll() is None, log.read_text()
                assert time.monotonic() < deadline, log.read_text()
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).is_success:
                        break
                except httpx.TransportError:
                    time.sleep(0.2)
            printed = log.read_text()
            assert f"http://127.0.0.1:{port}\n" in printed
            assert f"http://127.0.0.1:{port}/docs" in printed
            key = re.search(r"API key\s+(\S+)", printed)
            assert key is not None, printed
            created = httpx.post(
                f"http://127.0.0.1:{port}/items",
                json={"name": "quick"},
                headers={"Authorization": f"Bearer {key.group(1)}"},
            )
            assert created.status_code == 201
            assert httpx.get(f"http://127.0.0.1:{port}/docs").status_code == 200
            assert (tmp_path / "quickstart.db").exists()  # migrated where DATABASE_URL says
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=30)
