"""structlog set-up: JSON lines (or a console view in development) for our loggers *and* the
stdlib ones (uvicorn, SQLAlchemy, Alembic), all sharing the request-id contextvar."""

from __future__ import annotations

import asyncio
import atexit
import logging
import sys
from collections.abc import Callable, Mapping, MutableMapping
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

import orjson
import structlog
from structlog.typing import Processor


def _orjson_dumps(obj: Any, default: Any = None) -> str:
    return orjson.dumps(obj, default=default).decode()


# The current request's id; every log line written while serving it carries it.
request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)


def add_request_id(
    _logger: Any, _method: str, event: MutableMapping[str, Any]
) -> Mapping[str, Any]:
    request_id = request_id_var.get()
    if request_id is not None:
        event.setdefault("request_id", request_id)
    return event


class _HeldLines:
    """Access lines of requests that end while others are still being served, held until the
    event loop's next turn and then written together: one write(2) for all the lines of a
    turn instead of one per request (about a fifth of a read's CPU at 64 connections:
    bench/README.md, "Performance"). Nothing waits longer than that turn, and a line of any
    other logger first writes what is held, so lines keep the order they were logged in."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.scheduled = False

    def add(self, line: str, *, hold: bool) -> None:
        self.lines.append(line)
        if not hold:
            self.write()
        elif not self.scheduled:
            try:
                asyncio.get_running_loop().call_soon(self.write)
                self.scheduled = True
            except RuntimeError:  # no loop to come back to: now
                self.write()

    def write(self) -> None:
        self.scheduled = False
        if self.lines:
            text = "".join(self.lines)
            self.lines.clear()
            sys.stdout.write(text)
            sys.stdout.flush()


_held = _HeldLines()
atexit.register(_held.write)  # a process that ends between two turns loses no line


class _Stdout:
    """Whatever `sys.stdout` is at write time (test runners and reloaders swap it), after any
    held access lines."""

    def write(self, text: str) -> int:
        _held.write()
        return sys.stdout.write(text)

    def flush(self) -> None:
        sys.stdout.flush()


def configure_logging(level: str = "INFO", *, json: bool = True, trace_ids: bool = False) -> None:
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        add_request_id,
        *_trace_processors(trace_ids),
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    if json:
        renderer: Processor = structlog.processors.JSONRenderer(serializer=_orjson_dumps)
        # Never local variables: a crashing frame may hold a request body, a key or a password.
        exceptions: list[Processor] = [
            structlog.processors.ExceptionRenderer(
                structlog.tracebacks.ExceptionDictTransformer(show_locals=False)
            )
        ]
    else:
        renderer = structlog.dev.ConsoleRenderer(colors=sys.stdout.isatty())
        exceptions = []

    # Our own loggers render directly (the access line is on the hot path)...
    structlog.configure(
        processors=[*shared, *exceptions, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelNamesMapping()[level]),
        logger_factory=structlog.WriteLoggerFactory(file=_Stdout()),  # type: ignore[arg-type]
        cache_logger_on_first_use=True,
    )
    # ...and stdlib loggers go through the same processors via a formatter.
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*shared, structlog.stdlib.add_logger_name],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            *exceptions,
            renderer,
        ],
    )
    handler = logging.StreamHandler(_Stdout())
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "sqlalchemy", "alembic", "asyncio"):
        named = logging.getLogger(name)
        named.handlers.clear()
        named.propagate = True
    # We write one access line per request ourselves, with the route template and request id.
    logging.getLogger("uvicorn.access").disabled = True
    # SQL echo only when asked for.
    logging.getLogger("sqlalchemy.engine").setLevel(
        logging.INFO if level == "DEBUG" else logging.WARNING
    )


def _trace_processors(trace_ids: bool) -> list[Processor]:
    if not trace_ids:
        return []
    from app.observability.tracing import add_trace_ids  # noqa: PLC0415 (only when tracing)

    return [add_trace_ids]


# CloudWatch embedded metric format: the contract the CDK app's alarms and dashboard read. The
# namespace is the project's (METRICS_NAMESPACE, set by the task definition).
def _emf_directive(namespace: str) -> list[dict[str, Any]]:
    return [
        {
            "Namespace": namespace,
            "Dimensions": [["Service"], ["Service", "Route"]],
            "Metrics": [
                {"Name": "RequestCount", "Unit": "Count"},
                {"Name": "ErrorCount", "Unit": "Count"},
                {"Name": "Latency", "Unit": "Milliseconds"},
            ],
        }
    ]


class AccessLog:
    """The one-line-per-request log. In JSON mode it is written directly (same shape as the
    structlog lines): at thousands of requests a second, the processor chain is a measurable
    share of each request. With `emf`, the line is also a CloudWatch EMF record, so CloudWatch
    Logs turns it into RequestCount / ErrorCount (5xx) / Latency by Service and Route."""

    def __init__(
        self,
        level: str = "INFO",
        *,
        json: bool = True,
        emf_service: str | None = None,
        emf_namespace: str = "AutoPipe",
        trace_ids: bool = False,
    ) -> None:
        self.enabled = logging.getLevelNamesMapping()[level] <= logging.INFO
        self.json = json
        self.emf_service = emf_service if json else None
        self._emf_directive = _emf_directive(emf_namespace)
        self._structlog = structlog.get_logger("app.access")
        self._trace_fields: Callable[[], dict[str, str] | None] | None = None
        if trace_ids:
            from app.observability.tracing import current_trace_fields  # noqa: PLC0415

            self._trace_fields = current_trace_fields

    def __call__(self, *, hold: bool = False, **fields: Any) -> None:
        """Write the line; with `hold`, at the event loop's next turn (`_HeldLines`)."""
        if not self.enabled:
            return
        if self._trace_fields is not None:
            fields.update(self._trace_fields() or {})
        if not self.json:
            self._structlog.info("request", **fields)
            return
        now = datetime.now(UTC)
        fields["event"] = "request"
        fields["level"] = "info"
        fields["timestamp"] = now.isoformat().replace("+00:00", "Z")
        if self.emf_service is not None:
            fields["_aws"] = {
                "Timestamp": int(now.timestamp() * 1000),
                "CloudWatchMetrics": self._emf_directive,
            }
            fields["Service"] = self.emf_service
            fields["Route"] = fields["route"]
            fields["RequestCount"] = 1
            fields["ErrorCount"] = 1 if fields["status"] >= 500 else 0
            fields["Latency"] = fields["duration_ms"]
        _held.add(orjson.dumps(fields).decode() + "\n", hold=hold)
