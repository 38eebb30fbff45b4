"""How fast the excess is refused when the pool is exhausted: the timing that
tests/integration/test_pool_exhaustion.py no longer asserts (the test checks that the 503s come
while the database still answers nobody; this measures how long they take).

A throwaway PostgreSQL (testbed.pg) holds an exclusive lock on `items` for HOLD seconds, so every
read waits; 4 x POOL concurrent reads go to the app in-process. Reported: the served reads'
median latency (≈ HOLD, the baseline), the refused reads' median, and their ratio; the target is
a refusal within DB_POOL_TIMEOUT plus a little, i.e. a ratio well under 1.

    uv run python -m bench.pool_shed [--runs 5] [--hold 2] [--pool-timeout 0.5]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

import httpx
from alembic import command
from asgi_lifespan import LifespanManager

from app.config import Settings
from app.main import create_app
from app.migrate import alembic_config
from testbed.pg import PostgresServer
from testbed.waiting import async_wait_for

POOL = 2
KEY = "bench-key-0123456789"


async def one_round(
    server: PostgresServer, url: str, hold: float, pool_timeout: float
) -> tuple[list[float], list[float]]:
    settings = Settings(
        _env_file=None,
        env="test",
        api_keys=(KEY,),
        log_level="WARNING",
        database_url=url,
        db_pool_size=POOL,
        db_pool_timeout=pool_timeout,
    )
    app = create_app(settings)
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            auth = {"Authorization": f"Bearer {KEY}"}
            await client.post("/items", json={"name": "x"}, headers=auth)
            locker = server.hold_items_lock("bench", hold)
            await async_wait_for(lambda: server.items_lock_held("bench"), "lock taken")

            async def timed() -> tuple[int, float]:
                started = time.perf_counter()
                response = await client.get("/items/1", timeout=hold * 5)
                return response.status_code, time.perf_counter() - started

            results = await asyncio.gather(*(timed() for _ in range(4 * POOL)))
            await asyncio.to_thread(locker.wait, hold * 5)
    served = [t for status, t in results if status == 200]
    shed = [t for status, t in results if status == 503]
    return served, shed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--hold", type=float, default=2.0)
    parser.add_argument("--pool-timeout", type=float, default=0.5)
    args = parser.parse_args()
    server = PostgresServer().init()
    server.start()
    try:
        url = server.create_database("bench")
        command.upgrade(alembic_config(url), "head")
        served: list[float] = []
        shed: list[float] = []
        for _ in range(args.runs):
            server.psql("TRUNCATE items RESTART IDENTITY", "bench")
            s, r = asyncio.run(one_round(server, url, args.hold, args.pool_timeout))
            served += s
            shed += r
    finally:
        server.destroy()
    served_median, shed_median = statistics.median(served), statistics.median(shed)
    print("| reads | n | median |\n|---|---:|---:|")
    print(f"| served (waited for the lock: baseline) | {len(served)} | {served_median:.3f} s |")
    print(f"| refused with 503 | {len(shed)} | {shed_median:.3f} s |")
    print(f"\nrefused / served: {shed_median / served_median:.2f} (target: < 0.5)")


if __name__ == "__main__":
    main()
