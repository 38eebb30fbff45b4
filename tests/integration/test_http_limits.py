"""The HTTP limits of the real server process (app/server.py), probed with raw sockets: heads
past the ALB's size refused early without stalling anyone else, slow or silent clients closed,
a bounded number of connections with a defined answer past it, one Host, HEAD without a body."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import API_KEY, migrate
from tests.support.live import LiveServer

pytestmark = [pytest.mark.live]

HEADER_READ_TIMEOUT = 1.0
KEEP_ALIVE = 2
MAX_CONNECTIONS = 8
SLACK = 3.0  # a loaded machine's scheduling delay on top of a timeout


def _serve(tmp_path_factory: pytest.TempPathFactory, keep_alive: float) -> Iterator[LiveServer]:
    url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('limits') / 'app.db'}"
    migrate(url)
    live = LiveServer({
        "DATABASE_URL": url, "API_KEYS": API_KEY, "LOG_LEVEL": "WARNING",
        "HEADER_READ_TIMEOUT": str(HEADER_READ_TIMEOUT), "KEEP_ALIVE_TIMEOUT": str(keep_alive),
        "MAX_CONNECTIONS": str(MAX_CONNECTIONS),
    })  # fmt: skip
    try:
        yield live.start(timeout=60)  # a busy machine can take long to import the app
    finally:
        live.stop()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    yield from _serve(tmp_path_factory, KEEP_ALIVE)


def _connect(server: LiveServer) -> socket.socket:
    return socket.create_connection(("127.0.0.1", server.port), timeout=30)


def _read_all(sock: socket.socket) -> bytes:
    data = b""
    with contextlib.suppress(ConnectionError):
        while chunk := sock.recv(65536):
            data += chunk
    return data


def _exchange(server: LiveServer, raw: bytes) -> bytes:
    with _connect(server) as sock:
        sock.sendall(raw)
        return _read_all(sock)


def _parse(answer: bytes) -> tuple[dict[str, str], dict[str, object]]:
    """The headers (names lower-cased) and the problem+json body of a raw answer."""
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")[1:]
    fields = (line.partition(":") for line in lines)
    headers = {name.strip().lower(): value.strip() for name, _, value in fields}
    return headers, json.loads(body)


def _health_seconds(server: LiveServer) -> float:
    started = time.monotonic()
    assert httpx.get(f"{server.url}/health", timeout=30).status_code == 200
    return time.monotonic() - started


def test_a_huge_header_is_refused_early_and_stalls_nobody(server: LiveServer) -> None:
    answers: list[bytes] = []
    sent = [0]

    def send_huge() -> None:
        with _connect(server) as sock:
            sock.sendall(b"GET /health HTTP/1.1\r\nHost: a\r\nX-Big: ")
            with contextlib.suppress(ConnectionError):
                for _ in range(64 * 16):  # up to 64 MiB, 64 KiB at a time
                    sock.sendall(b"a" * 65536)
                    sent[0] += 65536
            answers.append(_read_all(sock))

    sender = threading.Thread(target=send_huge)
    sender.start()
    meanwhile = _health_seconds(server)
    sender.join(timeout=60)
    assert not sender.is_alive()
    assert answers[0].startswith(b"HTTP/1.1 431 "), answers[0][:100]
    headers, problem = _parse(answers[0])
    assert headers["content-type"] == "application/problem+json"
    assert problem["status"] == 431
    assert "larger than" in str(problem["detail"])
    assert headers["x-request-id"] == problem["request_id"]
    assert sent[0] < 8 * 1024 * 1024, "the server kept reading long past the limit"
    assert meanwhile < 1.0, f"/health took {meanwhile:.2f} s while a huge header arrived"


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param(b"X-Long: " + b"c" * (16 * 1024) + b"\r\n", id="a-line-over-16-KiB"),
        pytest.param(
            b"".join(b"X-H%d: %s\r\n" % (i, b"d" * 8000) for i in range(9)), id="over-64-KiB"
        ),
    ],
)
def test_headers_past_the_albs_limits_are_431(server: LiveServer, headers: bytes) -> None:
    answer = _exchange(
        server, b"GET /health HTTP/1.1\r\nHost: a\r\nConnection: close\r\n" + headers + b"\r\n"
    )
    assert answer.startswith(b"HTTP/1.1 431 "), answer[:100]
    answered, problem = _parse(answer)
    assert answered["content-type"] == "application/problem+json"
    assert problem["status"] == 431


def test_a_head_just_under_the_limit_is_served(server: LiveServer) -> None:
    headers = b"".join(b"X-H%d: %s\r\n" % (i, b"b" * 1000) for i in range(60))
    answer = _exchange(
        server, b"GET /health HTTP/1.1\r\nHost: a\r\nConnection: close\r\n" + headers + b"\r\n"
    )
    assert answer.startswith(b"HTTP/1.1 200 "), answer[:100]


def _closed_after(sock: socket.socket, feed: bytes = b"", *, every: float = 0.2) -> float:
    """Seconds until the server closes `sock`, sending `feed` a byte at a time meanwhile."""
    started = time.monotonic()
    sock.settimeout(every)
    for i in range(10_000):
        if feed:
            try:
                sock.send(feed[i % len(feed) : i % len(feed) + 1])
            except ConnectionError:
                return time.monotonic() - started
        try:
            if sock.recv(65536) == b"":
                return time.monotonic() - started
        except TimeoutError:
            continue
        except ConnectionError:
            return time.monotonic() - started
        if time.monotonic() - started > 60:
            break
    return float("inf")


def test_a_head_sent_a_byte_at_a_time_is_cut_off(server: LiveServer) -> None:
    with _connect(server) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: a\r\nX-Slow: ")
        closed = _closed_after(sock, b"abcdefgh")
    assert HEADER_READ_TIMEOUT * 0.5 <= closed <= HEADER_READ_TIMEOUT + SLACK


def test_a_connection_that_sends_nothing_is_closed(server: LiveServer) -> None:
    with _connect(server) as sock:
        closed = _closed_after(sock)
    assert KEEP_ALIVE * 0.5 <= closed <= KEEP_ALIVE + SLACK


def test_an_idle_kept_alive_connection_is_closed(server: LiveServer) -> None:
    with _connect(server) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: a\r\n\r\n")
        assert sock.recv(65536).startswith(b"HTTP/1.1 200 ")
        closed = _closed_after(sock)
    assert KEEP_ALIVE * 0.5 <= closed <= KEEP_ALIVE + SLACK


@pytest.fixture(scope="module")
def patient(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A server that keeps idle connections for a minute, so that held ones stay held."""
    yield from _serve(tmp_path_factory, 60)


