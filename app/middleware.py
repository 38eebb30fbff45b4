"""Plain ASGI middleware (no BaseHTTPMiddleware: it adds a task and a stream per request)."""

from __future__ import annotations

import re
import secrets
import time

import structlog
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.errors import problem_response
from app.http_rules import JsonBodyError, check_json_body
from app.observability.logging import AccessLog, request_id_var
from app.observability.metrics import Metrics

_REQUEST_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")
_ALB_ROOT = re.compile(r"(?:^|;)\s*Root=(1-[0-9a-f]{8}-[0-9a-f]{24})\s*(?:;|$)")
error_log = structlog.get_logger("app.errors")


class RequestContextMiddleware:
    """Request id (honoured or generated, echoed back), one access line, RED metrics."""

    def __init__(self, app: ASGIApp, *, metrics: Metrics, access_log: AccessLog) -> None:
        self.app = app
        self.metrics = metrics
        self.access_log = access_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        incoming_id, alb_trace_id = _incoming_ids(scope)
        request_id = incoming_id or secrets.token_hex(16)
        scope.setdefault("state", {})["request_id"] = request_id
        header = (b"x-request-id", request_id.encode())
        status = 500
        started = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, started
            if message["type"] == "http.response.start":
                started = True
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        token = request_id_var.set(request_id)
        metrics = self.metrics
        metrics.in_flight += 1
        try:
            await self.app(scope, receive, send_with_id)
        except Exception as exc:
            if started:
                raise  # too late for a response of our own; the server closes the connection
            # Answer here rather than in Starlette's outer error middleware, so the 500 carries
            # the request id header and is counted and logged like every other response.
            error_log.error("unhandled_exception", exc_info=exc)
            response = problem_response(Request(scope), 500, "An unexpected error occurred.")
            await response(scope, receive, send_with_id)
        finally:
            metrics.in_flight -= 1
            route = getattr(scope.get("route"), "path", None) or "<unmatched>"
            elapsed = time.perf_counter() - start
            metrics.observe(scope["method"], route, status, elapsed)
            self.access_log(
                method=scope["method"],
                path=scope["path"],
                route=route,
                status=status,
                duration_ms=round(elapsed * 1000, 3),
                request_id=request_id,
                # After ProxyHeadersMiddleware: the ALB's X-Forwarded-For, when it is trusted.
                client=(scope.get("client") or ("",))[0],
                **({"alb_trace_id": alb_trace_id} if alb_trace_id else {}),
                # Others still in flight: written with the rest of this loop turn's lines.
                hold=metrics.in_flight > 0,
            )
            request_id_var.reset(token)


def _incoming_ids(scope: Scope) -> tuple[str | None, str | None]:
    """The caller's request id, and the `Root` the ALB put in X-Amzn-Trace-Id: the ALB's own
    access log records that id, so logging it joins the two. (It has no `Parent`, so a trace,
    when tracing is on, starts here with an id of its own.)"""
    request_id = alb_trace_id = None
    seen_request_id = False
    for name, value in scope["headers"]:
        if name == b"x-request-id" and not seen_request_id:  # the first one decides
            seen_request_id = True
            text = value.decode("latin-1")
            # Only ids that are safe to log and echo; anything else gets a fresh one.
            request_id = text if _REQUEST_ID.fullmatch(text) else None
        elif name == b"x-amzn-trace-id":
            root = _ALB_ROOT.search(value.decode("latin-1"))
            alb_trace_id = root[1] if root else None
    return request_id, alb_trace_id


class BodyLimitMiddleware:
    """413 for bodies over `max_bytes`, whether announced by Content-Length or streamed; then
    strict JSON (app/http_rules.py): 415 for a body that is not JSON or not UTF-8, 422 for
    duplicate names.

    Not FastAPI's `max_body_size`: its early rejection (on Content-Length) answers text/plain,
    and every error here must be problem+json.
    """

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _has_body(scope):
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await self._reject(scope, receive, send)
            return
        # Read the (bounded) body up front, then replay it: the app never sees a partial one.
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # client went away
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._reject(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        content_type = _header(scope, b"content-type")
        if body:
            try:
                check_json_body(content_type, body)
            except JsonBodyError as exc:
                errors = [{"loc": ["body"], "msg": str(exc), "type": "json_invalid"}]
                response = problem_response(
                    Request(scope),
                    exc.status,
                    str(exc),
                    extra={"errors": errors} if exc.status == 422 else None,
                )
                await response(scope, receive, send)
                return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _reject(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = problem_response(
            Request(scope),
            413,
            f"The request body is larger than {self.max_bytes} bytes.",
            headers={"Connection": "close"},
        )
        await response(scope, receive, send)


def _has_body(scope: Scope) -> bool:
    return any(name in (b"content-length", b"transfer-encoding") for name, _ in scope["headers"])


def _header(scope: Scope, wanted: bytes) -> str | None:
    for name, value in scope["headers"]:
        if name == wanted:
            return str(value.decode("latin-1"))
    return None


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
