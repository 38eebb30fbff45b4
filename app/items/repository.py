"""The SQLAlchemy store: any backend SQLAlchemy speaks (SQLite by default, via aiosqlite)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.items import queries
from app.items.store import Item, missing_or_stale


def _item(row: Any) -> Item:
    return dict(zip(queries.FIELDS, row, strict=True))


class SqlAlchemyItems:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def get(self, item_id: int) -> Item | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(queries.GET, {"item_id": item_id})).first()
        return _item(row) if row is not None else None

    async def page(self, after: int, limit: int, offset: int) -> Sequence[Item]:
        params = {"after": after, "limit": limit, "offset": offset}
        async with self.engine.connect() as conn:
            return [_item(r) for r in await conn.execute(queries.PAGE, params)]

    async def create(self, values: dict[str, Any]) -> Item:
        async with self.engine.begin() as conn:
            row = (await conn.execute(queries.INSERT, {**values, "now": datetime.now(UTC)})).one()
        return _item(row)

    async def update(
        self, item_id: int, values: dict[str, Any], if_match: frozenset[int] | None
    ) -> Item:
        stmt = queries.update(tuple(sorted(values)), conditional=if_match is not None)
        params = {
            **values,
            "item_id": item_id,
            "now": datetime.now(UTC),
            "versions": list(if_match or ()),
        }
        async with self.engine.begin() as conn:
            row = (await conn.execute(stmt, params)).first()
            if row is None:
                current = await conn.scalar(queries.CURRENT_VERSION, {"item_id": item_id})
                missing_or_stale(item_id, current)
        return _item(row)

    async def delete(self, item_id: int, if_match: frozenset[int] | None) -> None:
        stmt = queries.delete(conditional=if_match is not None)
        async with self.engine.begin() as conn:
            params = {"item_id": item_id, "versions": list(if_match or ())}
            if (await conn.execute(stmt, params)).first() is None:
                current = await conn.scalar(queries.CURRENT_VERSION, {"item_id": item_id})
                missing_or_stale(item_id, current)

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def close(self) -> None:
        await self.engine.dispose()
