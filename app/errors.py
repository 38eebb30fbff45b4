"""One exception tree, rendered as RFC 9457 `application/problem+json`.

    AppError                      base: status, title, detail, extra headers
    ├── NotFound                  404  no such item
    ├── Unauthorized              401  missing or wrong API key
    ├── PreconditionFailed        412  If-Match does not match the current ETag
    ├── PayloadTooLarge           413  body over MAX_BODY_BYTES
    └── ServiceUnavailable        503  + Retry-After
        └── DatabaseUnavailable        database down, slow, or pool exhausted

Framework errors (unknown route, wrong method, validation) and anything unexpected are mapped
here too, so every error a client sees has the same shape and none carries a stack trace.
Only errors raised by the database layer (asyncpg, SQLAlchemy, the stores) can become a 503;
anything else, an OSError or a TimeoutError included, is a 500 logged at error level with the
request id.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any, cast

import asyncpg
import orjson
import sqlalchemy.exc
import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.routing import compile_path

PROBLEM_JSON = "application/problem+json"
log = structlog.get_logger("app.errors")


class AppError(Exception):
    status: int = 500
    title: str | None = None

    def __init__(self, detail: str | None = None, *, headers: Mapping[str, str] | None = None):
        super().__init__(detail or self.title or HTTPStatus(self.status).phrase)
        self.detail = detail
        self.headers = dict(headers or {})


class NotFound(AppError):
    status = 404


class Unauthorized(AppError):
    status = 401

    def __init__(self, detail: str) -> None:
        super().__init__(detail, headers={"WWW-Authenticate": 'Bearer realm="items"'})


class PreconditionFailed(AppError):
    status = 412


class PayloadTooLarge(AppError):
    status = 413


class ServiceUnavailable(AppError):
    status = 503

    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(detail, headers={"Retry-After": str(retry_after)})


class DatabaseUnavailable(ServiceUnavailable):
    pass


# asyncpg's "cannot answer now" classes: connection (08), resources (53: too many connections),
# operator intervention (57: shutdown, cannot connect now, statement timeout), and the client-side
# interface errors (closed connection, pool closing). InternalClientError is what a query meets on
# a connection the server has just dropped (its FATAL read, the socket not yet seen closed): the
# store never shares a connection between queries, so here it means a dying connection.
_ASYNCPG_UNAVAILABLE = (
    asyncpg.PostgresConnectionError,
    asyncpg.InsufficientResourcesError,
    asyncpg.OperatorInterventionError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,
)


def _chain(exc: BaseException) -> list[BaseException]:
    """`exc` and what it wraps: SQLAlchemy's `orig` (the adapter's error), then `__cause__`
    (asyncpg's own exception under the asyncpg adapter)."""
    found: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in found:
        found.append(current)
        orig = getattr(current, "orig", None)
        current = orig if isinstance(orig, BaseException) else current.__cause__
    return found


def is_database_unavailable(exc: BaseException) -> bool:
    """True for failures that mean "the database cannot answer now", not "bad statement"."""
    if any(isinstance(cause, _ASYNCPG_UNAVAILABLE) for cause in _chain(exc)):
        return True  # e.g. 57P03 "the database system is starting up", as a plain DBAPIError
    if isinstance(exc, sqlalchemy.exc.TimeoutError | sqlalchemy.exc.OperationalError):
        return True
    if isinstance(exc, sqlalchemy.exc.InterfaceError):
        return True
    if isinstance(exc, sqlalchemy.exc.DBAPIError) and exc.connection_invalidated:
        return True
    # Only callers that know the error came from a connection attempt (app.migrate, the
    # readiness probe) ask about these; the request handlers never map them: an OSError from
    # anywhere else is a bug, a 500 (the asyncpg store raises DatabaseUnavailable itself).
    return isinstance(exc, OSError | asyncio.TimeoutError | ConnectionError)


def problem_response(
    request: Request | None,
    status: int,
    detail: str | None = None,
    *,
    title: str | None = None,
    headers: Mapping[str, str] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> Response:
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": title or HTTPStatus(status).phrase,
        "status": status,
    }
    if detail:
        body["detail"] = detail
    if request is not None:
        body["instance"] = request.url.path
        request_id = request.scope.get("state", {}).get("request_id")
        if request_id:
            body["request_id"] = request_id
    if extra:
        body.update(extra)
    return Response(
        orjson.dumps(body), status_code=status, headers=headers, media_type=PROBLEM_JSON
    )


async def _app_error(request: Request, exc: Exception) -> Response:
    exc = cast(AppError, exc)
    return problem_response(request, exc.status, exc.detail, title=exc.title, headers=exc.headers)


async def _http_error(request: Request, exc: Exception) -> Response:
    exc = cast(StarletteHTTPException, exc)
    detail = exc.detail if exc.detail != HTTPStatus(exc.status_code).phrase else None
    headers = dict(exc.headers or {})
    path = request.url.path
    if exc.status_code == 404 and path.endswith("/") and path != "/":
        # `/items/` names `/items`: redirect, with a relative reference (RFC 9110 §10.2.2), so
        # the answer never carries a Host the client chose.
        target = path.rstrip("/")
        if allowed_methods(request.app, target):
            query = request.url.query
            location = target + (f"?{query}" if query else "")
            return problem_response(
                request, 308, f"The resource is at {target}.", headers={"Location": location}
            )
    if exc.status_code == 404 and detail is None:
        detail = f"No route matches {request.url.path}"
    elif exc.status_code == 405:
        allowed = allowed_methods(request.app, request.url.path) or headers.get("Allow", "")
        headers["Allow"] = allowed
        detail = f"{request.method} is not allowed here; allowed: {allowed}."
    return problem_response(request, exc.status_code, detail, headers=headers)


def allowed_methods(app: FastAPI, path: str) -> str | None:
    """Every method any route offers for `path` (FastAPI has one route per method, and the
    router's own 405 names only the first route that matched the path)."""
    table: list[tuple[re.Pattern[str], str]] | None = getattr(app.state, "allow_table", None)
    if table is None:
        table = []
        for template, operations in app.openapi()["paths"].items():
            verbs = {m.upper() for m in operations}
            if "GET" in verbs:
                verbs.add("HEAD")
            table.append((compile_path(template)[0], ", ".join(sorted(verbs))))
        app.state.allow_table = table
    for pattern, allowed in table:
        if pattern.match(path):
            return allowed
    return None


def _jsonable_error(error: Mapping[str, Any]) -> dict[str, Any]:
    # Only the fields a client can act on; `input` and `ctx` may hold unserializable objects
    # or echo large bodies back.
    return {"loc": list(error.get("loc", ())), "msg": error.get("msg"), "type": error.get("type")}


async def _validation_error(request: Request, exc: Exception) -> Response:
    exc = cast(RequestValidationError, exc)
    errors = [_jsonable_error(e) for e in exc.errors()]
    return problem_response(
        request,
        422,
        "The request does not match the schema; see `errors`.",
        extra={"errors": errors},
    )


async def _database_error(request: Request, exc: Exception) -> Response:
    if not is_database_unavailable(exc):
        return await _unexpected(request, exc)
    log.warning("database_unavailable", error=type(exc).__name__, message=str(exc)[:200])
    retry_after = request.app.state.settings.retry_after_seconds
    return problem_response(
        request,
        503,
        "The database is unavailable; retry later.",
        headers={"Retry-After": str(retry_after)},
    )


async def _unexpected(request: Request, exc: Exception) -> Response:
    log.error("unhandled_exception", exc_info=exc)
    return problem_response(request, 500, "An unexpected error occurred.")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AppError, _app_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(sqlalchemy.exc.SQLAlchemyError, _database_error)
    app.add_exception_handler(asyncpg.PostgresError, _database_error)
    app.add_exception_handler(asyncpg.InterfaceError, _database_error)
    app.add_exception_handler(asyncpg.InternalClientError, _database_error)
    app.add_exception_handler(Exception, _unexpected)
