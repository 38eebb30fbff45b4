"""The items API end to end on both backends: CRUD, paging, ETags and conditional writes."""

from __future__ import annotations

from datetime import datetime

import httpx
import pytest

from tests.conftest import AUTH

pytestmark = pytest.mark.asyncio


async def create(client: httpx.AsyncClient, **body: object) -> httpx.Response:
    response = await client.post("/items", json=body, headers=AUTH)
    assert response.status_code == 201, response.text
    return response


async def test_create_then_read(client: httpx.AsyncClient) -> None:
    created = await create(client, name="Widget")
    item = created.json()
    assert item["name"] == "Widget"
    assert item["description"] == "A sample item"
    assert item["version"] == 1
    assert created.headers["location"] == f"/items/{item['id']}"
    assert created.headers["etag"] == '"1"'
    created_at = datetime.fromisoformat(item["created_at"])
    offset = created_at.utcoffset()
    assert offset is not None
    assert offset.total_seconds() == 0
    assert item["updated_at"] == item["created_at"]

    read = await client.get(created.headers["location"])
    assert read.status_code == 200
    assert read.json() == item
    assert read.headers["etag"] == '"1"'
    assert read.headers["content-type"] == "application/json"


async def test_put_replaces_the_whole_item(client: httpx.AsyncClient) -> None:
    item = (await create(client, name="a", description="custom")).json()
    replaced = await client.put(f"/items/{item['id']}", json={"name": "b"}, headers=AUTH)
    assert replaced.status_code == 200
    body = replaced.json()
    assert body["name"] == "b"
    assert body["description"] == "A sample item"  # omitted field back to its default
    assert body["version"] == 2
    assert body["created_at"] == item["created_at"]
    assert body["updated_at"] >= item["updated_at"]
    assert replaced.headers["etag"] == '"2"'


async def test_patch_changes_only_what_is_sent(client: httpx.AsyncClient) -> None:
    item = (await create(client, name="a", description="keep me")).json()
    patched = await client.patch(f"/items/{item['id']}", json={"name": "renamed"}, headers=AUTH)
    assert patched.status_code == 200
    assert patched.json()["description"] == "keep me"
    assert patched.json()["name"] == "renamed"
    assert patched.json()["version"] == 2
    again = await client.patch(f"/items/{item['id']}", json={"description": "new"}, headers=AUTH)
    assert again.json() == {
        **patched.json(),
        "description": "new",
        "version": 3,
        "updated_at": again.json()["updated_at"],
    }


async def test_delete_then_gone(client: httpx.AsyncClient) -> None:
    item = (await create(client, name="short-lived")).json()
    deleted = await client.delete(f"/items/{item['id']}", headers=AUTH)
    assert deleted.status_code == 204
    assert deleted.content == b""
    assert (await client.get(f"/items/{item['id']}")).status_code == 404
    again = await client.delete(f"/items/{item['id']}", headers=AUTH)
    assert again.status_code == 404
    assert again.headers["content-type"] == "application/problem+json"


async def test_legacy_offset_pages_in_id_order(client: httpx.AsyncClient) -> None:
    ids = [(await create(client, name=f"item-{i}")).json()["id"] for i in range(7)]
    first = (await client.get("/items", params={"limit": 3})).json()
    assert first["limit"] == 3
    assert "total" not in first
    assert [i["id"] for i in first["items"]] == ids[:3]
    rest = (await client.get("/items", params={"limit": 3, "offset": 3})).json()
    last = (await client.get("/items", params={"limit": 3, "offset": 6})).json()
    assert [i["id"] for i in rest["items"]] == ids[3:6]
    assert [i["id"] for i in last["items"]] == ids[6:]
    assert last["next"] is None
    beyond = (await client.get("/items", params={"offset": 100})).json()
    assert beyond == {"items": [], "limit": 20, "next": None}


async def test_if_match_current_version_succeeds(client: httpx.AsyncClient) -> None:
    created = await create(client, name="a")
    url = created.headers["location"]
    ok = await client.patch(
        url, json={"name": "b"}, headers={**AUTH, "If-Match": created.headers["etag"]}
    )
    assert ok.status_code == 200
    listed = await client.put(url, json={"name": "c"}, headers={**AUTH, "If-Match": '"9", "2"'})
    assert listed.status_code == 200
    star = await client.delete(url, headers={**AUTH, "If-Match": "*"})
    assert star.status_code == 204


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
async def test_stale_if_match_is_412_and_changes_nothing(
    client: httpx.AsyncClient, method: str
) -> None:
    created = await create(client, name="original")
    url = created.headers["location"]
    await client.patch(url, json={"name": "moved on"}, headers=AUTH)  # now version 2
    body = None if method == "DELETE" else {"name": "lost update"}
    stale = await client.request(
        method, url, json=body, headers={**AUTH, "If-Match": created.headers["etag"]}
    )
    assert stale.status_code == 412
    assert stale.headers["content-type"] == "application/problem+json"
    assert "version 2" in stale.json()["detail"]
    current = (await client.get(url)).json()
    assert current["name"] == "moved on"
    assert current["version"] == 2


async def test_weak_etag_never_satisfies_if_match(client: httpx.AsyncClient) -> None:
    created = await create(client, name="a")
    weak = await client.patch(
        created.headers["location"], json={"name": "b"}, headers={**AUTH, "If-Match": 'W/"1"'}
    )
    assert weak.status_code == 412


async def test_if_none_match_gives_304(client: httpx.AsyncClient) -> None:
    created = await create(client, name="cached")
    url = created.headers["location"]
    cached = await client.get(url, headers={"If-None-Match": created.headers["etag"]})
    assert cached.status_code == 304
    assert cached.content == b""
    assert cached.headers["etag"] == '"1"'
    await client.patch(url, json={"name": "changed"}, headers=AUTH)
    fresh = await client.get(url, headers={"If-None-Match": created.headers["etag"]})
    assert fresh.status_code == 200
    assert fresh.json()["name"] == "changed"


async def test_sql_looking_strings_are_stored_literally(client: httpx.AsyncClient) -> None:
    nasty = "Robert'); DROP TABLE items;--"
    description = "1' OR '1'='1 /* \" ; SELECT * FROM pg_user; -- \\x00 %s %(x)s"
    created = (await create(client, name=nasty, description=description)).json()
    read = (await client.get(f"/items/{created['id']}")).json()
    assert read["name"] == nasty
    assert read["description"] == description
    assert len((await client.get("/items")).json()["items"]) == 1


async def test_unicode_round_trips(client: httpx.AsyncClient) -> None:
    name = "Ünïcödé ✓ 漢字 🚀" + "é" * 80  # 100 characters, more than 100 bytes
    assert len(name) <= 100
    created = (await create(client, name=name)).json()
    assert (await client.get(f"/items/{created['id']}")).json()["name"] == name


async def test_an_id_is_never_reused_so_no_old_etag_matches(client: httpx.AsyncClient) -> None:
    await create(client, name="first")
    newest = (await create(client, name="newest")).json()
    assert (await client.delete(f"/items/{newest['id']}", headers=AUTH)).status_code == 204
    replacement = (await create(client, name="replacement")).json()
    assert replacement["id"] > newest["id"]
    # A client still holding the deleted item's ETag cannot touch the new item through it.
    stale = await client.patch(
        f"/items/{newest['id']}", json={"name": "x"}, headers={**AUTH, "If-Match": '"1"'}
    )
    assert stale.status_code == 404
