"""Ctrl-C (and CI's SIGTERM) mid-rollout: "Interrupted", exit 130, the lock given back, the state
said plainly; re-running is safe. The real console script, in a real process."""

from __future__ import annotations

import os
import selectors
import signal
import subprocess
import sys
import time

import pytest

from autopipe import cli
from autopipe.errors import Interrupted
from tests.support.moto import ROOT, World


def start(world: World, *args: str) -> subprocess.Popen[str]:
    # Not measured: coverage is for app/, and it would only slow the deployer down.
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("COVERAGE_")}
    env = {**inherited, **world.env, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "autopipe", *args], cwd=ROOT, env=env, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip


def read_until(process: subprocess.Popen[str], marker: str, timeout: float = 20) -> str:
    assert process.stdout is not None
    seen = ""
    selector = selectors.DefaultSelector()
    selector.register(process.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout
    while marker not in seen:
        if time.monotonic() > deadline or process.poll() is not None:
            raise AssertionError(f"never saw {marker!r}:\n{seen}")
        if selector.select(timeout=0.1):
            seen += process.stdout.readline()
    return seen


def test_sigterm_is_handled_like_ctrl_c(monkeypatch: pytest.MonkeyPatch) -> None:
    """A cancelled CI job gets SIGTERM: the same clean-up path as Ctrl-C."""
    installed: dict[int, object] = {}
    monkeypatch.setattr(signal, "signal", installed.setdefault)
    monkeypatch.setattr(cli, "app", lambda: None)
    cli.main()
    with pytest.raises(KeyboardInterrupt):
        cli._sigterm(signal.SIGTERM, None)
    assert installed[signal.SIGTERM] is cli._sigterm


def test_ctrl_c_mid_rollout(world: World) -> None:
    sig = signal.SIGINT
    world.emulator.policy.outcomes["v1"] = "hang"
    process = start(world, "deploy", "--tag", "v1", "--timeout", "60")
    try:
        read_until(process, "service updated to auto-pipe-task:2")
        process.send_signal(sig)
        stdout, stderr = process.communicate(timeout=20)
    finally:
        process.kill()
    assert process.returncode == Interrupted.exit_code
    assert stderr.startswith("Interrupted")
    assert "during rollout" in stderr
    assert "autopipe wait" in stderr
    assert "lock released" in stdout
    assert world.slack.payloads[-1]["text"] == (
        ":x: auto-pipe-service deploy interrupted in rehearsal"
    )
    # Re-running is safe: the lock is free and the next deploy goes through.
    world.emulator.policy.outcomes["v1"] = "complete"
    assert world.cli("deploy", "--tag", "v1").exit_code == 0
