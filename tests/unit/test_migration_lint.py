"""The migration gate of `make lint`: squawk over the PostgreSQL SQL of every migration passes
for the repository's migrations and fails for the operations that lock or break a live table."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import unavailable

ROOT = Path(__file__).resolve().parents[2]


def _squawk(*paths: Path) -> subprocess.CompletedProcess[str]:
    squawk = shutil.which("squawk", path=str(Path(sys.executable).parent))
    if squawk is None:
        unavailable("squawk", "squawk not installed (uv sync --group lint)")
    return subprocess.run(
        [squawk, "--config", str(ROOT / ".squawk.toml"), *map(str, paths)],
        capture_output=True, text=True, timeout=60, check=False, cwd=ROOT,
    )  # fmt: skip


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    outdir = tmp_path_factory.mktemp("migration-sql")
    done = subprocess.run(
        [sys.executable, "scripts/migration_sql.py", str(outdir)],
        capture_output=True, text=True, timeout=120, check=True, cwd=ROOT,
    )  # fmt: skip
    return [Path(line) for line in done.stdout.split()]


def test_every_migration_has_its_sql(generated: list[Path]) -> None:
    versions = sorted(p.stem for p in (ROOT / "app/migrations/versions").glob("[0-9]*.py"))
    assert [p.name for p in generated] == [f"{v.split('_')[0]}.sql" for v in versions]
    assert "CREATE TABLE items" in generated[0].read_text()


def test_the_repository_migrations_pass(generated: list[Path]) -> None:
    done = _squawk(*generated)
    assert done.returncode == 0, done.stdout + done.stderr


UNSAFE = {
    "adding-required-field": "ALTER TABLE items ADD COLUMN sku text NOT NULL;",
    "require-concurrent-index-creation": "CREATE INDEX ix_items_name ON items (name);",
    "renaming-column": "ALTER TABLE items RENAME COLUMN name TO title;",
    "ban-drop-column": "ALTER TABLE items DROP COLUMN description;",
    "ban-drop-not-null": "ALTER TABLE items ALTER COLUMN name DROP NOT NULL;",
    "renaming-table": "ALTER TABLE items RENAME TO products;",
    "ban-drop-table": "DROP TABLE items;",
    "adding-not-nullable-field": "ALTER TABLE items ALTER COLUMN description SET NOT NULL;",
    "changing-column-type": "ALTER TABLE items ALTER COLUMN name TYPE varchar(200);",
    "adding-foreign-key-constraint": (
        "ALTER TABLE items ADD CONSTRAINT fk_items_owner FOREIGN KEY (version) "
        "REFERENCES owners (id);"
    ),
}


def _squawk_migration(tmp_path: Path, *statements: str) -> subprocess.CompletedProcess[str]:
    """squawk over one migration's SQL, in the transaction Alembic's offline SQL puts it in."""
    migration = tmp_path / "0099.sql"
    migration.write_text("\n".join(["BEGIN;", *statements, "COMMIT;"]) + "\n")
    return _squawk(migration)


@pytest.mark.parametrize("rule", sorted(UNSAFE))
def test_an_unsafe_operation_on_a_live_table_fails(tmp_path: Path, rule: str) -> None:
    done = _squawk_migration(tmp_path, "SET LOCAL lock_timeout = '5s';", UNSAFE[rule])
    assert done.returncode != 0
    assert rule in done.stdout


@pytest.mark.parametrize(
    ("rule", "prelude"),
    [
        ("require-lock-timeout", "SET LOCAL statement_timeout = '30s';"),
        ("require-statement-timeout", "SET LOCAL lock_timeout = '5s';"),
    ],
)
def test_a_lock_taken_without_a_bound_fails(tmp_path: Path, rule: str, prelude: str) -> None:
    done = _squawk_migration(tmp_path, prelude, "ALTER TABLE items ADD COLUMN sku text;")
    assert done.returncode != 0
    assert rule in done.stdout


def test_a_bounded_expand_step_passes(tmp_path: Path) -> None:
    """The other side of the cases above: what docs/migrations.md calls safe is not refused."""
    done = _squawk_migration(
        tmp_path,
        "SET LOCAL lock_timeout = '5s';",
        "SET LOCAL statement_timeout = '30s';",
        "ALTER TABLE items ADD COLUMN title text;",
    )
    assert done.returncode == 0, done.stdout
