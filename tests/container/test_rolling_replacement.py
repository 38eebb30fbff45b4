"""Rolling replacement with zero downtime: two Fargate-sized containers behind a local HAProxy
(the ALB stand-in, health-checking /ready) are replaced one at a time the way ECS does it, while
a mixed read/write load runs through the load balancer. Not one request may fail.

ECS order per task (minimum healthy 100 %): start the new task → the target group marks it
healthy → deregister the old one (draining: no new requests, in-flight ones finish) → stop it
with SIGTERM. The load balancer never retries, so any error the app causes is seen here.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from testbed import docker as d
from testbed.pg import free_port
from tests.conftest import API_KEY, AUTH, unavailable
from tests.support.haproxy import HAProxy, HAProxyUnavailable

pytestmark = [pytest.mark.container, pytest.mark.postgres]

Start = Callable[[], tuple[str, int]]  # starts one task: (container name, port)

WORKERS = 8
# The target group's 30 s, shortened: the load's requests take milliseconds.
DEREGISTRATION_DELAY = 10.0
STOP_TIMEOUT = 30  # taskdef.template.json stopTimeout: SIGKILL after this many seconds
SETTLE = 1.5  # seconds of load before the first and after the last replacement
MIN_REQUESTS = 300


@pytest.fixture
def lb(tmp_path: Path) -> Iterator[HAProxy]:
    try:
        proxy = HAProxy(tmp_path)
    except HAProxyUnavailable as exc:
        unavailable("the rolling-replacement test", exc)
    proxy.start()
    yield proxy
    proxy.stop()


@pytest.fixture
def fleet() -> Iterator[list[str]]:
    """Names of the containers this test starts; all removed afterwards."""
    names: list[str] = []
    yield names
    for name in names:
        d.remove(name)


def start_task(image: str, database_url: str, fleet: list[str]) -> tuple[str, int]:
    """`docker run` a Fargate-sized task on its own port; the load balancer decides when it is
    ready for traffic, exactly as ECS registers a task with the target group once it runs."""
    name = f"autopipe-roll-{uuid.uuid4().hex[:8]}"
    port = free_port()
    fleet.append(name)
    env = {"HOST": "127.0.0.1", "PORT": str(port), "DATABASE_URL": database_url}
    d.run_detached(image, name=name, env={**env, "API_KEYS": API_KEY}, extra=d.FARGATE_LIMITS)
    return name, port


def register(lb: HAProxy, slot: str, name: str, port: int) -> None:
    try:
        lb.register(slot, port, timeout=45)
    except TimeoutError as exc:
        logs = d.docker("logs", name, check=False)
        raise AssertionError(f"{name} never became healthy:\n{logs.stdout}{logs.stderr}") from exc


@dataclass
class Replacement:
    old: str
    new: str
    healthy_after: float  # seconds from `docker run` of the new task to its being in service
    in_flight_at_drain: int  # requests on the old target when deregistration began
    in_flight_at_stop: int  # ... and when it ended (0: all of them finished there)
    stop_seconds: float
    exit_code: int
    running: bool
    logged_shutdown: bool


def replace(lb: HAProxy, old: str, old_slot: str, new_slot: str, start: Start) -> Replacement:
    began = time.monotonic()
    new, port = start()
    register(lb, new_slot, new, port)
    healthy_after = time.monotonic() - began
    at_drain, left = lb.deregister(old_slot, DEREGISTRATION_DELAY)
    began = time.monotonic()
    d.docker("stop", "-t", str(STOP_TIMEOUT), old, timeout=STOP_TIMEOUT + 15)
    stop_seconds = time.monotonic() - began
    state = d.inspect("container", old)["State"]
    logs = d.docker("logs", old, check=False).stdout
    return Replacement(
        old=old,
        new=new,
        healthy_after=round(healthy_after, 2),
        in_flight_at_drain=at_drain,
        in_flight_at_stop=left,
        stop_seconds=round(stop_seconds, 2),
        exit_code=state["ExitCode"],
        running=state["Running"],
        logged_shutdown='"event":"shutdown"' in logs,
    )


# -- the load ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Outcome:
    op: str
    status: int | None  # None: the request never got a response
    error: str | None
    served_by: str | None
    after_replacement: bool


@dataclass
class Load:
    after_replacement: bool = False
    outcomes: list[Outcome] = field(default_factory=list)
    # What each 2xx write left behind: id -> (name, description, version).
    written: dict[int, tuple[str, str, int]] = field(default_factory=dict)
    # Reads of a worker's own item that missed its last acknowledged write (any container).
    stale_reads: list[tuple[int, int, int]] = field(default_factory=list)

    async def call(
        self, client: httpx.AsyncClient, op: str, method: str, url: str, **kw: Any
    ) -> httpx.Response | None:
        after = self.after_replacement
        try:
            response = await client.request(method, url, **kw)
        except httpx.HTTPError as exc:
            self.outcomes.append(Outcome(op, None, repr(exc), None, after))
            return None
        served_by = response.headers.get("x-served-by")
        self.outcomes.append(Outcome(op, response.status_code, None, served_by, after))
        return response if response.is_success else None

    async def worker(self, client: httpx.AsyncClient, n: int, stop: asyncio.Event) -> None:
        """Creates its own items and patches them (no two workers write the same row, so every
        2xx write has one expected outcome), reading in between."""
        mine: int | None = None
        for i in itertools.count():
            if stop.is_set():
                return
            step = i % 6
            if step == 0 or mine is None:
                name = f"roll-{n}-{i}"
                body = {"name": name, "description": "new"}
                created = await self.call(
                    client, "create", "POST", "/items", json=body, headers=AUTH
                )
                if created is not None:
                    item = created.json()
                    mine = item["id"]
                    self.written[mine] = (name, "new", item["version"])
            elif step == 3:
                description = f"patched-{i}"
                patch = {"description": description}
                url = f"/items/{mine}"
                if await self.call(client, "patch", "PATCH", url, json=patch, headers=AUTH):
                    name, _, version = self.written[mine]
                    self.written[mine] = (name, description, version + 1)
            elif step == 2:
                await self.call(client, "list", "GET", "/items", params={"limit": 5})
            elif read := await self.call(client, "read", "GET", f"/items/{mine}"):
                expected = self.written[mine][2]
                if (seen := read.json()["version"]) != expected:
                    self.stale_reads.append((mine, seen, expected))

    async def run(self, url: str, stop: asyncio.Event) -> None:
        limits = httpx.Limits(max_connections=WORKERS, max_keepalive_connections=WORKERS)
        async with httpx.AsyncClient(base_url=url, timeout=15, limits=limits) as client:
            await asyncio.gather(*(self.worker(client, n, stop) for n in range(WORKERS)))


# -- the test ------------------------------------------------------------------------------
def test_rolling_replacement_drops_no_request(
    app_image: str, container_db: str, lb: HAProxy, fleet: list[str]
) -> None:
    wall = time.monotonic()
    start: Start = functools.partial(start_task, app_image, container_db, fleet)
    old = [start(), start()]  # both boot at once, as a service's first two tasks would
    for slot, (name, port) in zip(("s1", "s2"), old, strict=True):
        register(lb, slot, name, port)

    load = Load()
    replacements: list[Replacement] = []

    def roll() -> None:
        time.sleep(SETTLE)
        for (name, _), old_slot, new_slot in zip(old, ("s1", "s2"), ("s3", "s4"), strict=True):
            replacements.append(replace(lb, name, old_slot, new_slot, start))
        load.after_replacement = True
        time.sleep(SETTLE)

    async def main() -> float:
        began = time.monotonic()
        stop = asyncio.Event()
        traffic = asyncio.create_task(load.run(lb.url, stop))
        try:
            await asyncio.to_thread(roll)
        finally:
            stop.set()
            await traffic
        return time.monotonic() - began

    load_seconds = asyncio.run(main())

    outcomes = load.outcomes
    failures = [o for o in outcomes if o.status is None or not 200 <= o.status < 300]
    by_op = Counter(o.op for o in outcomes)
    served = Counter(o.served_by for o in outcomes)
    after = Counter(o.served_by for o in outcomes if o.after_replacement)
    summary = (
        f"{len(outcomes)} requests {dict(by_op)} in {load_seconds:.1f} s of load "
        f"({time.monotonic() - wall:.1f} s with the first boot); served by "
        f"{dict(served)}; after the replacement {dict(after)}; replacements {replacements}; "
        f"targets {lb.targets()}"
    )
    print(summary)
    assert not failures, f"{len(failures)} failed: {failures[:10]}\n{summary}\n{lb.output()}"
    assert not load.stale_reads, f"stale reads (id, seen, expected): {load.stale_reads[:10]}"
    assert len(outcomes) >= MIN_REQUESTS, summary
    # Both new targets took traffic once the old ones were gone, and only they did.
    assert set(after) == {"s3", "s4"}, summary
    for record in replacements:
        assert not record.running, record
        # 0, not 137: the app exited on SIGTERM by itself, well before the SIGKILL deadline.
        assert record.exit_code == 0, record
        assert record.stop_seconds < STOP_TIMEOUT, record
        assert record.logged_shutdown, record
    assert {t.name for t in lb.targets().values() if t.in_service} == {"s3", "s4"}, summary

    # Every acknowledged write is there: name, description and version agree.
    assert load.written, summary
    with httpx.Client(base_url=lb.url, timeout=10) as client:
        for item_id, (name, description, version) in load.written.items():
            response = client.get(f"/items/{item_id}")
            assert response.status_code == 200, (item_id, response.text)
            item = response.json()
            assert (item["name"], item["description"], item["version"]) == (
                name,
                description,
                version,
            ), item
