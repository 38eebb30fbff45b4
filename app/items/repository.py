"""Queries on `items`, as SQLAlchemy Core statements (compiled once, cached by the engine)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, NoReturn, TypeAlias

from sqlalchemy import Row, func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.errors import NotFound, PreconditionFailed
from app.items.models import items

# A row of the six item columns (SQLAlchemy 2.1 rows are variadic generics).
ItemRow: TypeAlias = Row[*tuple[Any, ...]]

_COLUMNS = (
    items.c.id,
    items.c.name,
    items.c.description,
    items.c.created_at,
    items.c.updated_at,
    items.c.version,
)


def not_found(item_id: int) -> NotFound:
    return NotFound(f"Item {item_id} does not exist.")


class ItemRepository:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def get(self, item_id: int) -> ItemRow | None:
        async with self._engine.connect() as conn:
            result = await conn.execute(select(*_COLUMNS).where(items.c.id == item_id))
            return result.first()

    async def page(self, limit: int, offset: int) -> tuple[Sequence[ItemRow], int]:
        async with self._engine.connect() as conn:
            total = (await conn.execute(select(func.count()).select_from(items))).scalar_one()
            rows = (
                await conn.execute(
                    select(*_COLUMNS).order_by(items.c.id).limit(limit).offset(offset)
                )
            ).all()
        return rows, total

    async def create(self, values: dict[str, Any]) -> ItemRow:
        now = datetime.now(UTC)
        stmt = (
            items.insert()
            .values(**values, created_at=now, updated_at=now, version=1)
            .returning(*_COLUMNS)
        )
        async with self._engine.begin() as conn:
            return (await conn.execute(stmt)).one()

    async def update(
        self, item_id: int, values: dict[str, Any], if_match: frozenset[int] | None
    ) -> ItemRow:
        """Apply `values` and bump the version; `if_match` holds the acceptable versions."""
        stmt = (
            items.update()
            .where(items.c.id == item_id)
            .values(**values, updated_at=datetime.now(UTC), version=items.c.version + 1)
            .returning(*_COLUMNS)
        )
        if if_match is not None:
            stmt = stmt.where(items.c.version.in_(if_match))
        async with self._engine.begin() as conn:
            row = (await conn.execute(stmt)).first()
            if row is None:
                await self._raise_missing_or_stale(conn, item_id)
            return row

    async def delete(self, item_id: int, if_match: frozenset[int] | None) -> None:
        stmt = items.delete().where(items.c.id == item_id).returning(items.c.id)
        if if_match is not None:
            stmt = stmt.where(items.c.version.in_(if_match))
        async with self._engine.begin() as conn:
            if (await conn.execute(stmt)).first() is None:
                await self._raise_missing_or_stale(conn, item_id)

    @staticmethod
    async def _raise_missing_or_stale(conn: AsyncConnection, item_id: int) -> NoReturn:
        current = await conn.scalar(select(items.c.version).where(items.c.id == item_id))
        if current is None:
            raise not_found(item_id)
        raise PreconditionFailed(
            f"Item {item_id} is at version {current}; If-Match does not match. "
            "Fetch it again and retry."
        )
