"""The application factory. Nothing here runs at import time: `create_app()` builds the app,
the lifespan builds (and disposes of) the database engine."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

import structlog
from fastapi import FastAPI
from sqlalchemy.engine import make_url
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from app import health
from app.config import Settings, get_settings
from app.db import open_store
from app.errors import install_error_handlers
from app.http_rules import HeadAndHostMiddleware
from app.items.repository import SqlAlchemyItems
from app.items.router import router as items_router
from app.middleware import BodyLimitMiddleware, RequestContextMiddleware
from app.observability.logging import AccessLog, configure_logging
from app.observability.metrics import Metrics
from app.observability.metrics import router as metrics_router
from app.openapi import install_openapi

if TYPE_CHECKING:
    from app.observability.tracing import Tracing

log = structlog.get_logger("app")


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    store = await open_store(settings)
    app.state.items = store
    tracing: Tracing | None = app.state.tracing
    if tracing is not None and isinstance(store, SqlAlchemyItems):
        tracing.instrument_engine(store.engine)
    url = make_url(settings.sqlalchemy_url)
    log.info(
        "startup",
        env=settings.env,
        version=settings.app_version,
        git_sha=settings.git_sha,
        database=url.render_as_string(hide_password=True),
        api_keys=len(settings.api_keys),
        tracing=tracing is not None,
    )
    # Everything built so far lives as long as the process: keep it out of the collector's
    # full passes, which otherwise show up as latency spikes under load.
    gc.freeze()
    try:
        yield
    finally:
        # Runs after uvicorn has drained in-flight requests on SIGTERM.
        try:
            await store.close()
            log.info("shutdown")
        finally:
            if tracing is not None:
                tracing.shutdown()


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    tracing_on = settings.otel_traces_url is not None
    configure_logging(settings.log_level, json=settings.is_json_logs, trace_ids=tracing_on)
    app = FastAPI(
        title="Auto-Pipe items API",
        version=settings.app_version,
        description="CRUD for items. Reads are public; writes need an API key.",
        lifespan=lifespan,
        # Starlette's slash redirect writes an absolute URL from the request's Host: a client
        # could make it point anywhere. app/errors.py redirects with a relative reference.
        redirect_slashes=False,
    )
    app.state.settings = settings
    app.state.api_keys = tuple(k.get_secret_value().encode() for k in settings.api_keys)
    app.state.metrics = metrics = Metrics()
    install_error_handlers(app)
    install_openapi(app)
    # The routers' routes go straight into the app's router, in the order include_router would
    # put them and with the same OpenAPI document: FastAPI's include_router wraps each router in
    # a lazily built per-inclusion layer that every request then walks (~8% of the read path's
    # CPU). What that layer adds (prefix, tags, dependencies, dependency_overrides at include
    # time) is not used here: prefixes and tags are on the routers themselves.
    for router in (health.router, items_router, metrics_router):
        app.router.routes.extend(router.routes)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(HeadAndHostMiddleware, routes=app.router.routes)
    access_log = AccessLog(
        settings.log_level,
        json=settings.is_json_logs,
        emf_service=settings.service_name if settings.emf_metrics else None,
        emf_namespace=settings.metrics_namespace,
        trace_ids=tracing_on,
    )
    app.add_middleware(RequestContextMiddleware, metrics=metrics, access_log=access_log)
    # Outermost: the access line, the metrics and the app all see the client the ALB reports,
    # and only when the connection comes from a trusted network.
    app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=list(settings.trusted_proxies))
    app.state.tracing = None
    if tracing_on:
        # Imported only when on: the SDK costs about a second of start-up at 0.25 vCPU.
        from app.observability import tracing  # noqa: PLC0415

        app.state.tracing = tracing.install(app, settings)
    return app
