"""schemathesis against the live service's own OpenAPI schema, on PostgreSQL, with an API key:
every operation, generated valid and invalid input, all of schemathesis's checks (no 5xx, no
undocumented status, content type or header, responses that match their schema, valid input
accepted, invalid input refused). Settings beyond the defaults: schemathesis.toml."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from testbed.pg import PostgresServer
from tests.conftest import API_KEY, AUTH, migrate
from tests.support.live import LiveServer

pytestmark = [pytest.mark.live, pytest.mark.postgres]

EXAMPLES = 100  # per operation and phase; about 15 s for the whole API
OPERATIONS = 9  # every path and method in the schema (held below)
CASES: Counter[str] = Counter()  # requests sent, per operation


@pytest.fixture(scope="module")
def fuzz_server(pg_server: PostgresServer) -> Iterator[LiveServer]:
    url = pg_server.create_database("fuzz")
    migrate(url)
    with LiveServer({"DATABASE_URL": url, "API_KEYS": API_KEY, "LOG_LEVEL": "WARNING"}) as server:
        yield server
        print(f"\nschemathesis cases per operation: {dict(CASES)}; total {CASES.total()}")
        assert len(CASES) == OPERATIONS, CASES
        # Operations without inputs run out of distinct cases after a few; the rest must not.
        assert all(n >= 50 for op, n in CASES.items() if "/items" in op), CASES
        # A handled-looking response can still hide a crash; the log cannot.
        crashes = [line for line in server.json_lines() if line.get("level") == "error"]
        assert not crashes, crashes[:3]


@pytest.fixture(scope="module")
def api_schema(fuzz_server: LiveServer) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_url(f"{fuzz_server.url}/openapi.json")


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_operation(case: schemathesis.Case[Any]) -> None:
    CASES[case.operation.label] += 1
    case.call_and_validate(headers=AUTH)
