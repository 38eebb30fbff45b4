"""A database outage must not become a task-replacement storm.

The service runs as a real process on a real PostgreSQL, under a mixed read/write load, and
PostgreSQL stops for OUTAGE_SECONDS (60 in CI). Beside the load, two probes behave like what
replaces tasks in AWS, with the settings read from the synthesized stack, not restated here:
- the target group's health check (path, interval, timeout, matcher, unhealthy threshold):
  after that many consecutive failures the target is unhealthy and ECS replaces the task
  https://docs.aws.amazon.com/elasticloadbalancing/latest/application/target-group-health-checks.html
  https://docs.aws.amazon.com/AmazonECS/latest/developerguide/load-balancer-healthcheck.html
- the container health check of the task definition (ECS stops a task whose essential
  container turns UNHEALTHY after `retries` failures)
  https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_HealthCheck.html
Proven: 0 replacements by either, requests needing the database answer 503 + Retry-After
throughout, and the service recovers by itself (same process). The control: the same probe
pointed at `/ready` (the former target-group path) counts replacements in the same outage,
so the probe can tell.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import pytest

from tests.conftest import API_KEY, AUTH, migrate, start_postgres
from tests.infra.conftest import Synth
from tests.support.live import LiveServer
from tests.support.pg import PostgresServer

pytestmark = [pytest.mark.asyncio, pytest.mark.postgres, pytest.mark.live]

OUTAGE_SECONDS = float(os.environ.get("OUTAGE_SECONDS", "60"))
WORKERS = 6
SETTLE = 5.0  # the pool and readiness follow the database within this, both ways
STACK = "AutoPipe-production"


@dataclass
class Probe:
    """A health checker that replaces its target after `unhealthy` consecutive failures."""

    path: str
    interval: float
    timeout: float
    unhealthy: int
    codes: frozenset[int] = frozenset({200})
    failures: int = 0
    replacements: int = 0
    checks: int = 0

    async def run(self, base_url: str, stop: asyncio.Event) -> None:
        async with httpx.AsyncClient(base_url=base_url, timeout=self.timeout) as client:
            while not stop.is_set():
                self.checks += 1
                try:
                    ok = (await client.get(self.path)).status_code in self.codes
                except httpx.HTTPError:
                    ok = False
                self.failures = 0 if ok else self.failures + 1
                if self.failures == self.unhealthy:
                    self.replacements += 1  # ECS stops the task; a new one starts from zero
                    self.failures = 0
                with contextlib.suppress(TimeoutError):  # the interval passed: check again
                    await asyncio.wait_for(stop.wait(), self.interval)


HEALTH_CHECK = ("HealthCheck", "Matcher", "UnhealthyThresholdCount")


def target_group_probe(synth: Synth, path: str | None = None) -> Probe:
    # Blue/green and canary environments have an alternate group: it must check alike.
    groups = synth.resources(STACK, "AWS::ElasticLoadBalancingV2::TargetGroup").values()
    checks = [
        {k: v for k, v in g["Properties"].items() if k.startswith(HEALTH_CHECK)} for g in groups
    ]
    assert checks
    assert all(c == checks[0] for c in checks), checks
    tg = checks[0]
    return Probe(
        path=path or tg["HealthCheckPath"],
        interval=tg["HealthCheckIntervalSeconds"],
        timeout=tg["HealthCheckTimeoutSeconds"],
        unhealthy=tg["UnhealthyThresholdCount"],
        codes=frozenset(int(c) for c in tg["Matcher"]["HttpCode"].split(",")),
    )


def container_probe(synth: Synth) -> Probe:
    (container,) = synth.one(STACK, "AWS::ECS::TaskDefinition")["ContainerDefinitions"]
    check = container["HealthCheck"]
    (path,) = re.findall(r"127\.0\.0\.1:%s(/[\w/]*)", " ".join(check["Command"]))
    return Probe(
        path=path, interval=check["Interval"], timeout=check["Timeout"], unhealthy=check["Retries"]
    )


@dataclass
class Load:
    answers: list[tuple[float, float, int, str]] = field(default_factory=list)  # start, end…
    other: list[str] = field(default_factory=list)

    async def worker(self, client: httpx.AsyncClient, n: int, stop: asyncio.Event) -> None:
        step = 0
        while not stop.is_set():
            step += 1
            for method, path, body in (
                ("POST", "/items", {"name": f"w{n}-{step}"}),
                ("GET", "/items", None),
            ):
                started = time.monotonic()
                try:
                    r = await client.request(method, path, json=body, headers=AUTH)
                except httpx.HTTPError as exc:  # no answer at all: never acceptable
                    self.other.append(f"{method} {path}: {type(exc).__name__}")
                    continue
                retry = r.headers.get("retry-after", "")
                self.answers.append((started, time.monotonic(), r.status_code, retry))
                if r.status_code == 503 and not retry.isdigit():
                    self.other.append(f"{method} 503 without Retry-After")
                elif r.status_code not in (200, 201, 503):
                    self.other.append(f"{method} {r.status_code}: {r.text[:200]}")
            await asyncio.sleep(0.02)  # a bounded load, not a flood


@pytest.fixture(scope="module")
def pg() -> Iterator[PostgresServer]:
    server = start_postgres()
    yield server
    server.destroy()


@pytest.fixture
def url(pg: PostgresServer) -> str:
    url = pg.create_database("health_outage")
    migrate(url)  # Alembic runs its own event loop: not inside the test's
    return url


async def test_a_database_outage_replaces_no_task(
    synth: Synth, pg: PostgresServer, url: str
) -> None:
    env = {
        "DATABASE_URL": url,
        "API_KEYS": API_KEY,
        "LOG_LEVEL": "WARNING",
        "DB_CONNECT_TIMEOUT": "1",
        "DB_POOL_TIMEOUT": "1",
        "READY_TIMEOUT": "1",
    }
    target_group = target_group_probe(synth)
    container = container_probe(synth)
    control = target_group_probe(synth, path="/ready")
    load = Load()
    server = LiveServer(env).start(timeout=90)  # a busy machine starts slowly
    try:
        assert server.process is not None
        pid = server.process.pid
        stop = asyncio.Event()
        async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
            tasks = [asyncio.create_task(load.worker(client, n, stop)) for n in range(WORKERS)]
            tasks += [
                asyncio.create_task(p.run(server.url, stop))
                for p in (target_group, container, control)
            ]
            await asyncio.sleep(2)
            await asyncio.to_thread(pg.stop)
            stopped = time.monotonic()  # down from here: a loaded machine stops it slowly
            await asyncio.sleep(OUTAGE_SECONDS)
            restarting = time.monotonic()  # down until here: start() returns once it serves
            await asyncio.to_thread(pg.start)
            restarted = time.monotonic()
            await asyncio.sleep(SETTLE + 2)
            stop.set()
            await asyncio.gather(*tasks)
        assert server.process.poll() is None  # never restarted
        assert server.process.pid == pid
    finally:
        server.stop()

    assert target_group.path == "/health"
    assert target_group.checks >= OUTAGE_SECONDS // target_group.interval
    assert (target_group.replacements, container.replacements) == (0, 0)
    assert control.replacements >= 1, "the probe must see an outage when its path follows the DB"
    assert load.other == []
    during = [a for a in load.answers if a[0] > stopped + SETTLE and a[1] < restarting]
    after = [a for a in load.answers if a[0] > restarted + SETTLE]
    assert len(during) > 50, "too little load to mean anything"
    assert len(after) > 10
    assert {status for _, _, status, _ in during} == {503}
    assert {status for _, _, status, _ in after} <= {200, 201}
    print(
        f"\n{OUTAGE_SECONDS:.0f} s outage: {len(during)} answers during it, all 503 + Retry-After; "
        f"{target_group.checks} target-group checks of {target_group.path}, 0 replacements; "
        f"the same checks on /ready: {control.replacements} replacement(s)"
    )
