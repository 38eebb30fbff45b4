"""Bad input on both backends: every rejection is problem+json, and bad input loses nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from http import HTTPStatus
from typing import Any

import httpx
import pytest

from app.main import create_app
from tests.conftest import API_KEY, AUTH, make_settings, running

pytestmark = pytest.mark.asyncio

PROBLEM_JSON = "application/problem+json"
MIB = 1024 * 1024
EXISTING = "/items/1"


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    problem: dict[str, Any] = response.json()
    assert problem["type"] == "about:blank"
    assert problem["title"] == HTTPStatus(status).phrase
    assert problem["status"] == status
    assert isinstance(problem["detail"], str)
    assert problem["detail"]
    return problem


def assert_invalid(response: httpx.Response, loc: list[object], kind: str) -> None:
    problem = assert_problem(response, 422)
    errors = problem["errors"]
    assert errors
    assert all(set(e) == {"loc", "msg", "type"} and isinstance(e["msg"], str) for e in errors)
    assert {"loc": loc, "type": kind} in [{"loc": e["loc"], "type": e["type"]} for e in errors]


async def snapshot(client: httpx.AsyncClient) -> Any:
    response = await client.get("/items", params={"limit": 100})
    assert response.status_code == 200
    return response.json()


@pytest.fixture
async def before(client: httpx.AsyncClient) -> Any:
    """One stored item (id 1, version 1), and the full listing to compare against afterwards."""
    created = await client.post("/items", json={"name": "keep"}, headers=AUTH)
    assert created.headers["location"] == EXISTING
    return await snapshot(client)


def case(body: Any, field: str | None, kind: str, name: str) -> Any:
    """A bad body and the error it must produce: at `field` (or the whole body), of `kind`."""
    return pytest.param(body, (["body", field] if field else ["body"], kind), id=name)


BAD_BODIES = [
    case({"name": 123}, "name", "string_type", "name-int"),
    case({"name": True}, "name", "string_type", "name-bool"),
    case({"name": None}, "name", "string_type", "name-null"),
    case({"name": "ok", "description": []}, "description", "string_type", "description-list"),
    case({"name": "ok", "description": 5}, "description", "string_type", "description-int"),
    case({}, "name", "missing", "name-missing"),
    case({"description": "x"}, "name", "missing", "only-description"),
    case({"name": "ok", "color": "red"}, "color", "extra_forbidden", "extra"),
    case({"name": "x" * 101}, "name", "string_too_long", "name-101"),
    case({"name": ""}, "name", "string_too_short", "name-empty"),
    case({"name": "   "}, "name", "value_error", "name-blank"),
    # PostgreSQL text cannot hold NUL: refused up front, the same on SQLite.
    case({"name": "a\x00b"}, "name", "value_error", "name-nul"),
    case({"name": "ok", "description": "\x00"}, "description", "value_error", "description-nul"),
    case({"name": "a", "description": "d" * 1001}, "description", "string_too_long", "desc-1001"),
    case(["name", "ok"], None, "model_attributes_type", "json-array"),
    case("ok", None, "model_attributes_type", "json-string"),
]


@pytest.mark.parametrize("method", ["POST", "PUT"])
@pytest.mark.parametrize(("body", "error"), BAD_BODIES)
async def test_invalid_full_body_is_422_and_stores_nothing(
    client: httpx.AsyncClient, before: Any, method: str, body: Any, error: tuple[list[object], str]
) -> None:
    url = "/items" if method == "POST" else EXISTING
    response = await client.request(method, url, json=body, headers=AUTH)
    assert_invalid(response, *error)
    assert await snapshot(client) == before


@pytest.mark.parametrize(
    ("body", "error"),
    [
        case({"name": None}, None, "value_error", "name-null"),
        case({"description": None}, None, "value_error", "description-null"),
        case({"name": 1}, "name", "string_type", "name-int"),
        case({"name": "   "}, "name", "value_error", "name-blank"),
        case({"name": "x" * 101}, "name", "string_too_long", "name-101"),
        case({"version": 9}, "version", "extra_forbidden", "extra"),
        case({"description": "x\x00"}, "description", "value_error", "description-nul"),
        case([], None, "model_attributes_type", "json-array"),
    ],
)
async def test_invalid_patch_is_422_and_changes_nothing(
    client: httpx.AsyncClient, before: Any, body: Any, error: tuple[list[object], str]
) -> None:
    response = await client.patch(EXISTING, json=body, headers=AUTH)
    assert_invalid(response, *error)
    if body == {"name": None}:
        assert "name cannot be null" in response.json()["errors"][0]["msg"]
    assert await snapshot(client) == before


async def test_length_limits_are_inclusive(client: httpx.AsyncClient) -> None:
    body = {"name": "n" * 100, "description": "d" * 1000}
    created = await client.post("/items", json=body, headers=AUTH)
    assert created.status_code == 201, created.text
    assert (await client.get(created.headers["location"])).json()["name"] == body["name"]


@pytest.mark.parametrize(
    ("content", "error"),
    [
        pytest.param(b"{not json", (["body", 1], "json_invalid"), id="malformed"),
        pytest.param(b"", (["body"], "missing"), id="empty"),
        pytest.param(b'{"name": "a",}', (["body", 13], "json_invalid"), id="trailing-comma"),
        # Legal JSON, but not Unicode text: no driver could store it.
        pytest.param(
            b'{"name": "\\ud800"}', (["body", "name"], "string_unicode"), id="lone-surrogate"
        ),
    ],
)
async def test_unparseable_body_is_422(
    client: httpx.AsyncClient, before: Any, content: bytes, error: tuple[list[object], str]
) -> None:
    headers = {**AUTH, "Content-Type": "application/json"}
    assert_invalid(await client.post("/items", content=content, headers=headers), *error)
    assert await snapshot(client) == before


async def test_body_that_is_not_utf8_is_415(client: httpx.AsyncClient, before: Any) -> None:
    headers = {**AUTH, "Content-Type": "application/json"}
    response = await client.post("/items", content=b'{"name": "\xff"}', headers=headers)
    assert "UTF-8" in assert_problem(response, 415)["detail"]
    assert await snapshot(client) == before


BAD_PAGING = ["limit=-1", "limit=0", "limit=101", f"limit={10**12}", "limit=abc", "limit=1.5"]


@pytest.mark.parametrize("query", [*BAD_PAGING, "offset=-1", "offset=abc", f"offset={10**30}"])
async def test_bad_paging_is_422(client: httpx.AsyncClient, query: str) -> None:
    problem = assert_problem(await client.get(f"/items?{query}"), 422)
    assert [e["loc"] for e in problem["errors"]] == [["query", query.partition("=")[0]]]


@pytest.mark.parametrize("method", ["GET", "PUT", "PATCH", "DELETE"])
@pytest.mark.parametrize("item_id", ["abc", "0", "-1", "1.5", str(2**31), str(10**30)])
async def test_bad_item_id_is_422_not_500(
    client: httpx.AsyncClient, before: Any, method: str, item_id: str
) -> None:
    body = {"name": "x"} if method in {"PUT", "PATCH"} else None
    response = await client.request(method, f"/items/{item_id}", json=body, headers=AUTH)
    problem = assert_problem(response, 422)
    assert [e["loc"] for e in problem["errors"]] == [["path", "item_id"]]
    assert await snapshot(client) == before


async def test_largest_valid_id_is_a_plain_404(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get(f"/items/{2**31 - 1}"), 404)


async def test_one_mib_body_with_content_length_is_413(
    client: httpx.AsyncClient, before: Any
) -> None:
    content = b'{"name": "' + b"x" * MIB + b'"}'
    for method, url in (("POST", "/items"), ("PUT", EXISTING), ("PATCH", EXISTING)):
        headers = {**AUTH, "Content-Type": "application/json"}
        response = await client.request(method, url, content=content, headers=headers)
        problem = assert_problem(response, 413)
        assert str(64 * 1024) in problem["detail"]
        assert response.headers["connection"] == "close"
    assert await snapshot(client) == before


async def test_one_mib_chunked_body_is_413(client: httpx.AsyncClient, before: Any) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"name": "'
        for _ in range(16):
            yield b"x" * (64 * 1024)
        yield b'"}'

    headers = {**AUTH, "Content-Type": "application/json"}
    response = await client.post("/items", content=chunks(), headers=headers)
    assert_problem(response, 413)
    assert await snapshot(client) == before


async def test_invalid_body_under_the_limit_is_422_and_not_echoed(
    client: httpx.AsyncClient, before: Any
) -> None:
    marker = "echo-me-" + "z" * 60_000
    response = await client.post("/items", json={"name": marker}, headers=AUTH)
    assert_invalid(response, ["body", "name"], "string_too_long")
    assert "echo-me" not in response.text
    assert len(response.content) < 1000
    wrong_type = await client.post("/items", json={"name": ["echo-me-too"]}, headers=AUTH)
    assert_invalid(wrong_type, ["body", "name"], "string_type")
    assert "echo-me-too" not in wrong_type.text
    assert await snapshot(client) == before


async def test_custom_body_limit_is_exact(database_url: str) -> None:
    settings = make_settings(database_url=database_url, max_body_bytes=100)
    headers = {**AUTH, "Content-Type": "application/json"}
    async with running(create_app(settings)) as client:
        at_limit = b'{"name": "' + b"a" * 88 + b'"}'
        assert len(at_limit) == 100
        ok = await client.post("/items", content=at_limit, headers=headers)
        assert ok.status_code == 201, ok.text
        over = await client.post("/items", content=at_limit[:-2] + b'a"}', headers=headers)
        assert "100 bytes" in assert_problem(over, 413)["detail"]
        assert len((await client.get("/items")).json()["items"]) == 1


WRITES = [
    ("POST", "/items", {"name": "intruder"}),
    ("PUT", EXISTING, {"name": "intruder"}),
    ("PATCH", EXISTING, {"name": "intruder"}),
    ("DELETE", EXISTING, None),
]


@pytest.mark.parametrize(
    "auth",
    [
        pytest.param({}, id="none"),
        pytest.param({"Authorization": "Bearer wrong-key"}, id="wrong-bearer"),
        pytest.param({"X-API-Key": "wrong-key"}, id="wrong-x-api-key"),
        pytest.param({"Authorization": f"Basic {API_KEY}"}, id="basic"),
        pytest.param({"Authorization": "Bearer "}, id="empty-bearer"),
        pytest.param({"Authorization": API_KEY}, id="no-scheme"),
        pytest.param({"Authorization": f"Bearer {API_KEY}x"}, id="key-prefix"),
    ],
)
async def test_writes_without_a_valid_key_are_401_and_change_nothing(
    client: httpx.AsyncClient, before: Any, auth: dict[str, str]
) -> None:
    for method, url, body in WRITES:
        response = await client.request(method, url, json=body, headers=auth)
        assert_problem(response, 401)
        assert response.headers["www-authenticate"] == 'Bearer realm="items"'
    assert await snapshot(client) == before


async def test_x_api_key_header_authorizes_writes(client: httpx.AsyncClient) -> None:
    created = await client.post("/items", json={"name": "a"}, headers={"X-API-Key": API_KEY})
    assert created.status_code == 201, created.text


async def test_every_key_of_a_json_array_setting_works(database_url: str) -> None:
    settings = make_settings(database_url=database_url, api_keys='["key-one", "key-two"]')
    async with running(create_app(settings)) as client:
        for key in ("key-one", "key-two"):
            response = await client.post(
                "/items", json={"name": key}, headers={"Authorization": f"Bearer {key}"}
            )
            assert response.status_code == 201, response.text
        other = await client.post("/items", json={"name": "x"}, headers={"X-API-Key": API_KEY})
        assert_problem(other, 401)
        assert len((await client.get("/items")).json()["items"]) == 2


async def test_reads_need_no_key(client: httpx.AsyncClient, before: Any) -> None:
    assert await snapshot(client) == before
    assert (await client.get(EXISTING)).json()["name"] == "keep"
    assert (await client.get("/health")).status_code == 200


@pytest.mark.parametrize(
    "if_match",
    [
        pytest.param(b'"\xb2"', id="superscript-two"),  # latin-1 '²': str.isdigit() says yes
        pytest.param(b'"99999999999999999999999"', id="beyond-int64"),
        pytest.param(b'"9999999999"', id="beyond-int32"),
    ],
)
async def test_unmatchable_if_match_is_412_not_500(
    client: httpx.AsyncClient, before: Any, if_match: bytes
) -> None:
    headers = [(b"Authorization", AUTH["Authorization"].encode()), (b"If-Match", if_match)]
    response = await client.patch(EXISTING, json={"name": "changed"}, headers=headers)
    assert_problem(response, 412)
    assert await snapshot(client) == before
