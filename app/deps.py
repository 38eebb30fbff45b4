"""Dependencies shared by the routers, as `Annotated` aliases."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncEngine

from app.auth import require_api_key
from app.config import Settings
from app.items.repository import ItemRepository


def get_settings_dep(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_engine(request: Request) -> AsyncEngine:
    engine: AsyncEngine = request.app.state.engine
    return engine


def get_items(request: Request) -> ItemRepository:
    repository: ItemRepository = request.app.state.items
    return repository


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
EngineDep = Annotated[AsyncEngine, Depends(get_engine)]
ItemsDep = Annotated[ItemRepository, Depends(get_items)]
WriteAccess = Depends(require_api_key)
