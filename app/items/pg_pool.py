"""A pool of asyncpg connections behind a fair gate, with a client-side bound on every
database wait.

The pool is ours, not asyncpg's: the gate already bounds how many connections are in use, so
what is left is a stack of idle connections. asyncpg's pool costs a task (`asyncio.shield`), a
timer and a proxy object on every release, on the hot path (with it the read path ran at 0.52
times the bare endpoint, without it 0.73: README.md, "Performance"). Here taking and giving
back a connection are list operations.
A connection goes back only when it is open and outside a transaction; anything else is
terminated, and the next caller opens a fresh one. Idle connections unused for IDLE_LIFETIME
are closed, as asyncpg's `max_inactive_connection_lifetime` did.

PostgreSQL's `statement_timeout` is enforced by the server: a server that has stopped answering
(stalled, or behind a network black hole during a failover) enforces nothing, and a query would
wait for TCP to give up, minutes later. asyncpg's own `command_timeout` would arm a timer around
every query on the hot path. Instead, one watchdog task per process looks, a few times a second,
at the operations in flight, and closes the socket of any that has outlived its budget
(DB_STATEMENT_TIMEOUT + `MARGIN` from the moment it asked for a connection): the query fails at
once with a connection error, answered 503, and the pool opens a fresh connection for the next
caller. The hot path pays one clock read and a dict insert and delete.

Below the watchdog, the kernel bounds each connection too (`set_tcp_options`, set once when a
connection opens; values from `Settings.db_tcp_keepalive`): TCP keepalive finds an idle pooled
connection whose server vanished, so it is closed before a request is handed it, and
TCP_USER_TIMEOUT closes one whose sent data goes unacknowledged, even if the event loop is busy.

    wait for the gate   ≤ DB_POOL_TIMEOUT (+ TICK)             then 503
    open a connection   ≤ DB_CONNECT_TIMEOUT                   then 503
    everything          ≤ DB_STATEMENT_TIMEOUT + MARGIN        then the watchdog closes it: 503
    unacknowledged data ≤ DB_STATEMENT_TIMEOUT + 1 s           then the kernel closes it
    an idle, silent peer  found in ≈ DB_STATEMENT_TIMEOUT      then the kernel closes it
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import structlog

from app.config import TcpKeepalive
from app.errors import DatabaseUnavailable

IDLE_LIFETIME = 300.0  # seconds an idle connection is kept
MARGIN = 0.5  # past the server's own timeout, so that normally the server's error comes first
TICK = 0.1  # how often the watchdog looks: the bound is met to within this
# Exceptions that may leave a connection mid-protocol. A server error (PostgresError) leaves it
# usable. A cancelled query too would, once asyncpg's cancel request is answered, but the pool
# waits for that answer without a bound: on a stalled server, forever.
_BROKEN = (asyncpg.InterfaceError, asyncpg.InternalClientError, OSError, asyncio.CancelledError)
log = structlog.get_logger("app.db")


def set_tcp_options(connection: asyncpg.Connection, keepalive: TcpKeepalive) -> None:
    """Keepalive and user timeout on a new connection's socket.

    asyncpg takes neither libpq's `keepalives*` nor `tcp_user_timeout` (MagicStack/asyncpg#606),
    and `server_settings` would only set the server's side of the connection. The socket is the
    transport's, as asyncpg reaches it itself to set TCP_NODELAY; with TLS it is the one below.
    """
    transport = connection._transport  # type: ignore[attr-defined]  # no public accessor
    sock = transport.get_extra_info("socket")
    if sock.family not in (socket.AF_INET, socket.AF_INET6):  # a Unix-domain socket
        return
    for level, option, value in (
        (socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1),
        (socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, keepalive.idle),
        (socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, keepalive.interval),
        (socket.IPPROTO_TCP, socket.TCP_KEEPCNT, keepalive.count),
        (socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT, keepalive.user_timeout_ms),
    ):
        sock.setsockopt(level, option, value)


class Operation:
    """One use of a pooled connection, handed out first come, first served.

    A queue that lets a newcomer take a connection just released for a waiter (asyncpg's
    does) makes some requests wait many times longer than others under load (p99 in the
    hundreds of ms at 64 connections on a pool of 10). The FIFO semaphore keeps the wait fair
    and bounded.
    """

    __slots__ = ("_pool", "connection", "deadline", "expired", "gave_up", "wait_deadline", "waiter")

    def __init__(self, pool: BoundedPool) -> None:
        self._pool = pool
        self.connection: asyncpg.Connection | None = None
        self.deadline = 0.0
        self.expired = False
        self.wait_deadline = 0.0
        self.waiter: asyncio.Task[Any] | None = None
        self.gave_up = False

    async def __aenter__(self) -> asyncpg.Connection:
        pool = self._pool
        now = pool.loop.time()
        self.deadline = now + pool.budget
        pool.in_flight[self] = None
        try:
            if pool.gate.locked():
                await self._wait_for_gate(now + pool.acquire_timeout)
            else:
                await pool.gate.acquire()
        except BaseException:
            del pool.in_flight[self]
            raise
        try:
            # The gate's slot is ours: an idle connection, or a new one (its own connect
            # timeout bounds that).
            connection = pool.take_idle() or await pool.connect()
        except (OSError, TimeoutError) as exc:
            self._leave()
            raise pool.unavailable(f"cannot connect: {type(exc).__name__}") from exc
        except BaseException:
            self._leave()
            raise
        self.connection = connection
        return connection

    async def __aexit__(self, *exc: object) -> None:
        # The gate's slot comes back whatever happens below: a slot lost here is lost for the
        # life of the process, and after `db_pool_size` of them every request would be a 503.
        error = exc[1]
        try:
            if isinstance(error, _BROKEN):
                self.terminate()
            elif self.connection is not None:
                self._pool.give_back(self.connection)
        finally:
            self.connection = None
            self._leave()
        if self.expired and isinstance(error, asyncpg.InterfaceError | OSError):
            raise self._pool.unavailable("no answer within the statement timeout") from error
        if isinstance(error, OSError):
            raise self._pool.unavailable(f"connection failed: {type(error).__name__}") from error

    async def _wait_for_gate(self, deadline: float) -> None:
        """Wait for a slot until `deadline`, then 503. The watchdog cancels a wait that outlives
        it (to within TICK), so no timer is armed per request (asyncio.timeout's was ~5% of the
        read path's CPU, and under load nearly every request waits here)."""
        pool = self._pool
        self.wait_deadline = deadline
        self.waiter = asyncio.current_task()
        pool.waiting[self] = None
        try:
            await pool.gate.acquire()
        except asyncio.CancelledError as exc:
            if not self.gave_up:
                raise
            if self.waiter is not None:
                self.waiter.uncancel()  # our cancellation, not the caller's
            raise pool.unavailable("every database connection is busy") from exc
        finally:
            del pool.waiting[self]

    def give_up(self) -> None:
        if not self.gave_up and self.waiter is not None:
            self.gave_up = True
            self.waiter.cancel()

    def terminate(self) -> None:
        if self.connection is not None:
            self.connection.terminate()

    def _leave(self) -> None:
        self._pool.in_flight.pop(self, None)
        self._pool.gate.release()


class BoundedPool:
    def __init__(
        self,
        connect: Callable[[], Awaitable[asyncpg.Connection]],
        *,
        size: int,
        acquire_timeout: float,
        statement_timeout: float,
        retry_after: int,
        idle_lifetime: float = IDLE_LIFETIME,
    ) -> None:
        self.connect = connect  # a new connection, bounded by its own connect timeout
        self.idle: list[tuple[asyncpg.Connection, float]] = []  # (connection, idle since)
        self.idle_lifetime = idle_lifetime
        self.acquire_timeout = acquire_timeout
        self.budget = statement_timeout + MARGIN
        self.retry_after = retry_after
        self.gate = asyncio.Semaphore(size)  # FIFO since Python 3.11
        self.loop = asyncio.get_running_loop()
        # Insertion-ordered: the oldest operations come first, so the watchdog stops early.
        self.in_flight: dict[Operation, None] = {}
        self.waiting: dict[Operation, None] = {}  # at the gate, also oldest first
        # Graceful closes of expired idle connections: the loop keeps only a weak reference
        # to a task (asyncio docs, "Creating Tasks"), so the pool keeps them until they end.
        self.closing: set[asyncio.Task[None]] = set()
        self._watchdog = asyncio.create_task(self._watch(), name="db-watchdog")

    def operation(self) -> Operation:
        return Operation(self)

    def take_idle(self) -> asyncpg.Connection | None:
        """The most recently used open connection (warm caches), or None."""
        idle = self.idle
        while idle:
            connection, _ = idle.pop()
            if not connection.is_closed():  # e.g. closed by TCP keepalive while idle
                return connection
        return None

    def give_back(self, connection: asyncpg.Connection) -> None:
        if connection.is_closed() or connection.is_in_transaction():
            connection.terminate()  # a broken protocol, or a transaction nobody will end
        else:
            self.idle.append((connection, self.loop.time()))

    def unavailable(self, why: str) -> DatabaseUnavailable:
        return DatabaseUnavailable(
            f"The database is unavailable ({why}); retry later.", retry_after=self.retry_after
        )

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(TICK)
            now = self.loop.time()
            while self.idle and self.idle[0][1] + self.idle_lifetime <= now:  # oldest first
                connection, _ = self.idle.pop(0)
                task = self.loop.create_task(_close(connection))
                self.closing.add(task)
                task.add_done_callback(self.closing.discard)
            for operation in list(self.waiting):
                if operation.wait_deadline > now:
                    break
                operation.give_up()
            for operation in list(self.in_flight):
                if operation.deadline > now:
                    break
                if not operation.expired:
                    operation.expired = True
                    log.warning("database_wait_expired", budget_s=self.budget)
                # Again on every tick: a connection that arrived after the deadline goes too.
                operation.terminate()

    async def close(self) -> None:
        """After the server has drained: idle connections say goodbye (within 5 s), and any
        still in use, stuck past the drain, are cut."""
        self._watchdog.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._watchdog
        idle = [connection for connection, _ in self.idle]
        self.idle.clear()
        await asyncio.gather(*(_close(connection) for connection in idle), *self.closing)
        for operation in list(self.in_flight):
            operation.terminate()


async def _close(connection: asyncpg.Connection) -> None:
    """A graceful close (PostgreSQL sees the session end), cut when it takes longer than 5 s."""
    try:
        await connection.close(timeout=5)
    except (OSError, TimeoutError, asyncpg.PostgresError, *_BROKEN):
        connection.terminate()  # asyncpg has aborted it already; this makes sure
