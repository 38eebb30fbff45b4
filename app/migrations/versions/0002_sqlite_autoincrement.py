"""SQLite never reuses an item id.

Without AUTOINCREMENT, SQLite gives a new row the largest id in use plus one: delete the newest
item and the next create gets its id, at version 1, so a client's stale `If-Match: "1"` for the
deleted item would match the new one. AUTOINCREMENT keeps the highest id ever issued in
`sqlite_sequence`. The table is rebuilt (SQLite cannot alter a column), which records the
largest id present now; ids of items deleted before this migration cannot be known.

PostgreSQL is untouched: its sequences never hand out an id twice.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _rebuild(autoincrement: bool) -> None:
    if op.get_context().dialect.name != "sqlite":
        return
    with op.batch_alter_table(
        "items", recreate="always", table_kwargs={"sqlite_autoincrement": autoincrement}
    ):
        pass


def upgrade() -> None:
    _rebuild(autoincrement=True)


def downgrade() -> None:
    _rebuild(autoincrement=False)
