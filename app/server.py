"""uvicorn's httptools protocol with the limits it lacks: a bound on the bytes of a request head
and a deadline for reading it, and a silent new connection closed like an idle one.

Measured side by side (bench/README.md, "Choosing the server"): uvicorn with httptools is among
the fastest candidates on the read path here (with Granian), but on its own it accepts a 64 MiB
header (blocking the event loop for seconds) and keeps connections that send nothing, or a byte a
second, forever. h11 bounds only heads that arrive in pieces and is slower; Granian bounds the
head and its read time but caps that time at 60 s, which is also its idle timeout, no longer than
the ALB's; Hypercorn was the slowest. So the service keeps httptools and adds the limits here,
through uvicorn's documented `http` protocol class option.

    a request head (request line + headers) over MAX_HEAD_BYTES   431, connection closed
    a request head not complete HEADER_READ_TIMEOUT s after it began   connection closed
    a new connection that sends nothing for KEEP_ALIVE_TIMEOUT s       connection closed
    a connection, or a request, past MAX_CONNECTIONS at once           503 + Retry-After

Both refusals are problem+json with a request id and a warning log line, like the app's own
errors: the server's are not uvicorn's (its 503 past `limit_concurrency` is text/plain, with no
Retry-After), so the limit is counted here, not by uvicorn.
"""

from __future__ import annotations

import asyncio
import secrets
from typing import Any

import structlog
from starlette.types import Receive, Scope, Send
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from app.config import get_settings
from app.errors import problem_response

log = structlog.get_logger("app.server")

# The ALB's own limit for all the headers of a request (app/http_rules.py), plus a request line.
MAX_HEAD_BYTES = 64 * 1024 + 8 * 1024


class Busy:
    """The app in place of the service's while MAX_CONNECTIONS are taken."""

    def __init__(self, *, limit: int, retry_after: int) -> None:
        self.limit = limit
        self.retry_after = str(retry_after)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        request_id = secrets.token_hex(16)
        log.warning("connection_limit_reached", limit=self.limit, path=path, request_id=request_id)
        response = problem_response(
            None,
            503,
            f"The service is at its limit of {self.limit} connections; retry later.",
            headers={
                "Retry-After": self.retry_after,
                "X-Request-ID": request_id,
                "Connection": "close",
            },
            extra={"instance": path, "request_id": request_id},
        )
        await response(scope, receive, send)


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # From the settings, not from app.__main__: uvicorn's worker processes import this
        # class afresh.
        settings = get_settings()
        self.header_read_timeout = settings.header_read_timeout
        self.max_connections = settings.max_connections
        self.busy = Busy(limit=settings.max_connections, retry_after=settings.retry_after_seconds)
        self._in_head = False
        self._head_bytes = 0
        self._head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        # uvicorn arms its idle timer only after a response; a connection that never sends a
        # byte gets the same deadline.
        self.timeout_keep_alive_task = self.loop.call_later(
            self.timeout_keep_alive, self.timeout_keep_alive_handler
        )

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self._in_head and not self.transport.is_closing():
            # Counted only while the head is still incomplete after this chunk: a chunk that
            # completes it may carry a body too, which is not the head's.
            self._head_bytes += len(data)
            if self._head_bytes > MAX_HEAD_BYTES:
                self._refuse_head()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head = True
        self._head_bytes = 0
        self._head_timer = self.loop.call_later(self.header_read_timeout, self._head_too_slow)

    def on_headers_complete(self) -> None:
        self._end_head()
        # Past the limit: this connection is one more than MAX_CONNECTIONS, or MAX_CONNECTIONS
        # requests are already in progress (uvicorn's `limit_concurrency` refuses one sooner:
        # it counts this connection against the limit).
        if len(self.connections) > self.max_connections or len(self.tasks) >= self.max_connections:
            app, self.app = self.app, self.busy
            try:
                super().on_headers_complete()  # takes self.app for this one request
            finally:
                self.app = app
        else:
            super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._end_head()
        super().connection_lost(exc)

    def _end_head(self) -> None:
        self._in_head = False
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_too_slow(self) -> None:
        self._head_timer = None
        if self._in_head and not self.transport.is_closing():
            self.transport.close()

    def _refuse_head(self) -> None:
        self._end_head()
        request_id = secrets.token_hex(16)
        detail = f"The request head is larger than {MAX_HEAD_BYTES} bytes."
        body = problem_response(None, 431, detail, extra={"request_id": request_id}).body
        log.warning("request_head_too_large", limit=MAX_HEAD_BYTES, request_id=request_id)
        self.transport.write(
            b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
            b"content-type: application/problem+json\r\n"
            b"content-length: " + str(len(body)).encode() + b"\r\n"
            b"x-request-id: " + request_id.encode() + b"\r\n"
            b"connection: close\r\n\r\n" + body
        )
        self.transport.close()
