"""The item statements, written once in SQLAlchemy Core against the `items` table. Both stores
run these: the SQLAlchemy store directly, the asyncpg store compiled to PostgreSQL SQL once."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Integer, any_, bindparam, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.sql.dml import UpdateBase

from app.items.models import items

FIELDS = ("id", "name", "description", "created_at", "updated_at", "version")
COLUMNS = tuple(items.c[name] for name in FIELDS)
WRITABLE = ("name", "description")

GET = select(*COLUMNS).where(items.c.id == bindparam("item_id"))
# Keyset: the items after a known id, through the primary key. One statement, so one snapshot;
# `offset` (legacy, bounded by the route) skips rows after that.
PAGE = (
    select(*COLUMNS)
    .where(items.c.id > bindparam("after"))
    .order_by(items.c.id)
    .limit(bindparam("limit"))
    .offset(bindparam("offset"))
)
CURRENT_VERSION = select(items.c.version).where(items.c.id == bindparam("item_id"))
INSERT = (
    items.insert()
    .values(
        name=bindparam("name"),
        description=bindparam("description"),
        created_at=bindparam("now"),
        updated_at=bindparam("now"),
        version=1,
    )
    .returning(*COLUMNS)
)


def _versions_match(postgres: bool) -> Any:
    if postgres:  # one statement for any number of acceptable versions
        return items.c.version == any_(bindparam("versions", type_=ARRAY(Integer)))
    return items.c.version.in_(bindparam("versions", expanding=True))


def update(columns: tuple[str, ...], *, conditional: bool, postgres: bool = False) -> UpdateBase:
    """Set `columns` (a subset of WRITABLE), bump the version; `conditional` adds If-Match."""
    values: dict[str, Any] = {name: bindparam(name) for name in columns}
    stmt = (
        items.update()
        .where(items.c.id == bindparam("item_id"))
        .values(**values, updated_at=bindparam("now"), version=items.c.version + 1)
        .returning(*COLUMNS)
    )
    return stmt.where(_versions_match(postgres)) if conditional else stmt


def delete(*, conditional: bool, postgres: bool = False) -> UpdateBase:
    stmt = items.delete().where(items.c.id == bindparam("item_id")).returning(items.c.id)
    return stmt.where(_versions_match(postgres)) if conditional else stmt
