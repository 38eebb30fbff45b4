"""The stack deploys the PostgreSQL version infra/postgres_version.py names (the constant the
test clusters and CI use too: tests/pipeline/test_postgres_agreement.py)."""

from __future__ import annotations

import pytest

from infra.postgres_version import POSTGRES_MAJOR, POSTGRES_VERSION
from tests.infra.conftest import Synth

STAGING, PRODUCTION = "AutoPipe-staging", "AutoPipe-production"


@pytest.mark.parametrize("stack", [STAGING, PRODUCTION])
def test_rds_runs_the_named_version(synth: Synth, stack: str) -> None:
    db = synth.one(stack, "AWS::RDS::DBInstance")
    assert db["Engine"] == "postgres"
    assert db["EngineVersion"] == POSTGRES_VERSION
    assert POSTGRES_VERSION.split(".")[0] == str(POSTGRES_MAJOR)
