"""OpenTelemetry tracing, end to end: the service as a real process exports OTLP/HTTP to a real
receiver on loopback (an ADOT collector's place in ECS). Off by default and then free."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import API_KEY, AUTH
from tests.support.live import ROOT, LiveServer
from tests.support.otlp import OtlpReceiver, Span

pytestmark = pytest.mark.live

SERVER = 2  # SpanKind.SERVER in the OTLP protobuf
# From an X-Ray-instrumented caller: a parent to continue.
XRAY_HEADER = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
# What the ALB adds: a Root only, no parent; logged, and the trace starts here.
ALB_HEADER = "Root=1-6b0792b4-aaaaaaaaaaaaaaaaaaaaaaaa"
W3C_TRACE, W3C_PARENT = "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331"


def _serve_and_stop(database_url: str, receiver_url: str) -> list[dict[str, object]]:
    """Requests, then SIGTERM. A long batch delay: spans can only arrive by the shutdown flush."""
    env = {
        "DATABASE_URL": database_url,
        "API_KEYS": API_KEY,
        "OTEL_EXPORTER_OTLP_ENDPOINT": receiver_url,
        "OTEL_BSP_SCHEDULE_DELAY": "60000",
    }
    with LiveServer(env) as server:
        created = httpx.post(f"{server.url}/items", json={"name": "traced"}, headers=AUTH)
        assert created.status_code == 201
        path = f"{server.url}/items/{created.json()['id']}"
        assert httpx.get(path).status_code == 200
        assert httpx.get(path, headers={"X-Amzn-Trace-Id": XRAY_HEADER}).status_code == 200
        traceparent = f"00-{W3C_TRACE}-{W3C_PARENT}-01"
        assert httpx.get(path, headers={"traceparent": traceparent}).status_code == 200
        assert httpx.get(path, headers={"X-Amzn-Trace-Id": ALB_HEADER}).status_code == 200
        assert httpx.get(f"{server.url}/ready").status_code == 200
        server.terminate()
        # uvicorn re-raises the signal once it has drained and shut down.
        assert server.wait() == -signal.SIGTERM, server.output
        return server.json_lines()


def _server_spans(spans: list[Span]) -> list[Span]:
    return [s for s in spans if s.kind == SERVER]


def test_spans_logs_and_ids(database_url: str) -> None:
    with OtlpReceiver() as receiver:
        lines = _serve_and_stop(database_url, receiver.url)
        spans = receiver.wait_for(5, timeout=5)
    assert set(receiver.paths) == {"/v1/traces"}

    servers = _server_spans(spans)
    assert [s.attributes["http.route"] for s in servers] == ["/items"] + ["/items/{item_id}"] * 4
    assert all(s.resource["service.name"] == "auto-pipe-service" for s in spans)
    assert "/ready" not in json.dumps([s.attributes for s in spans])  # probes are not traced

    # Every request's database work is a descendant of its server span; no span stands alone
    # (the readiness probe's query would be one).
    backend = "postgresql" if "postgresql" in database_url else "sqlite"
    by_id = {s.span_id: s for s in spans}
    for span in spans:
        if span.kind == SERVER:
            continue
        assert span.attributes.get("db.system") == backend, span
        ancestor = span
        while ancestor.kind != SERVER:
            assert ancestor.parent_span_id in by_id, f"{span.name} is not under a request"
            ancestor = by_id[ancestor.parent_span_id]
        assert ancestor.trace_id == span.trace_id
    for server in servers:
        assert any(s.trace_id == server.trace_id and s.kind != SERVER for s in spans), server

    # Ids: X-Ray compatible when new (the first 32 bits are the epoch second), and the caller's
    # trace continued from the ALB's X-Amzn-Trace-Id or a W3C traceparent.
    created, plain, from_xray, from_w3c, behind_alb = servers
    for own in (created, plain, behind_alb):
        assert abs(int(own.trace_id[:8], 16) - time.time()) < 300
        assert own.parent_span_id == ""
    assert from_xray.trace_id == "5759e988bd862e3fe1be46a994272793"
    assert from_xray.parent_span_id == "53995c3f42cd8ad8"
    assert behind_alb.trace_id != "6b0792b4aaaaaaaaaaaaaaaaaaaaaaaa"
    assert (from_w3c.trace_id, from_w3c.parent_span_id) == (W3C_TRACE, W3C_PARENT)

    # The access line of each traced request carries its ids, in both spellings.
    access = [line for line in lines if line.get("event") == "request"]
    traced = [line for line in access if str(line["path"]).startswith("/items")]
    assert [line["trace_id"] for line in traced] == [s.trace_id for s in servers]
    for line, span in zip(traced, servers, strict=True):
        assert line["span_id"] == span.span_id
        assert line["xray_trace_id"] == f"1-{span.trace_id[:8]}-{span.trace_id[8:]}"
    assert traced[-1]["alb_trace_id"] == "1-6b0792b4-aaaaaaaaaaaaaaaaaaaaaaaa"  # joins ALB logs
    assert "alb_trace_id" not in traced[0]
    ready = [line for line in access if line["path"] == "/ready"]
    assert ready
    assert "trace_id" not in ready[0]


def test_a_collector_that_never_answers_does_not_stall_shutdown(tmp_path: Path) -> None:
    """It accepts the connection and then says nothing: the SDK alone would wait 10 s per
    export and 30 s in all; TRACING_EXPORT_TIMEOUT bounds the final flush."""
    env = {
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/app.db",
        "TRACING_EXPORT_TIMEOUT": "1",
    }
    subprocess.run([sys.executable, "-m", "app.migrate"], cwd=ROOT, env=env, check=True)
    with socket.create_server(("127.0.0.1", 0)) as silent:  # listens, never accepts
        env["OTEL_EXPORTER_OTLP_ENDPOINT"] = f"http://127.0.0.1:{silent.getsockname()[1]}"
        with LiveServer(env) as server:
            assert httpx.get(f"{server.url}/items").status_code == 200
            started = time.monotonic()
            server.terminate()
            assert server.wait() == -signal.SIGTERM
            assert time.monotonic() - started < 5
            assert any(line.get("event") == "shutdown" for line in server.json_lines())


def test_tracing_off_by_default_costs_nothing() -> None:
    """Without an endpoint not even the SDK is imported (about a second at 0.25 vCPU)."""
    probe = (
        "import sys; from app.config import Settings; from app.main import create_app;"
        "app = create_app(Settings(_env_file=None));"
        "print(app.state.tracing, 'opentelemetry.sdk' in sys.modules,"
        " 'app.observability.tracing' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert result.stdout.split() == ["None", "False", "False"]
