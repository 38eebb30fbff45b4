"""Running wrk pinned to a core, and reading its `--latency` report."""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

RANDOM_IDS_SCRIPT = Path(__file__).with_name("random_ids.lua")

# wrk prints durations with these suffixes (see its `stats.c`/`units.c`).
_TIME_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}
_DURATION = r"([\d.]+)(us|ms|s|m|h)"


class WrkError(RuntimeError):
    """wrk failed, or printed something this parser does not understand."""


@dataclass(frozen=True)
class WrkResult:
    requests_per_sec: float
    p50_ms: float
    p99_ms: float
    requests: int
    socket_errors: int
    non_2xx_3xx: int

    @property
    def errors(self) -> int:
        return self.socket_errors + self.non_2xx_3xx


def wrk_command(
    url: str,
    *,
    cpu: int,
    connections: int,
    duration: float,
    script: Path | None = None,
    script_args: tuple[str, ...] = (),
) -> list[str]:
    # One thread: a second one would only contend with the first for the load generator's core.
    command = ["taskset", "-c", str(cpu), "wrk", "-t1", f"-c{connections}"]
    command += [f"-d{duration:g}s", "--latency"]
    if script is not None:
        command += ["-s", str(script)]
    command.append(url)
    if script_args:
        command += ["--", *script_args]
    return command


def run_wrk(command: list[str], *, duration: float) -> WrkResult:
    # subprocess.run kills wrk if we are interrupted while it runs.
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=duration + 60, check=False
    )
    if done.returncode != 0:
        raise WrkError(f"wrk exited with {done.returncode}: {done.stderr.strip()[-500:]}")
    return parse_wrk(done.stdout)


def parse_wrk(output: str) -> WrkResult:
    rps = re.search(r"^Requests/sec:\s+([\d.]+)", output, re.MULTILINE)
    p50 = re.search(rf"^\s+50%\s+{_DURATION}", output, re.MULTILINE)
    p99 = re.search(rf"^\s+99%\s+{_DURATION}", output, re.MULTILINE)
    total = re.search(r"^\s+(\d+) requests in", output, re.MULTILINE)
    if not (rps and p50 and p99 and total):
        raise WrkError(f"unexpected wrk output:\n{output}")
    # Both lines are absent when there were none.
    sockets = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return WrkResult(
        requests_per_sec=float(rps.group(1)),
        p50_ms=_to_ms(p50),
        p99_ms=_to_ms(p99),
        requests=int(total.group(1)),
        socket_errors=sum(int(n) for n in sockets.groups()) if sockets else 0,
        non_2xx_3xx=int(non_2xx.group(1)) if non_2xx else 0,
    )


def _to_ms(match: re.Match[str]) -> float:
    return float(match.group(1)) * _TIME_UNITS_MS[match.group(2)]
