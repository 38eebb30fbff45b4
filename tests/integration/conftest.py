"""Fixtures shared by the integration tests that take PostgreSQL away."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from testbed.pg import PostgresServer
from tests.conftest import start_postgres


@pytest.fixture(scope="module")
def outage_pg() -> Iterator[PostgresServer]:
    """A cluster of the module's own: stopping it must not disturb the other tests."""
    server = start_postgres()
    yield server
    server.destroy()
