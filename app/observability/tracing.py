"""OpenTelemetry tracing: off by default, on when an OTLP endpoint is configured.

Off means off: no instrumentation is installed, so requests pay nothing for it. On, every
request gets a server span (FastAPI) with child spans for its database calls (asyncpg on
PostgreSQL, SQLAlchemy on SQLite), exported over OTLP/HTTP to whatever listens at the endpoint —
in ECS, an AWS Distro for OpenTelemetry (ADOT) collector sidecar on localhost:4318 that forwards
to X-Ray (docs/tracing.md). Trace ids are X-Ray compatible (the first 32 bits are the start
time), an incoming W3C `traceparent` or X-Ray header with a parent continues the caller's trace
(the ALB's header has no parent: its Root is logged as `alb_trace_id` by the middleware), and
every log line written inside a span carries its ids.

This module is imported only when tracing is on: the SDK and instrumentation imports cost about
a second of start-up at 0.25 vCPU.

The standard OTEL_* variables keep working: OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT switch it on,
OTEL_SDK_DISABLED=true forces it off, OTEL_TRACES_SAMPLER(_ARG) choose the sampling,
OTEL_RESOURCE_ATTRIBUTES add resource attributes.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, MutableMapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from opentelemetry import propagate, trace
from opentelemetry.baggage.propagation import W3CBaggagePropagator
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor
from opentelemetry.instrumentation.utils import suppress_instrumentation
from opentelemetry.propagators.aws import AwsXRayPropagator
from opentelemetry.propagators.composite import CompositePropagator
from opentelemetry.sdk.extension.aws.trace import AwsXRayIdGenerator
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from sqlalchemy.ext.asyncio import AsyncEngine

from app.config import Settings

# Instrumentors are process-wide singletons (they patch the driver's classes).
_asyncpg = AsyncPGInstrumentor()  # type: ignore[no-untyped-call]
_sqlalchemy = SQLAlchemyInstrumentor()

# Probes and scrapes would drown the real traffic (the ALB checks every few seconds per task).
_EXCLUDED_URLS = r"/health$,/ready$,/metrics$"


def trace_fields(trace_id: int, span_id: int) -> dict[str, str]:
    """The ids as log fields: OpenTelemetry hex, and the X-Ray spelling CloudWatch searches."""
    hex_id = f"{trace_id:032x}"
    return {
        "trace_id": hex_id,
        "span_id": f"{span_id:016x}",
        "xray_trace_id": f"1-{hex_id[:8]}-{hex_id[8:]}",
    }


def current_trace_fields() -> dict[str, str] | None:
    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return None
    return trace_fields(context.trace_id, context.span_id)


def add_trace_ids(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> Mapping[str, Any]:
    """structlog processor: the current span's ids on every line written inside one."""
    fields = current_trace_fields()
    if fields is not None:
        for key, value in fields.items():
            event.setdefault(key, value)
    return event


@dataclass
class Tracing:
    """What `install` set up, so the lifespan can flush and undo it. One traced app per process
    (as served): the driver instrumentation is process-wide."""

    app: FastAPI
    provider: TracerProvider
    flush_timeout: float

    @staticmethod
    def untraced() -> AbstractContextManager[None]:
        """No spans inside (the readiness probe's `SELECT 1` would otherwise be a root trace
        every few seconds per task)."""
        return suppress_instrumentation()

    def instrument_engine(self, engine: AsyncEngine) -> None:
        # The instrumentation declares SQLAlchemy < 2.1 but only uses the engine's
        # before/after_cursor_execute events, which 2.1 keeps (proven in test_tracing).
        _sqlalchemy.instrument(
            engine=engine.sync_engine,
            tracer_provider=self.provider,
            enable_commenter=False,
            skip_dep_check=True,
        )

    def shutdown(self) -> None:
        """Export what is buffered (the drain has finished), for `flush_timeout` at most: the
        SDK's own bound is 30 s per processor, past ECS's stop timeout. Then remove the
        instrumentation."""
        flush = threading.Thread(target=self.provider.shutdown, name="otel-flush", daemon=True)
        flush.start()
        flush.join(self.flush_timeout)
        FastAPIInstrumentor.uninstrument_app(self.app)
        for instrumentor in (_asyncpg, _sqlalchemy):
            if instrumentor.is_instrumented_by_opentelemetry:
                instrumentor.uninstrument()


def install(app: FastAPI, settings: Settings) -> Tracing | None:
    endpoint = settings.otel_traces_url
    if endpoint is None:
        return None
    resource = Resource.create(
        {
            "service.name": settings.service_name,
            "service.version": settings.app_version,
            "deployment.environment.name": settings.env,
            "vcs.ref.head.revision": settings.git_sha,
        }
    )
    provider = TracerProvider(resource=resource, id_generator=AwsXRayIdGenerator())
    provider.add_span_processor(
        BatchSpanProcessor(
            OTLPSpanExporter(endpoint=endpoint, timeout=settings.tracing_export_timeout)
        )
    )
    # Continue the caller's trace from either header: W3C from services, X-Ray from the ALB.
    propagate.set_global_textmap(
        CompositePropagator(
            [TraceContextTextMapPropagator(), W3CBaggagePropagator(), AwsXRayPropagator()]
        )
    )
    FastAPIInstrumentor.instrument_app(
        app,
        tracer_provider=provider,
        excluded_urls=_EXCLUDED_URLS,
        exclude_spans=["receive", "send"],
    )
    if not _asyncpg.is_instrumented_by_opentelemetry:
        _asyncpg.instrument(tracer_provider=provider)
    return Tracing(app=app, provider=provider, flush_timeout=settings.tracing_export_timeout)
