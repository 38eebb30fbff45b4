"""Dependencies shared by the routers, as `Annotated` aliases.

All `async def`: FastAPI runs a plain `def` dependency in the threadpool, a thread hop per
request for what is an attribute read.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from app.auth import require_api_key
from app.config import Settings
from app.items.store import ItemStore


async def get_settings_dep(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_items(request: Request) -> ItemStore:
    store: ItemStore = request.app.state.items
    return store


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
ItemsDep = Annotated[ItemStore, Depends(get_items)]
WriteAccess = Depends(require_api_key)