def test_past_max_connections_the_answer_is_503(patient: LiveServer) -> None:
    server = patient
    held = [_connect(server) for _ in range(MAX_CONNECTIONS)]
    try:
        # The server counts a connection once its loop has accepted it: poll until it has
        # taken all the held ones and refuses the next.
        deadline = time.monotonic() + 10
        while True:
            answer = _exchange(
                server, b"GET /health HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
            )
            if answer.startswith(b"HTTP/1.1 503 ") or time.monotonic() > deadline:
                break
        assert answer.startswith(b"HTTP/1.1 503 "), answer[:100]
        headers, problem = _parse(answer)
        assert headers["content-type"] == "application/problem+json"
        assert headers["retry-after"] == "5"
        assert problem["status"] == 503
        assert problem["instance"] == "/health"
        assert headers["x-request-id"] == problem["request_id"]
        # One held connection less: a new one is the MAX_CONNECTIONS-th, within the limit.
        held.pop().close()
        deadline = time.monotonic() + 10
        while (
            _exchange(server, b"GET /health HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")[:12]
            != b"HTTP/1.1 200"
        ):
            assert time.monotonic() < deadline, "the MAX_CONNECTIONS-th connection was refused"
    finally:
        for sock in held:
            sock.close()


@pytest.mark.parametrize(
    "head",
    [
        pytest.param(b"GET /health HTTP/1.1\r\nConnection: close\r\n\r\n", id="no-host"),
        pytest.param(
            b"GET /health HTTP/1.1\r\nHost: a\r\nHost: b\r\nConnection: close\r\n\r\n", id="two"
        ),
    ],
)
def test_host_must_be_there_once(server: LiveServer, head: bytes) -> None:
    answer = _exchange(server, head)
    assert answer.startswith(b"HTTP/1.1 400 "), answer[:100]
    assert b"application/problem+json" in answer


def test_head_has_the_headers_of_get_and_no_body(server: LiveServer) -> None:
    answer = _exchange(server, b"HEAD /version HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 ")
    assert body == b""
    got = httpx.get(f"{server.url}/version", timeout=30)
    assert f"content-length: {len(got.content)}".encode() in head.lower()
