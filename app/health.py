"""Probes: `/health` (liveness, touches nothing), `/ready` (a real DB round-trip), `/version`."""

from __future__ import annotations

import asyncio
from contextlib import nullcontext
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel

from app.deps import ItemsDep, SettingsDep
from app.errors import PROBLEM_JSON, DatabaseUnavailable, is_database_unavailable

router = APIRouter(tags=["health"])


class Status(BaseModel):
    status: str


class Version(BaseModel):
    version: str
    git_sha: str
    image_tag: str


@router.get("/health", response_model=Status)
async def health() -> dict[str, Any]:
    """Liveness: the process answers. Never touches the database, so a DB outage does not get
    healthy tasks killed and replaced."""
    return {"status": "ok"}


@router.get(
    "/ready",
    response_model=Status,
    responses={503: {"description": "Database unreachable", "content": {PROBLEM_JSON: {}}}},
)
async def ready(request: Request, store: ItemsDep, settings: SettingsDep) -> dict[str, Any]:
    """Readiness: a `SELECT 1` round-trip within READY_TIMEOUT seconds."""
    tracing = request.app.state.tracing
    try:
        async with asyncio.timeout(settings.ready_timeout):
            with tracing.untraced() if tracing is not None else nullcontext():
                await store.ping()
    except Exception as exc:
        if isinstance(exc, TimeoutError) or is_database_unavailable(exc):
            raise DatabaseUnavailable(
                f"Database check failed: {type(exc).__name__}",
                retry_after=settings.retry_after_seconds,
            ) from exc
        raise
    return {"status": "ready"}


@router.get("/version", response_model=Version)
async def version(settings: SettingsDep) -> dict[str, Any]:
    return {
        "version": settings.app_version,
        "git_sha": settings.git_sha,
        "image_tag": settings.image_tag,
    }
