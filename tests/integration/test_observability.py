"""Request ids and RED metrics, per route template."""

from __future__ import annotations

import asyncio
import json
import logging
import re

import httpx
import pytest
import structlog
from starlette.types import Message

from app.main import create_app
from app.observability.logging import AccessLog, configure_logging
from tests.conftest import AUTH, make_settings, running

pytestmark = pytest.mark.asyncio


async def test_request_id_is_echoed_or_generated(client: httpx.AsyncClient) -> None:
    echoed = await client.get("/health", headers={"X-Request-ID": "abc-123.def:4"})
    assert echoed.headers["x-request-id"] == "abc-123.def:4"
    generated = await client.get("/health")
    assert re.fullmatch(r"[0-9a-f]{32}", generated.headers["x-request-id"])
    assert (
        generated.headers["x-request-id"] != (await client.get("/health")).headers["x-request-id"]
    )


async def test_the_first_request_id_header_decides(client: httpx.AsyncClient) -> None:
    for headers, expected in (
        ([(b"x-request-id", b"first-1"), (b"x-request-id", b"has space")], "first-1"),
        ([(b"x-request-id", b"has space"), (b"x-request-id", b"second-2")], None),
    ):
        echoed = (await client.get("/health", headers=headers)).headers["x-request-id"]
        assert echoed == expected if expected else re.fullmatch(r"[0-9a-f]{32}", echoed)


@pytest.mark.parametrize("unsafe", ["has space", "x" * 129, "new\u00e9line"])
async def test_unsafe_request_ids_are_replaced(client: httpx.AsyncClient, unsafe: str) -> None:
    headers = [(b"x-request-id", unsafe.encode("latin-1"))]
    response = await client.get("/health", headers=headers)
    assert re.fullmatch(r"[0-9a-f]{32}", response.headers["x-request-id"])


def _sample(metrics: str, name: str, **labels: str) -> float:
    rendered = ",".join(f'{k}="{v}"' for k, v in labels.items())
    for line in metrics.splitlines():
        if line.startswith(f"{name}{{{rendered}}} "):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"no sample {name}{{{rendered}}} in\n{metrics}")


async def test_red_metrics_per_route_template(client: httpx.AsyncClient) -> None:
    created = await client.post("/items", json={"name": "m"}, headers=AUTH)
    item_id = created.json()["id"]
    for _ in range(3):
        await client.get(f"/items/{item_id}")
    await client.get("/items/999999")
    await client.get("/no/such/route")
    await client.post("/items", json={"name": "m"})  # 401

    text = (await client.get("/metrics")).text
    item = "/items/{item_id}"
    assert _sample(text, "http_requests_total", method="GET", route=item, status="200") == 3
    assert _sample(text, "http_requests_total", method="GET", route=item, status="404") == 1
    assert _sample(text, "http_requests_total", method="POST", route="/items", status="201") == 1
    assert _sample(text, "http_requests_total", method="POST", route="/items", status="401") == 1
    assert (
        _sample(text, "http_requests_total", method="GET", route="<unmatched>", status="404") == 1
    )
    assert _sample(text, "http_request_duration_seconds_count", method="GET", route=item) == 4
    assert _sample(text, "http_request_duration_seconds_sum", method="GET", route=item) > 0
    # Ids never become label values: cardinality stays bounded.
    assert f'/items/{item_id}"' not in text
    # The scrape itself is in flight while it renders.
    assert "http_requests_in_flight 1.0" in text


async def test_emf_error_count_marks_only_5xx(capsys: pytest.CaptureFixture[str]) -> None:
    access = AccessLog("INFO", json=True, emf_service="svc")
    for status in (200, 404, 503):
        access(method="GET", path="/x", route="/x", status=status, duration_ms=1.5)
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["ErrorCount"] for line in lines] == [0, 0, 1]
    assert all(line["Service"] == "svc" for line in lines)
    plain = AccessLog("INFO", json=True, emf_service=None)
    plain(method="GET", path="/x", route="/x", status=200, duration_ms=1.0)
    assert "_aws" not in json.loads(capsys.readouterr().out)


