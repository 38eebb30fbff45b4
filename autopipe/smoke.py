"""The smoke test of the public URL: `/ready` answers 200 and `/version` reports the image just
deployed, `passes` times in a row (a load balancer may still drain old targets), within
`timeout` seconds."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from urllib.parse import urlsplit

from autopipe.output import Reporter

LOOPBACK = ("127.0.0.1", "localhost", "::1")


class SmokeFailed(Exception):
    def __init__(self, reason: str, probes: int) -> None:
        super().__init__(reason)
        self.probes = probes


def _opener(url: str) -> urllib.request.OpenerDirector:
    # Loopback never goes through a proxy, whatever the environment says.
    if urlsplit(url).hostname in LOOPBACK:
        return urllib.request.build_opener(urllib.request.ProxyHandler({}))
    return urllib.request.build_opener()


def get(url: str, timeout: float, headers: Mapping[str, str] | None = None) -> tuple[int, bytes]:
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"not an http(s) URL: {url}")
    sent = {"User-Agent": "autopipe-smoke", **(headers or {})}
    request = urllib.request.Request(url, headers=sent)  # noqa: S310
    try:
        with _opener(url).open(request, timeout=timeout) as response:
            return int(response.status), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def probe(
    base: str, expect: dict[str, str], timeout: float, headers: Mapping[str, str] | None = None
) -> str | None:
    """None when healthy and on the expected version, else why not."""
    base = base.rstrip("/")
    try:
        status, body = get(f"{base}/ready", timeout, headers)
        if status != 200:
            return f"/ready answered {status}: {body[:120].decode(errors='replace')}"
        status, body = get(f"{base}/version", timeout, headers)
        if status != 200:
            return f"/version answered {status}"
        version = json.loads(body)
    except (OSError, ValueError) as exc:
        return f"{type(exc).__name__}: {exc}"
    wrong = {k: version.get(k) for k, v in expect.items() if version.get(k) != v}
    if wrong:
        return f"/version reports {wrong}, expected { {k: expect[k] for k in wrong} }"
    return None


def smoke_test(
    url: str,
    *,
    expect: dict[str, str],
    passes: int,
    interval: float,
    timeout: float,
    reporter: Reporter,
    sleep: Callable[[float], None] = time.sleep,
    headers: Mapping[str, str] | None = None,
    label: str = "",
) -> int:
    """Returns the number of probes made; raises SmokeFailed with the last reason."""
    deadline = time.monotonic() + timeout
    streak = probes = 0
    last_reason = ""
    while True:
        probes += 1
        left = max(0.5, min(5.0, deadline - time.monotonic()))
        reason = probe(url, expect, timeout=left, headers=headers)
        if reason is None:
            streak += 1
            if streak >= passes:
                where = f"{url}{label}"
                reporter.step(
                    f"smoke: {where} ready on {expect} ({passes}/{passes})", style="green"
                )
                return probes
        else:
            if reason != last_reason:
                reporter.step(f"smoke: {reason}", style="yellow")
            streak, last_reason = 0, reason
        if time.monotonic() + interval > deadline:
            raise SmokeFailed(last_reason or f"fewer than {passes} passes in {timeout:g}s", probes)
        sleep(interval)
