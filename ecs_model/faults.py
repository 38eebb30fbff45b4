"""Faults injected per call, server side: a WSGI middleware in front of moto's app sees every
request, names it (service from the SigV4 credential scope, operation from X-Amz-Target, the
RPC v2 path or the query `Action`), counts it, and answers instead of moto when a fault says so.

Kinds (the errors are the ones each AWS service documents for the case):
- `throttle`: HTTP 400 `ThrottlingException` (JSON services: ECS, ECR, DynamoDB, SSM, Logs,
  Secrets Manager), `Throttling` (query and RPC v2 services: STS, IAM, CloudWatch).
  https://docs.aws.amazon.com/AmazonECS/latest/developerguide/request-throttling.html
  https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Programming.Errors.html
- `expired_token`: HTTP 400 `ExpiredTokenException` (JSON) / `ExpiredToken` (query): the
  session credentials ran out.
  https://docs.aws.amazon.com/STS/latest/APIReference/CommonErrors.html
- `connection`: the connection is closed without an answer (botocore: ConnectionClosedError).
- `stale`: the answer given last time to the same request (see `stale.py`).
- `error`: any `code`/`status`/`message` given.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import socket
import threading
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from ecs_model.stale import StaleReads

KINDS = ("throttle", "expired_token", "connection", "stale", "error")
QUERY_SERVICES = frozenset({"sts", "iam", "elasticloadbalancing", "ec2", "monitoring"})
CREDENTIAL = re.compile(r"Credential=[^/]+/[^/]+/[^/]+/([^/]+)/aws4_request")
RPC_PATH = re.compile(r"/service/[^/]+/operation/([A-Za-z0-9]+)")
Environ = dict[str, Any]
StartResponse = Callable[..., Any]
App = Callable[[Environ, StartResponse], Iterable[bytes]]


@dataclass
class Fault:
    """`count` matching calls, after `after` matching calls went through, get `kind`."""

    service: str  # signing name: ecs, ecr, dynamodb, monitoring (CloudWatch), ssm, ... or *
    operation: str  # e.g. DescribeServices, or * for any operation of the service
    kind: str
    count: int = 1
    after: int = 0
    code: str | None = None
    status: int = 400
    message: str | None = None
    seen: int = 0
    fired: int = 0

    def matches(self, service: str, operation: str) -> bool:
        return self.service in ("*", service) and self.operation in ("*", operation)


@dataclass(frozen=True)
class Injection:
    service: str
    operation: str
    kind: str
    code: str


@dataclass
class Faults:
    """The control surface: `add`, `clear`, and what was seen and injected."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    faults: list[Fault] = field(default_factory=list)
    calls: Counter[tuple[str, str]] = field(default_factory=Counter)
    injected: list[Injection] = field(default_factory=list)
    stale: StaleReads = field(default_factory=StaleReads)

    def add(
        self,
        service: str,
        operation: str = "*",
        kind: str = "throttle",
        *,
        count: int = 1,
        after: int = 0,
        code: str | None = None,
        status: int = 400,
        message: str | None = None,
    ) -> Fault:
        if kind not in KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; one of {', '.join(KINDS)}")
        fault = Fault(service, operation, kind, count, after, code, status, message)
        with self.lock:
            self.faults.append(fault)
        return fault

    def clear(self) -> None:
        """No faults, no stale reads, counters at zero."""
        with self.lock:
            self.faults.clear()
            self.calls.clear()
            self.injected.clear()
            self.stale.clear()

    def seen(self, service: str, operation: str = "*") -> int:
        """Calls received for the service and operation (* for all), faulted or not."""
        with self.lock:
            return sum(
                n for (s, op), n in self.calls.items() if s == service and operation in ("*", op)
            )

    def fired(self, service: str = "*", operation: str = "*", kind: str = "*") -> int:
        with self.lock:
            return sum(
                1
                for i in self.injected
                if service in ("*", i.service)
                and operation in ("*", i.operation)
                and kind in ("*", i.kind)
            )

    def _pick(self, service: str, operation: str) -> Fault | None:
        with self.lock:
            self.calls[(service, operation)] += 1
            chosen = None
            for fault in self.faults:
                if not fault.matches(service, operation):
                    continue
                fault.seen += 1
                if chosen is None and fault.seen > fault.after and fault.fired < fault.count:
                    chosen = fault
            if chosen is not None and chosen.kind != "stale":
                chosen.fired += 1
            return chosen

    def _record(self, fault: Fault, service: str, operation: str, code: str) -> None:
        with self.lock:
            if fault.kind == "stale":
                fault.fired += 1
            self.injected.append(Injection(service, operation, fault.kind, code))


