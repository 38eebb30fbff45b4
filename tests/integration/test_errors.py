"""Errors a client can meet besides bad input: unknown routes and items, wrong methods, crashes
and database failures. All are problem+json, none leaks internals, all carry the request id."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from http import HTTPStatus
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy.exc
from fastapi import FastAPI, Request

from app.main import create_app
from tests.conftest import AUTH, make_settings, running

pytestmark = pytest.mark.asyncio

PROBLEM_JSON = "application/problem+json"


def assert_problem(response: httpx.Response, status: int, path: str) -> dict[str, Any]:
    """The RFC 9457 shape, `instance` is the path, and the body's id is the header's."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    problem: dict[str, Any] = response.json()
    assert problem["type"] == "about:blank"
    assert problem["title"] == HTTPStatus(status).phrase
    assert problem["status"] == status
    assert problem["instance"] == path
    assert isinstance(problem["request_id"], str)
    assert problem["request_id"]
    assert problem["request_id"] == response.headers["x-request-id"]
    return problem


def assert_no_internals(response: httpx.Response) -> None:
    for leak in ("secret-detail", "Traceback", "RuntimeError", 'File "', "sqlalchemy", "[SQL"):
        assert leak not in response.text


async def test_unknown_route_is_404_problem(client: httpx.AsyncClient) -> None:
    response = await client.get("/no/such/route", params={"q": "1"})
    problem = assert_problem(response, 404, "/no/such/route")
    assert problem["detail"] == "No route matches /no/such/route"
    assert "x-request-id" in response.headers


async def test_unknown_item_is_404_problem(client: httpx.AsyncClient) -> None:
    response = await client.get("/items/424242")
    problem = assert_problem(response, 404, "/items/424242")
    assert problem["detail"] == "Item 424242 does not exist."


async def test_client_request_id_is_echoed_in_header_and_problem(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/items/9", headers={"X-Request-ID": "trace-abc_1.2:3"})
    assert response.headers["x-request-id"] == "trace-abc_1.2:3"
    assert assert_problem(response, 404, "/items/9")["request_id"] == "trace-abc_1.2:3"


@pytest.mark.parametrize("unsafe", ["has space", "x" * 129, "new\u00e9line", ""])
async def test_unsafe_client_request_id_is_replaced(client: httpx.AsyncClient, unsafe: str) -> None:
    response = await client.get("/nope", headers={b"X-Request-ID": unsafe.encode("latin-1")})
    request_id = assert_problem(response, 404, "/nope")["request_id"]
    assert request_id != unsafe
    assert len(request_id) == 32


async def test_each_request_gets_its_own_id(client: httpx.AsyncClient) -> None:
    ids = {(await client.get("/nope")).headers["x-request-id"] for _ in range(5)}
    assert len(ids) == 5


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("DELETE", "/health", {"GET", "HEAD"}),
        ("POST", "/version", {"GET", "HEAD"}),
        ("PATCH", "/items", {"GET", "HEAD", "POST"}),
        ("POST", "/items/1", {"GET", "HEAD", "PUT", "PATCH", "DELETE"}),
    ],
)
async def test_wrong_method_is_405_with_allow(
    client: httpx.AsyncClient, method: str, path: str, allowed: set[str]
) -> None:
    response = await client.request(method, path)
    assert_problem(response, 405, path)
    # RFC 9110 §15.5.6: Allow lists *all* the methods the resource supports, and §9.1: a
    # general-purpose server supports HEAD wherever it supports GET.
    listed = {m.strip() for m in response.headers["allow"].split(",")}
    assert listed == allowed


@pytest.mark.parametrize("path", ["/health", "/version", "/items", "/items/1"])
async def test_head_answers_as_get_without_a_body(client: httpx.AsyncClient, path: str) -> None:
    """RFC 9110 §9.3.2: HEAD is GET without the content; the same status and headers."""
    if path == "/items/1":
        await client.post("/items", json={"name": "head"}, headers=AUTH)
    get = await client.get(path)
    head = await client.head(path)
    assert head.status_code == get.status_code == 200
    assert head.content == b""
    assert head.headers["content-type"] == get.headers["content-type"]
    if "etag" in get.headers:
        assert head.headers["etag"] == get.headers["etag"]


