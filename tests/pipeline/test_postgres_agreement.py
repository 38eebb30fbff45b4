"""One mechanism for PostgreSQL in tests, here and in CI: the suite's own throwaway clusters,
from server binaries of the major the stack deploys (infra/postgres_version.py), provided by
`make postgres` as part of `make test`. No workflow starts a database service or points the
tests at one."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from infra.postgres_version import POSTGRES_MAJOR
from testbed.pg import PostgresServer, server_major
from tests.pipeline.workflows import ROOT, load, run_steps


def _make(*args: str) -> str:
    result = subprocess.run(
        ["make", "--no-print-directory", *args],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    return result.stdout


def test_no_workflow_starts_a_database_service_or_points_tests_at_one() -> None:
    for name in ("ci.yml", "deploy.yml"):
        workflow = load(name)
        for job_id, job in workflow.jobs.items():
            assert "services" not in job, f"{name} > {job_id}: the suite starts its own clusters"
        assert "PG_TEST_URL" not in workflow.text


def test_nothing_reads_a_database_address_from_ci() -> None:
    here = Path(__file__).relative_to(ROOT).as_posix()
    tracked = subprocess.run(
        ["git", "ls-files", "app", "bench", "scripts", "tests", ".ci", "Makefile"],
        cwd=ROOT, capture_output=True, text=True, timeout=30, check=True,
    ).stdout.split()  # fmt: skip
    readers = [p for p in tracked if p != here and "PG_TEST_URL" in (ROOT / p).read_text()]
    assert readers == []


def test_the_ci_test_job_runs_make_test_which_provides_the_rds_major() -> None:
    runs = run_steps(load("ci.yml"), "test")
    assert any(run.startswith("make test") for run in runs)
    assert _make("-s", "postgres-major").strip() == str(POSTGRES_MAJOR)
    plan = _make("-n", "test")  # what `make test` would run, in order
    provide = plan.index("scripts/dev/postgres.sh")
    assert plan[provide:].split()[1] == str(POSTGRES_MAJOR)
    assert provide < plan.index("pytest")


@pytest.mark.postgres
def test_the_suite_clusters_run_the_rds_major(pg_server: PostgresServer) -> None:
    assert server_major(pg_server.bindir) == POSTGRES_MAJOR
    version_num = int(pg_server.psql("SHOW server_version_num"))
    assert version_num // 10000 == POSTGRES_MAJOR
