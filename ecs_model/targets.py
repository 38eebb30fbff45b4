"""What the smoke test talks to in a rehearsal without real containers (those are fleet.py's):
a `StandIn` answering as the revision the emulator says is serving would. Plus a Slack webhook
receiver, so notifications show up too."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from autopipe.aws import Aws
from autopipe.config import Settings
from autopipe.output import Reporter
from ecs_model.emulator import Emulator
from ecs_model.seed import TEST_TRAFFIC_SECRET

DROP = 0  # a handler's status that closes the connection without answering


class Flaky:
    """The next `count` requests answer `status` (DROP: no answer at all): a proxy's 503, a
    rate limit's 429, a dropped connection. Thread-safe (requests come on server threads)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._left, self._status = 0, 503

    def fail_next(self, count: int, *, status: int = 503) -> None:
        with self._lock:
            self._left, self._status = count, status

    def take(self) -> int | None:
        with self._lock:
            if self._left <= 0:
                return None
            self._left -= 1
            return self._status


Reply = tuple[int, dict[str, Any]]
Handle = Callable[[str, str, bytes, Mapping[str, str]], Reply]


class _Server:
    def __init__(self, handle: Handle, headers: Callable[[], dict[str, str]] | None = None) -> None:
        """`headers`: extra response headers, read once the request was handled (on the
        handler's thread: a threading.local set by `handle` works)."""

        def respond(h: BaseHTTPRequestHandler, method: str) -> None:
            length = int(h.headers.get("Content-Length") or 0)
            body_in = h.rfile.read(length) if length else b""
            status, body = handle(method, h.path, body_in, dict(h.headers.items()))
            if status == DROP:  # a connection closed with no answer
                h.close_connection = True
                return
            data = json.dumps(body).encode()
            h.send_response(status)
            h.send_header("Content-Type", "application/json")
            h.send_header("Content-Length", str(len(data)))
            for name, value in (headers() if headers else {}).items():
                h.send_header(name, value)
            h.end_headers()
            h.wfile.write(data)

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                respond(self, "GET")

            def do_POST(self) -> None:
                respond(self, "POST")

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class SlackReceiver:
    """An incoming-webhook endpoint on loopback; keeps every payload."""

    def __init__(self, reporter: Reporter | None = None) -> None:
        self.payloads: list[dict[str, Any]] = []
        self.accepted: list[dict[str, Any]] = []  # the payloads answered 200
        self.status = 200
        self.flaky = Flaky()
        self.fail_next = self.flaky.fail_next
        self._reporter = reporter
        self._server = _Server(self._handle)
        self.url = f"{self._server.url}/services/T000/B000/rehearsal"

    def _handle(
        self, method: str, path: str, body: bytes, headers: Mapping[str, str]
    ) -> tuple[int, dict[str, Any]]:
        payload = json.loads(body or b"{}")
        self.payloads.append(payload)
        status = self.flaky.take()
        if status is None:
            status = self.status
        if status == 200:
            self.accepted.append(payload)
            if self._reporter is not None:
                self._reporter.step(f"slack: {payload.get('text', '')}", style="magenta")
        return status, {"ok": status == 200}

    def close(self) -> None:
        self._server.close()


class StandIn:
    """The service behind its load balancer, as the emulator's serving revision describes it:
    /version from the revision's environment; /ready and /items 503 for tags marked broken;
    `X-Served-By` names the tag that answered (users.py reads it). A request
    carrying the test listener rule's header (`settings.test_header` with the stack's secret
    value) reaches the revision under test of a blue/green, canary or linear deployment; every
    other request is production traffic, spread as the deployment's shares say and counted in
    the model's traffic record."""

    def __init__(
        self, aws: Aws, emulator: Emulator, settings: Settings, broken: set[str],
        *, failing: str = "ready",
    ) -> None:  # fmt: skip
        """failing: "ready" (a broken tag's /ready and /items answer 503) or "users" (only
        its /items: every smoke test passes)."""
        self._aws, self._emulator, self._settings, self.broken = aws, emulator, settings, broken
        self._failing = failing
        self._env: dict[str, dict[str, str]] = {}
        self.flaky = Flaky()
        self.fail_next = self.flaky.fail_next
        self._served = threading.local()
        self._errors = 0  # 5xx answers to production requests (error_alarm.py reads them)
        self._errors_lock = threading.Lock()
        self._server = _Server(self._handle, self._headers)
        self.url = self._server.url

    def _headers(self) -> dict[str, str]:
        tag = getattr(self._served, "tag", None)
        return {"X-Served-By": tag} if tag else {}

    @staticmethod
    def release(served_by: str) -> str | None:
        return served_by or None

    def _handle(
        self, method: str, path: str, body: bytes, headers: Mapping[str, str]
    ) -> tuple[int, dict[str, Any]]:
        self._served.tag = None
        flaky = self.flaky.take()
        if flaky is not None:
            return flaky, {"detail": "injected: the load balancer's answer"}
        wanted = self._settings.test_header.lower()
        sent = {k.lower(): v for k, v in headers.items()}.get(wanted)
        test = sent == TEST_TRAFFIC_SECRET
        status, answer = self._answer(path, test=test)
        if status >= 500 and not test:
            with self._errors_lock:
                self._errors += 1
        return status, answer

    def production_5xx(self) -> int:
        with self._errors_lock:
            return self._errors

    def _answer(self, path: str, *, test: bool = False) -> tuple[int, dict[str, Any]]:
        key = f"{self._settings.cluster}:{self._settings.service}"
        arn = self._emulator.rollouts.route(key, test=test)
        if arn is None:
            return 503, {"detail": "no targets under test" if test else "no healthy targets"}
        if arn not in self._env:
            # From the model's own state, not through its API: the stand-in is the service
            # behind the load balancer, so faults injected into AWS calls must not reach it.
            self._env[arn] = self._emulator.container_environment(arn, self._settings.container)
        env = self._env[arn]
        tag = self._served.tag = env.get("IMAGE_TAG", "")
        broken = tag in self.broken
        unready = broken and self._failing == "ready"
        answers: dict[str, Reply] = {
            "/health": (200, {"status": "ok"}),
            "/ready": (503, {"detail": "Database check failed: OperationalError"})
            if unready
            else (200, {"status": "ready"}),
            "/version": (200, {"version": "0.1.0", "git_sha": env.get("GIT_SHA", ""),
                               "image_tag": tag}),
            "/items": (503, {"detail": "Database unavailable"})
            if broken
            else (200, {"items": [], "next": None}),
        }  # fmt: skip
        return answers.get(path.partition("?")[0], (404, {"detail": "Not Found"}))

    def close(self) -> None:
        self._server.close()
