"""Write the PostgreSQL SQL of every Alembic migration, one file per revision, for squawk.

    python scripts/migration_sql.py OUTDIR

Offline (`alembic upgrade --sql`): no database is contacted; the URL only names the dialect.
Each file holds one revision's upgrade alone, so squawk's findings name the migration.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory

from app.migrate import alembic_config

DIALECT_ONLY = "postgresql+asyncpg://lint@127.0.0.1/lint"  # never connected to


def migration_sql(outdir: Path) -> list[Path]:
    outdir.mkdir(parents=True, exist_ok=True)
    scripts = ScriptDirectory.from_config(alembic_config(DIALECT_ONLY))
    written = []
    for script in reversed(list(scripts.walk_revisions())):  # oldest first
        buffer = io.StringIO()
        config: Config = alembic_config(DIALECT_ONLY)
        config.output_buffer = buffer
        start = script.down_revision or "base"
        command.upgrade(config, f"{start}:{script.revision}", sql=True)
        path = outdir / f"{script.revision}.sql"
        path.write_text(buffer.getvalue())
        written.append(path)
    return written


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print("usage: python scripts/migration_sql.py OUTDIR", file=sys.stderr)
        sys.exit(2)
    for path in migration_sql(Path(sys.argv[1])):
        print(path)
