"""HTTP rules the framework leaves to the application: HEAD on every GET route (RFC 9110
§9.3.2), exactly one Host (RFC 9112 §3.2), and strict JSON bodies (RFC 8259: UTF-8, and no
duplicate names, which parsers resolve differently, so a proxy and this service could read two
different documents from one body)."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.errors import problem_response

# What an ALB accepts (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/
# load-balancer-limits.html: "Maximum size of a single header: 16 K", "Maximum size of the whole
# header: 64 K"). The server bounds what it buffers; these make the service refuse exactly what
# the ALB would, whichever way it is reached.
MAX_HEADER_LINE = 16 * 1024
MAX_HEADERS = 64 * 1024


class HeadAndHostMiddleware:
    """431 for headers past the ALB's limits; 400 unless an HTTP/1.1 request names exactly one
    non-empty Host (HTTP/1.0: at most one); HEAD answered as GET would be, body dropped (status
    and headers, Content-Length included, kept)."""

    def __init__(self, app: ASGIApp, *, routes: list[BaseRoute]) -> None:
        self.app = app
        self.routes = routes  # the router's own list: routes added later count too

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        problem = _header_problem(scope)
        if problem is not None:
            status, detail = problem
            await problem_response(Request(scope), status, detail)(scope, receive, send)
            return
        if scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return
        as_get = {**scope, "method": "GET"}
        if not any(route.matches(as_get)[0] == Match.FULL for route in self.routes):
            await self.app(scope, receive, send)  # no GET here: the router's 405 says so
            return

        async def without_body(message: Message) -> None:
            if message["type"] == "http.response.body":
                message = {**message, "body": b""}
            await send(message)

        try:
            await self.app(as_get, receive, without_body)
        finally:
            if "route" in as_get:  # the access line and metrics name the route
                scope["route"] = as_get["route"]


def _header_problem(scope: Scope) -> tuple[int, str] | None:
    hosts: list[bytes] = []
    total = 0
    for name, value in scope["headers"]:
        line = len(name) + 2 + len(value)  # "name: value"
        if line > MAX_HEADER_LINE:
            return 431, f"A header line is larger than {MAX_HEADER_LINE} bytes."
        total += line
        if name == b"host":
            hosts.append(value)
    if total > MAX_HEADERS:
        return 431, f"The headers are larger than {MAX_HEADERS} bytes in all."
    if len(hosts) > 1:
        return 400, "A request names exactly one Host."
    # Empty counts as missing: an http URI always has a host (RFC 9110 §4.2.1), and some
    # servers fill in an empty Host for a request that sent none.
    if (not hosts or not hosts[0].strip()) and scope.get("http_version") != "1.0":
        return 400, "Host is missing."
    return None


class JsonBodyError(ValueError):
    """A body this service will not read; `status` is 415 or 422."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def is_json(content_type: str | None) -> bool:
    """What FastAPI parses as JSON: no Content-Type, application/json, or any +json type."""
    if content_type is None:
        return True
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


def check_json_body(content_type: str | None, body: bytes) -> None:
    """Raise JsonBodyError for a media type that is not JSON, a charset other than UTF-8, bytes
    that are not UTF-8 (a BOM included), duplicate names, or NaN/Infinity (not JSON). Syntax
    errors are left to the framework's own 422."""
    if not is_json(content_type):
        raise JsonBodyError(415, "The body must be application/json.")
    for param in (content_type or "").split(";")[1:]:
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset" and value.strip().strip('"').lower() != "utf-8":
            raise JsonBodyError(
                415, "JSON bodies are UTF-8 (RFC 8259); drop the charset or say utf-8."
            )
    if body.startswith(b"\xef\xbb\xbf"):
        raise JsonBodyError(415, "JSON bodies are UTF-8 without a byte order mark (RFC 8259).")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise JsonBodyError(
            415, "The body is not UTF-8; JSON bodies are UTF-8 (RFC 8259)."
        ) from None
    try:
        json.loads(text, object_pairs_hook=_unique, parse_constant=_no_constant)
    except json.JSONDecodeError:
        return


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise JsonBodyError(422, f"The JSON object names {key!r} more than once.")
        seen[key] = value
    return seen


def _no_constant(name: str) -> None:
    raise JsonBodyError(422, f"{name} is not a JSON value.")
