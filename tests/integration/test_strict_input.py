"""Strict input on both backends: JSON that parsers could read two ways is refused, text is
stored in one normal form, names must show something, ids have one spelling."""

from __future__ import annotations

import unicodedata
from typing import Any

import httpx
import pytest

from tests.conftest import AUTH

pytestmark = pytest.mark.asyncio
JSON = {**AUTH, "Content-Type": "application/json"}


async def _listing(client: httpx.AsyncClient) -> Any:
    return (await client.get("/items", params={"limit": 100})).json()["items"]


def _problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    return body


async def test_duplicate_names_in_a_json_object_are_refused(client: httpx.AsyncClient) -> None:
    response = await client.post("/items", content=b'{"name": "", "name": "x"}', headers=JSON)
    assert "'name' more than once" in _problem(response, 422)["detail"]
    nested = b'{"name": "a", "description": "d", "description": "e"}'
    assert (await client.post("/items", content=nested, headers=JSON)).status_code == 422
    assert await _listing(client) == []


@pytest.mark.parametrize(
    ("content_type", "body", "says"),
    [
        pytest.param(
            "application/json; charset=utf-16",
            '{"name": "x"}'.encode("utf-16"),
            "UTF-8",
            id="utf16",
        ),
        pytest.param(
            "application/json; charset=utf-16", b'{"name": "x"}', "UTF-8", id="declared-utf16"
        ),
        pytest.param(
            "application/json; charset=latin-1", b'{"name": "caf\xe9"}', "UTF-8", id="latin1"
        ),
        pytest.param(
            "application/json", '{"name": "x"}'.encode("utf-16"), "UTF-8", id="undeclared-utf16"
        ),
        pytest.param(
            "application/json", '{"name": "x"}'.encode("utf-32"), "UTF-8", id="undeclared-utf32"
        ),
        pytest.param("application/json", b'{"name": "caf\xe9"}', "UTF-8", id="not-utf8"),
        pytest.param("application/json", b'\xef\xbb\xbf{"name": "x"}', "UTF-8", id="bom"),
        pytest.param("text/plain", b'{"name": "x"}', "application/json", id="text-plain"),
        pytest.param("application/x-www-form-urlencoded", b"name=x", "application/json", id="form"),
        pytest.param(
            "application/xml", b"<item><name>x</name></item>", "application/json", id="xml"
        ),
    ],
)
async def test_only_utf8_json_is_read(
    client: httpx.AsyncClient, content_type: str, body: bytes, says: str
) -> None:
    """415 for a body that is not JSON, or JSON that is not UTF-8; nothing is stored."""
    response = await client.post(
        "/items", content=body, headers={**AUTH, "Content-Type": content_type}
    )
    assert says in _problem(response, 415)["detail"]
    assert await _listing(client) == []


@pytest.mark.parametrize("charset", ["utf-8", "UTF-8", '"utf-8"'])
async def test_a_utf8_charset_is_fine(client: httpx.AsyncClient, charset: str) -> None:
    headers = {**AUTH, "Content-Type": f"application/json; charset={charset}"}
    response = await client.post("/items", content='{"name": "café"}'.encode(), headers=headers)
    assert response.status_code == 201, response.text


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
async def test_non_json_constants_are_refused(client: httpx.AsyncClient, constant: str) -> None:
    body = f'{{"name": "x", "description": {constant}}}'.encode()
    _problem(await client.post("/items", content=body, headers=JSON), 422)


async def test_names_are_stored_in_nfc(client: httpx.AsyncClient) -> None:
    decomposed = "Cafe\u0301"  # e + combining acute accent
    created = await client.post(
        "/items", json={"name": decomposed, "description": decomposed}, headers=AUTH
    )
    assert created.status_code == 201, created.text
    composed = unicodedata.normalize("NFC", decomposed)
    assert composed != decomposed
    assert created.json()["name"] == composed
    stored = (await client.get(created.headers["location"])).json()
    assert (stored["name"], stored["description"]) == (composed, composed)


@pytest.mark.parametrize(
    "name",
    [
        pytest.param("\u200b", id="zero-width-space"),
        pytest.param("\u3164", id="hangul-filler"),
        pytest.param("\u2800", id="braille-blank"),
        pytest.param("\ufeff", id="bom"),
        pytest.param("\u115f\u1160", id="hangul-choseong-jungseong-fillers"),
        pytest.param("\u00a0\u2003\u3000", id="unicode-spaces"),
        pytest.param("\u200d\u2060", id="joiners"),
        pytest.param("\ufe0f", id="variation-selector"),
        pytest.param("\U000e0041", id="tag-character"),
    ],
)
async def test_names_that_show_nothing_are_refused(client: httpx.AsyncClient, name: str) -> None:
    problem = _problem(await client.post("/items", json={"name": name}, headers=AUTH), 422)
    assert problem["errors"][0]["loc"] == ["body", "name"]
    assert "visible character" in problem["errors"][0]["msg"]


@pytest.mark.parametrize(
    "name",
    [
        pytest.param("a\tb", id="tab"),
        pytest.param("a\nb", id="newline"),
        pytest.param("a\x1bb", id="escape"),
        pytest.param("a\x85b", id="c1-next-line"),
        pytest.param("a\u2028b", id="line-separator"),
        pytest.param("admin\u202egnp.exe", id="right-to-left-override"),
        pytest.param("a\u2066b", id="left-to-right-isolate"),
    ],
)
async def test_names_with_control_characters_are_refused(
    client: httpx.AsyncClient, name: str
) -> None:
    problem = _problem(await client.post("/items", json={"name": name}, headers=AUTH), 422)
    assert "control characters" in problem["errors"][0]["msg"]


@pytest.mark.parametrize(
    "name", ["👍", "日本", "a\u200db", "👨\u200d👩\u200d👧", "\u0645\u0631\u062d\u0628\u0627"]
)
async def test_visible_names_in_any_script_are_fine(client: httpx.AsyncClient, name: str) -> None:
    response = await client.post("/items", json={"name": name}, headers=AUTH)
    assert response.status_code == 201, response.text
    assert response.json()["name"] == name


@pytest.mark.parametrize("path", ["01", "1.0", "%2B1", "+1", "1e0", " 1", "0x1", "\u0661"])
async def test_ids_have_one_spelling(client: httpx.AsyncClient, path: str) -> None:
    created = await client.post("/items", json={"name": "one"}, headers=AUTH)
    assert created.headers["location"] == "/items/1"
    assert (await client.get("/items/1")).status_code == 200
    response = await client.get(f"/items/{path}")
    assert response.status_code == 422, (path, response.text)
    patched = await client.patch(f"/items/{path}", json={"name": "x"}, headers=AUTH)
    assert patched.status_code == 422
