"""Every pooled PostgreSQL connection carries TCP keepalive and a user timeout, derived from
DB_STATEMENT_TIMEOUT by the settings (app/config.py), so that the kernel gives up on a server
that stopped answering. Read back with getsockopt from the live socket of a connection the store
handed out against a real PostgreSQL, on asyncio's own loop and on uvloop (what uvicorn serves
with), and proved to be that connection's socket by the server's own view of its client port."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from typing import Any

import pytest
import uvloop

from app.config import Settings
from app.db import open_store
from tests.conftest import make_settings

pytestmark = [pytest.mark.postgres]

OPTIONS = {
    "SO_KEEPALIVE": (socket.SOL_SOCKET, socket.SO_KEEPALIVE),
    "TCP_KEEPIDLE": (socket.IPPROTO_TCP, socket.TCP_KEEPIDLE),
    "TCP_KEEPINTVL": (socket.IPPROTO_TCP, socket.TCP_KEEPINTVL),
    "TCP_KEEPCNT": (socket.IPPROTO_TCP, socket.TCP_KEEPCNT),
    "TCP_USER_TIMEOUT": (socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT),
}
LOOPS: dict[str, Callable[[], asyncio.AbstractEventLoop]] = {
    "asyncio": asyncio.new_event_loop,
    "uvloop": uvloop.new_event_loop,
}


def read_options(sock: Any) -> dict[str, int]:
    return {name: sock.getsockopt(level, option) for name, (level, option) in OPTIONS.items()}


def expected(settings: Settings) -> dict[str, int]:
    keepalive = settings.db_tcp_keepalive
    return {
        "SO_KEEPALIVE": 1,
        "TCP_KEEPIDLE": keepalive.idle,
        "TCP_KEEPINTVL": keepalive.interval,
        "TCP_KEEPCNT": keepalive.count,
        "TCP_USER_TIMEOUT": keepalive.user_timeout_ms,
    }


async def pooled_socket_options(settings: Settings) -> tuple[dict[str, int], int, int]:
    """The options of the socket under a connection from the store's pool, its local port, and
    the client port PostgreSQL sees for that connection's session."""
    store = await open_store(settings)
    try:
        async with store.pool.operation() as connection:  # type: ignore[attr-defined]
            sock = connection._transport.get_extra_info("socket")
            seen_by_server = await connection.fetchval(
                "SELECT client_port FROM pg_stat_activity WHERE pid = pg_backend_pid()"
            )
            return read_options(sock), sock.getsockname()[1], seen_by_server
    finally:
        await store.close()


@pytest.mark.parametrize("statement_timeout", [1.5, 7.0, 30.0])
@pytest.mark.parametrize("loop", sorted(LOOPS))
def test_pooled_connections_carry_keepalive_and_user_timeout_from_config(
    pg_url: str, loop: str, statement_timeout: float
) -> None:
    settings = make_settings(database_url=pg_url, db_statement_timeout=statement_timeout)
    with asyncio.Runner(loop_factory=LOOPS[loop]) as runner:
        options, local_port, client_port = runner.run(pooled_socket_options(settings))
    assert local_port == client_port  # the socket read is the session's own
    assert options == expected(settings)


def test_the_kernel_defaults_differ_from_the_configured_values() -> None:
    """Without the pool's hook a socket has none of it: the test above tells the two apart."""
    configured = expected(make_settings(db_statement_timeout=10.0))
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as plain:
        defaults = read_options(plain)
    assert all(defaults[name] != value for name, value in configured.items()), defaults
