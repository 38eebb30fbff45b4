"""GET /items/{item_id} is served by `ItemReadRoute`, which skips FastAPI's dependency solving and
parameter validation when the id is canonical. Every answer must be the one FastAPI's own
handler for the same route gives: the same requests go to the app as it is and to the app with
the route's handler swapped for the framework's, and the answers are compared (status, headers,
body; only the per-request id differs). The OpenAPI document is compared the same way."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, request_response

from app.config import Settings
from app.items.router import ItemReadRoute
from app.items.router import router as items_router
from app.main import create_app
from tests.conftest import AUTH, running

pytestmark = pytest.mark.asyncio

IDS = ["1", "2", "3", "999", "0", "01", "+1", "%2B1", "1.0", "1e3", "-1", "abc", "%31", "٣"]
IDS += ["2147483647", "2147483648", "99999999999999999999"]
IF_NONE_MATCH: list[list[tuple[str, str]]] = [
    [],
    [("If-None-Match", '"1"')],
    [("If-None-Match", 'W/"1"')],
    [("If-None-Match", '"2", "1"')],
    [("If-None-Match", "*")],
    [("If-None-Match", '"7"')],
    [("If-None-Match", "")],
    [("If-None-Match", '"7"'), ("If-None-Match", '"1"')],
    [("If-None-Match", '"1"'), ("If-None-Match", '"7"')],
]


def the_route() -> ItemReadRoute:
    return next(r for r in items_router.routes if isinstance(r, ItemReadRoute))


def framework_handler(route: APIRoute) -> Any:
    """What FastAPI itself builds for this route (APIRoute's own get_route_handler)."""
    return request_response(APIRoute.get_route_handler(route))


def comparable(response: httpx.Response) -> tuple[int, list[tuple[str, str]], Any]:
    headers = [(k, v) for k, v in response.headers.multi_items() if k != "x-request-id"]
    body: Any = response.content
    if response.headers.get("content-type", "").endswith("json") and body:
        body = json.loads(body)
        if isinstance(body, dict):
            body.pop("request_id", None)
            headers = [(k, v) for k, v in headers if k != "content-length"]
    return response.status_code, headers, body


async def seed(app: FastAPI) -> None:
    async with running(app) as client:
        for name in ("one", "two"):
            created = await client.post("/items", json={"name": name}, headers=AUTH)
            assert created.status_code == 201
        patched = await client.patch("/items/2", json={"name": "two again"}, headers=AUTH)
        assert patched.status_code == 200


async def answers(app: FastAPI) -> list[Any]:
    results = []
    async with running(app) as client:
        for item_id in IDS:
            for headers in IF_NONE_MATCH:
                for method in ("GET", "HEAD"):
                    response = await client.request(method, f"/items/{item_id}", headers=headers)
                    results.append((method, item_id, headers, comparable(response)))
    return results


async def test_the_lean_read_answers_what_fastapis_own_handler_answers(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    await seed(create_app(settings))
    lean = await answers(create_app(settings))
    monkeypatch.setattr(the_route(), "app", framework_handler(the_route()))
    framework = await answers(create_app(settings))
    assert len(lean) == len(framework)
    for ours, theirs in zip(lean, framework, strict=True):
        assert ours == theirs
    statuses = {answer[3][0] for answer in lean}
    assert statuses == {200, 304, 404, 422}  # every branch was exercised


async def test_the_openapi_document_is_the_framework_routes(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    ours = create_app(settings).openapi()
    plain = APIRoute(
        the_route().path,
        the_route().endpoint,
        methods=["GET"],
        response_model=the_route().response_model,
        responses=the_route().responses,
        tags=the_route().tags,
    )
    routes = [plain if r is the_route() else r for r in items_router.routes]
    monkeypatch.setattr(items_router, "routes", routes)
    theirs = create_app(settings).openapi()
    assert ours == theirs
    assert "/items/{item_id}" in ours["paths"]