@pytest.mark.parametrize(
    ("header", "logged"),
    [
        ("Root=1-6b0792b4-0123456789abcdef01234567", "1-6b0792b4-0123456789abcdef01234567"),
        (
            "Self=1-6b0792b4-aaaaaaaaaaaaaaaaaaaaaaaa;Root=1-6b0792b4-0123456789abcdef01234567",
            "1-6b0792b4-0123456789abcdef01234567",
        ),
        ("Root=1-6b0792b4-0123456789abcdef01234567\nforged", None),  # never logged as is
        ('Root=1-6b0792b4-0123456789abcdef01234567","level":"error', None),
        ("Root=garbage", None),
        ("Root=1-6b0792b4-0123456789abcdef01234567 ;Self=x", "1-6b0792b4-0123456789abcdef01234567"),
    ],
)
async def test_the_albs_trace_id_is_on_the_access_line_when_well_formed(
    database_url: str, capsys: pytest.CaptureFixture[str], header: str, logged: str | None
) -> None:
    """The ALB's access log records X-Amzn-Trace-Id's Root; the same id on ours joins them."""
    app = create_app(make_settings(database_url=database_url, log_level="INFO"))
    async with running(app) as client:
        capsys.readouterr()
        await client.get("/health", headers={"X-Amzn-Trace-Id": header})
        (line,) = [json.loads(x) for x in capsys.readouterr().out.splitlines() if '"request"' in x]
    assert line.get("alb_trace_id") == logged


async def test_held_access_lines_come_out_at_the_next_turn_in_the_order_logged(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Lines of requests that end while others are in flight wait for the loop's next turn;
    a line from any other logger first writes what is held, so nothing changes places."""
    configure_logging("INFO", json=True)
    access = AccessLog("INFO", json=True)

    def request(path: str) -> None:
        access(method="GET", path=path, route=path, status=200, duration_ms=1.0, hold=True)

    request("/a")
    request("/b")
    assert capsys.readouterr().out == ""  # held
    structlog.get_logger("app.test").warning("ours")
    request("/c")
    logging.getLogger("uvicorn.error").warning("stdlib")
    request("/d")
    await asyncio.sleep(0)  # one turn of the loop
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line.get("path", line["event"]) for line in lines] == [
        "/a", "/b", "ours", "/c", "stdlib", "/d"
    ]  # fmt: skip


async def test_every_request_of_a_burst_has_its_access_line_when_the_last_one_ends(
    database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    app = create_app(make_settings(database_url=database_url, log_level="INFO"))
    async with running(app) as client:
        created = await client.post("/items", json={"name": "burst"}, headers=AUTH)
        capsys.readouterr()
        ids = [f"burst-{n}" for n in range(20)]
        responses = await asyncio.gather(
            *(
                client.get(f"/items/{created.json()['id']}", headers={"X-Request-ID": rid})
                for rid in ids
            )
        )
        assert {r.status_code for r in responses} == {200}
        # No turn of the loop in between: the request that ends last writes what is held.
        out = capsys.readouterr().out
    logged = [json.loads(x)["request_id"] for x in out.splitlines() if '"request"' in x]
    assert sorted(logged) == sorted(ids)


async def test_a_request_that_ends_with_none_in_flight_is_written_at_once(
    database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Held lines are for busy moments: a request that ends alone is on stdout before the
    server's next turn (called here as the server calls it, with no turn in between)."""
    app = create_app(make_settings(database_url=database_url, log_level="INFO"))
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
        "scheme": "http", "path": "/health", "raw_path": b"/health", "query_string": b"",
        "root_path": "", "headers": [(b"host", b"test")], "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }  # fmt: skip
    async with running(app):
        capsys.readouterr()
        await app(scope, receive, send)
        out = capsys.readouterr().out
    assert sent[0]["status"] == 200
    (line,) = [json.loads(x) for x in out.splitlines() if '"request"' in x]
    assert line["path"] == "/health"