# Routes added to a real app, so the failures go through the real middleware and handlers.
FAILURES: dict[str, BaseException] = {
    "/boom": RuntimeError("secret-detail"),
    "/integrity": sqlalchemy.exc.IntegrityError("secret-detail", {}, Exception("y")),
    "/programming": sqlalchemy.exc.ProgrammingError("secret-detail", {}, Exception("y")),
    "/operational": sqlalchemy.exc.OperationalError("secret-detail", {}, Exception("refused")),
    "/pool": sqlalchemy.exc.TimeoutError("secret-detail"),
    "/invalidated": sqlalchemy.exc.DBAPIError(
        "secret-detail", {}, Exception("gone"), connection_invalidated=True
    ),
    "/value": ValueError("secret-detail"),
    # Not from the database layer: a bug, whatever the class suggests.
    "/oserror": OSError(28, "secret-detail"),
    "/timeout": TimeoutError("secret-detail"),
    "/reset": ConnectionResetError("secret-detail"),
}


def failing_app(tmp_path: Path) -> FastAPI:
    # The database is never touched: the engine connects lazily.
    settings = make_settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path}/unused.db", retry_after_seconds=7
    )
    app = create_app(settings)
    for path, exc in FAILURES.items():
        app.add_api_route(path, raiser(exc), methods=["GET"])

    async def crash_holding_a_secret(request: Request) -> None:
        password = (await request.json())["password"]  # a local the crash log must not show
        raise RuntimeError(f"failed for {len(password)}-char input")

    app.add_api_route("/boom-with-secret", crash_holding_a_secret, methods=["POST"])
    return app


def raiser(exc: BaseException) -> Callable[[], Awaitable[None]]:
    async def fail() -> None:
        raise exc

    return fail


@pytest.fixture
async def failing(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    async with running(failing_app(tmp_path), raise_app_exceptions=False) as client:
        yield client


@pytest.mark.parametrize(
    "path", ["/boom", "/integrity", "/programming", "/value", "/oserror", "/timeout", "/reset"]
)
async def test_unexpected_error_is_a_bare_500_logged_with_the_request_id(
    failing: httpx.AsyncClient, path: str, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    response = await failing.get(path, headers={"X-Request-ID": f"req{path.replace('/', '-')}"})
    problem = assert_problem(response, 500, path)
    assert problem["detail"] == "An unexpected error occurred."
    assert set(problem) == {"type", "title", "status", "detail", "instance", "request_id"}
    assert "retry-after" not in response.headers
    assert_no_internals(response)
    logged = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line]
    errors = [line for line in logged if line["level"] == "error"]
    assert [(e["event"], e["request_id"]) for e in errors] == [
        ("unhandled_exception", problem["request_id"])
    ]
    assert problem["request_id"] == f"req{path.replace('/', '-')}"
    assert not [line for line in logged if line["event"] == "database_unavailable"]


async def test_crash_keeps_the_client_request_id(failing: httpx.AsyncClient) -> None:
    response = await failing.get("/boom", headers={"X-Request-ID": "crash-1"})
    assert assert_problem(response, 500, "/boom")["request_id"] == "crash-1"
    assert response.headers["x-request-id"] == "crash-1"


async def test_crash_log_has_the_traceback_but_no_local_variables(
    failing: httpx.AsyncClient, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    await failing.post("/boom-with-secret", json={"password": "hunter2-local-value"})
    logged = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line]
    crash = next(line for line in logged if line["event"] == "unhandled_exception")
    assert crash["exception"][0]["exc_type"] == "RuntimeError"
    assert crash["request_id"]
    assert "hunter2-local-value" not in json.dumps(logged)


@pytest.mark.parametrize("path", ["/operational", "/pool", "/invalidated"])
async def test_database_unavailable_is_503_with_retry_after(
    failing: httpx.AsyncClient, path: str
) -> None:
    response = await failing.get(path)
    problem = assert_problem(response, 503, path)
    assert problem["detail"] == "The database is unavailable; retry later."
    assert response.headers["retry-after"] == "7"
    assert_no_internals(response)


async def test_app_keeps_serving_after_a_crash(failing: httpx.AsyncClient) -> None:
    assert (await failing.get("/boom")).status_code == 500
    assert (await failing.get("/health")).json() == {"status": "ok"}