def error_code(service: str, kind: str, given: str | None) -> str:
    if given:
        return given
    query = service in QUERY_SERVICES
    if kind == "throttle":
        return "Throttling" if query else "ThrottlingException"
    if kind == "expired_token":
        return "ExpiredToken" if query else "ExpiredTokenException"
    return "InternalFailure"


def default_message(kind: str) -> str:
    return {
        "throttle": "Rate exceeded",
        "expired_token": "The security token included in the request is expired",
    }.get(kind, "injected fault")


def _cbor_text(value: str) -> bytes:
    data = value.encode()
    if len(data) < 24:
        return bytes([0x60 | len(data)]) + data
    if len(data) < 256:
        return bytes([0x78, len(data)]) + data
    return bytes([0x79]) + len(data).to_bytes(2, "big") + data


def error_response(
    service: str, environ: Environ, code: str, status: int, message: str
) -> tuple[str, list[tuple[str, str]], bytes]:
    """The error as the service's protocol writes it: JSON, RPC v2 CBOR or query XML."""
    line = f"{status} {'Bad Request' if status == 400 else 'Error'}"
    if environ.get("HTTP_SMITHY_PROTOCOL") == "rpc-v2-cbor":
        body = b"\xa2" + _cbor_text("__type") + _cbor_text(code)
        body += _cbor_text("message") + _cbor_text(message)
        headers = [("Content-Type", "application/cbor"), ("smithy-protocol", "rpc-v2-cbor")]
    elif environ.get("HTTP_X_AMZ_TARGET"):
        body = json.dumps({"__type": code, "message": message}).encode()
        headers = [("Content-Type", "application/x-amz-json-1.1"), ("x-amzn-ErrorType", code)]
    else:
        body = (
            f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code>"
            f"<Message>{message}</Message></Error><RequestId>fault</RequestId></ErrorResponse>"
        ).encode()
        headers = [("Content-Type", "text/xml")]
    headers.append(("Content-Length", str(len(body))))
    return line, headers, body


def name_request(environ: Environ) -> tuple[str, str, bytes]:
    """(service, operation, body); the body is read and put back for moto."""
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length else b""
    environ["wsgi.input"] = io.BytesIO(body)
    found = CREDENTIAL.search(environ.get("HTTP_AUTHORIZATION", ""))
    service = found.group(1) if found else ""
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    if target:
        return service, target.rsplit(".", 1)[-1], body
    rpc = RPC_PATH.search(environ.get("PATH_INFO", ""))
    if rpc:
        return service, rpc.group(1), body
    form = parse_qs(body.decode(errors="replace")) if body else {}
    query = parse_qs(environ.get("QUERY_STRING", ""))
    action = (form.get("Action") or query.get("Action") or [""])[0]
    return service, action, body


class FaultMiddleware:
    def __init__(self, app: App, faults: Faults) -> None:
        self.app, self.faults = app, faults

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        service, operation, body = name_request(environ)
        if not service:
            return self.app(environ, start_response)  # moto's own API, blobs: never faulted
        fault = self.faults._pick(service, operation)
        stale = self.faults.stale
        if fault is not None and fault.kind != "stale":
            code = error_code(service, fault.kind, fault.code)
            self.faults._record(fault, service, operation, code)
            if fault.kind == "connection":
                return self._drop(environ)
            line, headers, data = error_response(
                service, environ, code, fault.status, fault.message or default_message(fault.kind)
            )
            start_response(line, headers)
            return [data]
        cached = stale.answer(service, operation, body, forced=fault is not None)
        if cached is not None:
            if fault is not None:
                self.faults._record(fault, service, operation, "stale")
            else:
                self.faults._record(Fault(service, operation, "stale"), service, operation, "stale")
            line, headers, data = cached
            start_response(line, headers)
            return [data]
        return self._through(environ, start_response, service, operation, body)

    def _through(
        self,
        environ: Environ,
        start_response: StartResponse,
        service: str,
        operation: str,
        body: bytes,
    ) -> Iterable[bytes]:
        captured: dict[str, Any] = {}

        def keep(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            captured["status"], captured["headers"] = status, headers
            return start_response(status, headers, exc_info)

        data = b"".join(self.app(environ, keep))
        self.faults.stale.observe(
            service, operation, body, (captured["status"], captured["headers"], data)
        )
        return [data]

    @staticmethod
    def _drop(environ: Environ) -> Iterable[bytes]:
        connection = environ.get("werkzeug.socket")
        if connection is not None:
            with contextlib.suppress(OSError):  # the client may have gone already
                connection.shutdown(socket.SHUT_RDWR)
        raise ConnectionAbortedError("injected: connection closed without an answer")
