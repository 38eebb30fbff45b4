"""Which errors mean "the database cannot answer now" (503, and app.migrate waits and retries)
and which are bugs or bad statements."""

from __future__ import annotations

import asyncpg
import sqlalchemy.exc

from app.errors import is_database_unavailable


def wrapped(cause: BaseException) -> sqlalchemy.exc.DBAPIError:
    """The chain SQLAlchemy's asyncpg adapter raises: DBAPIError → adapter error → asyncpg's."""
    adapter_error = Exception(str(cause))
    adapter_error.__cause__ = cause
    return sqlalchemy.exc.DBAPIError("SELECT 1", None, adapter_error)


def test_a_server_still_starting_up_is_unavailable_even_as_a_plain_dbapi_error() -> None:
    # What a migration met while PostgreSQL (or RDS after a failover) was still starting.
    starting = asyncpg.CannotConnectNowError("the database system is starting up")
    assert is_database_unavailable(wrapped(starting))


def test_a_bad_statement_is_not_unavailable() -> None:
    bad = asyncpg.UndefinedTableError('relation "nope" does not exist')
    assert not is_database_unavailable(wrapped(bad))
    assert not is_database_unavailable(ValueError("a bug"))


def test_a_refused_connection_is_unavailable() -> None:
    assert is_database_unavailable(ConnectionRefusedError(111, "Connection refused"))
