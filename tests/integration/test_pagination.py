"""Keyset pagination on both backends: follow `next` (body and Link header) through every page,
with writes between pages; bad cursors and legacy offsets refused clearly."""

from __future__ import annotations

import base64
from typing import Any

import httpx
import pytest

from tests.conftest import AUTH

pytestmark = pytest.mark.asyncio


async def _create(client: httpx.AsyncClient, count: int) -> list[int]:
    ids = []
    for i in range(count):
        response = await client.post("/items", json={"name": f"item-{i}"}, headers=AUTH)
        assert response.status_code == 201, response.text
        ids.append(response.json()["id"])
    return ids


def _next_link(response: httpx.Response) -> str | None:
    link = response.links.get("next")  # httpx's own RFC 8288 parser
    return link["url"] if link else None


async def test_following_next_visits_every_item_once(client: httpx.AsyncClient) -> None:
    ids = await _create(client, 11)
    seen: list[int] = []
    response = await client.get("/items", params={"limit": 4})
    pages = 0
    while True:
        assert response.status_code == 200, response.text
        page: dict[str, Any] = response.json()
        assert set(page) == {"items", "limit", "next"}
        assert page["limit"] == 4
        seen += [item["id"] for item in page["items"]]
        pages += 1
        link = _next_link(response)
        if page["next"] is None:
            assert link is None
            assert "link" not in response.headers
            break
        # The Link header names the same page the body does, as a relative reference.
        assert link == f"/items?limit=4&after={page['next']}"
        response = await client.get(link)
    assert seen == ids
    assert pages == 3


async def test_exact_multiple_has_no_empty_last_page(client: httpx.AsyncClient) -> None:
    await _create(client, 4)
    first = (await client.get("/items", params={"limit": 2})).json()
    second = (await client.get("/items", params={"limit": 2, "after": first["next"]})).json()
    assert len(second["items"]) == 2
    assert second["next"] is None


async def test_writes_between_pages_neither_skip_nor_repeat(client: httpx.AsyncClient) -> None:
    ids = await _create(client, 6)
    first = (await client.get("/items", params={"limit": 3})).json()
    assert [i["id"] for i in first["items"]] == ids[:3]
    # An offset would now shift by one and skip an item; a cursor keeps its place.
    assert (await client.delete(f"/items/{ids[0]}", headers=AUTH)).status_code == 204
    new = await _create(client, 1)
    rest = (await client.get("/items", params={"limit": 10, "after": first["next"]})).json()
    assert [i["id"] for i in rest["items"]] == ids[3:] + new


async def test_an_empty_table_is_one_empty_page(client: httpx.AsyncClient) -> None:
    response = await client.get("/items")
    assert response.json() == {"items": [], "limit": 20, "next": None}
    assert "link" not in response.headers


def _forged(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).rstrip(b"=").decode()


@pytest.mark.parametrize(
    "after",
    [
        pytest.param("not-a-cursor", id="garbage"),
        pytest.param("", id="empty"),
        pytest.param("a" * 40, id="too-long"),
        pytest.param(_forged("v1:0"), id="id-zero"),
        pytest.param(_forged("v1:007"), id="leading-zeros"),
        pytest.param(_forged("v1:2147483648"), id="past-max-id"),
        pytest.param(_forged("v2:5"), id="unknown-version"),
        pytest.param(_forged("v1:5") + "=", id="padded"),
        pytest.param("djE6NQ%3D%3D", id="percent-padding"),
    ],
)
async def test_a_cursor_this_api_did_not_write_is_422(
    client: httpx.AsyncClient, after: str
) -> None:
    response = await client.get(f"/items?after={after}")
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert [e["loc"] for e in response.json()["errors"]] == [["query", "after"]]


async def test_after_and_offset_together_are_refused(client: httpx.AsyncClient) -> None:
    await _create(client, 3)
    cursor = (await client.get("/items", params={"limit": 1})).json()["next"]
    response = await client.get("/items", params={"after": cursor, "offset": 1})
    assert response.status_code == 422
    assert [e["loc"] for e in response.json()["errors"]] == [["query", "offset"]]


@pytest.mark.parametrize(("offset", "status"), [(1000, 200), (1001, 422)])
async def test_legacy_offset_is_bounded(
    client: httpx.AsyncClient, offset: int, status: int
) -> None:
    response = await client.get("/items", params={"offset": offset})
    assert response.status_code == status, response.text
