"""HTTP semantics the framework leaves to us, in process: HEAD on GET routes, one Host, header
limits no looser than the ALB's, redirects that never name a client's Host, and proxy headers
believed only from trusted networks."""

from __future__ import annotations

import json

import httpx
import pytest
from asgi_lifespan import LifespanManager

from app.main import create_app
from tests.conftest import AUTH, make_settings

pytestmark = pytest.mark.asyncio


@pytest.mark.parametrize(
    "path", ["/health", "/ready", "/version", "/items", "/items/1", "/metrics", "/openapi.json"]
)
async def test_head_answers_like_get_without_a_body(client: httpx.AsyncClient, path: str) -> None:
    await client.post("/items", json={"name": "x"}, headers=AUTH)
    got = await client.get(path)
    head = await client.head(path)
    assert head.status_code == got.status_code == 200
    assert head.content == b""
    ignore = {"x-request-id", "date"}
    assert {k: v for k, v in head.headers.items() if k not in ignore} == {
        k: v for k, v in got.headers.items() if k not in ignore
    } or path == "/metrics"  # the metrics page counts the GET just made
    assert head.headers["content-length"] == str(len(got.content)) or path == "/metrics"


async def test_head_of_a_missing_item_is_404_without_a_body(client: httpx.AsyncClient) -> None:
    head = await client.head("/items/999")
    assert head.status_code == 404
    assert head.content == b""
    assert head.headers["content-type"] == "application/problem+json"


async def test_allow_lists_head_and_head_is_allowed(client: httpx.AsyncClient) -> None:
    refused = await client.put("/health")
    assert refused.status_code == 405
    allowed = {m.strip() for m in refused.headers["allow"].split(",")}
    assert allowed == {"GET", "HEAD"}
    for method in allowed:
        assert (await client.request(method, "/health")).status_code == 200
    post_only = await client.head("/items/1", headers=AUTH)  # GET exists there: HEAD too
    assert post_only.status_code in {200, 404}


@pytest.mark.parametrize(
    ("headers", "detail"),
    [
        pytest.param([("Host", "a"), ("Host", "b")], "exactly one Host", id="two"),
        pytest.param([("Host", "")], "Host is missing", id="empty"),
    ],
)
async def test_host_must_be_one_and_not_empty(
    client: httpx.AsyncClient, headers: list[tuple[str, str]], detail: str
) -> None:
    response = await client.get("/health", headers=headers)
    assert response.status_code == 400
    assert detail in response.json()["detail"]
    assert response.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        pytest.param({"X-Long": "a" * (16 * 1024 - 8)}, 200, id="line-at-16k"),
        pytest.param({"X-Long": "a" * (16 * 1024 - 7)}, 431, id="line-past-16k"),
        pytest.param({f"X-H{i}": "b" * 1000 for i in range(60)}, 200, id="60k-in-all"),
        pytest.param({f"X-H{i}": "b" * 1000 for i in range(70)}, 431, id="70k-in-all"),
    ],
)
async def test_headers_are_limited_like_the_alb(
    client: httpx.AsyncClient, headers: dict[str, str], status: int
) -> None:
    response = await client.get("/health", headers=headers)
    assert response.status_code == status, response.text
    if status == 431:
        assert response.headers["content-type"] == "application/problem+json"


async def test_trailing_slash_redirect_is_relative(client: httpx.AsyncClient) -> None:
    spoofed = {
        "Host": "evil.example",
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": "evil.example",
    }
    response = await client.get("/items/?limit=2", headers=spoofed)
    assert response.status_code == 308
    assert response.headers["location"] == "/items?limit=2"
    assert "evil" not in response.text
    assert (await client.get("/nothing/", headers=spoofed)).status_code == 404


async def _logged_client(
    trusted: str, peer: str, forwarded_for: str, capsys: pytest.CaptureFixture[str]
) -> str:
    """The client address on the access line, for a request from `peer` naming `forwarded_for`."""
    settings = make_settings(
        database_url="sqlite+aiosqlite:///:memory:", trusted_proxies=trusted, log_level="INFO"
    )
    app = create_app(settings)
    capsys.readouterr()
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app, client=(peer, 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://svc") as client:
            response = await client.get("/health", headers={"X-Forwarded-For": forwarded_for})
            assert response.status_code == 200
    lines = [
        json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")
    ]
    (access,) = [line for line in lines if line.get("event") == "request"]
    seen: str = access["client"]
    return seen


@pytest.mark.parametrize(
    ("trusted", "peer", "logged"),
    [
        pytest.param("", "10.0.3.4", "10.0.3.4", id="nobody-trusted-by-default"),
        pytest.param("10.0.0.0/16", "10.0.3.4", "203.0.113.9", id="from-the-alb-network"),
        pytest.param("10.0.0.0/16", "198.51.100.7", "198.51.100.7", id="from-elsewhere"),
        pytest.param("10.0.0.0/16,10.1.0.0/16", "10.1.0.1", "203.0.113.9", id="second-network"),
    ],
)
async def test_forwarded_for_is_believed_only_from_trusted_networks(
    capsys: pytest.CaptureFixture[str], trusted: str, peer: str, logged: str
) -> None:
    assert await _logged_client(trusted, peer, "203.0.113.9", capsys) == logged


async def test_a_trusted_proxy_that_is_not_a_network_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match=r"TRUSTED_PROXIES: 'alb\.internal' is not an address"):
        make_settings(trusted_proxies="10.0.0.0/16,alb.internal")
