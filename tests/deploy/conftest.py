"""Fixtures for the deployer's tests: one in-process emulator per run, a fresh seeded world per
test (reset, not restarted: ~0.5 s), Docker only where a test needs a real container."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ecs_model.emulator import Emulator
from tests.conftest import unavailable
from tests.support import docker as d
from tests.support.moto import CallLog, World, make_world

# The container tests build this image with these arguments; the same build is a cache hit.
TEST_IMAGE = "auto-pipe-api:test"
TEST_SHA = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture(scope="package")
def emulator() -> Iterator[Emulator]:
    """Package scope: moto's backends are process-wide, and the engine's patches must not
    outlive this package's tests."""
    with Emulator(step=0.08) as emulator:
        yield emulator


@pytest.fixture
def world(emulator: Emulator) -> Iterator[World]:
    with make_world(emulator) as w:
        yield w


@pytest.fixture
def calls() -> Iterator[CallLog]:
    with CallLog() as log:
        yield log


@pytest.fixture(scope="session")
def service_image() -> str:
    """The service image on a running Docker engine; in CI a missing engine is a failure."""
    try:
        d.ensure_engine()
        if not d.image_exists(d.LOCAL_BASE):
            raise d.DockerUnavailable(f"no base image {d.LOCAL_BASE} (make base-image)")
    except d.DockerUnavailable as exc:
        unavailable("the Docker-backed deployer tests", exc)
    d.build(TEST_IMAGE, d.ROOT, PYTHON_IMAGE=d.LOCAL_BASE, GIT_SHA=TEST_SHA, IMAGE_TAG="test",
            VERSION="0.1.0")  # fmt: skip
    return TEST_IMAGE


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """The fault matrix as a table, when its cells ran (`make fault-matrix`, `make test`)."""
    from tests.deploy import fault_matrix as fm  # noqa: PLC0415
    from tests.deploy.test_fault_matrix import RESULTS  # noqa: PLC0415

    if not RESULTS:
        return
    width = max(len(f) for f in fm.FAULTS)
    write = terminalreporter.write_line
    write("")
    write("fault matrix: phase x fault (ok = every check held; n/a = cannot happen there)")
    write(" " * (width + 1) + " ".join(f"{p[:8]:>8}" for p in fm.PHASES))
    for fault in fm.FAULTS:
        cells = []
        for phase in fm.PHASES:
            found = RESULTS.get((phase, fault))
            cells.append(
                "-"
                if found is None
                else found[:3]
                if found in ("ok",)
                else "n/a"
                if found.startswith("n/a")
                else "FAIL"
            )
        write(f"{fault[:width]:<{width}} " + " ".join(f"{c:>8}" for c in cells))
    counted = [v for v in RESULTS.values() if not v.startswith("n/a")]
    failing = [k for k, v in RESULTS.items() if v not in ("ok",) and not v.startswith("n/a")]
    for phase, fault in failing:
        write(f"  {phase} x {fault}: {RESULTS[(phase, fault)]}")
    write(
        f"{len(counted) - len(failing)} of {len(counted)} cells green, "
        f"{len(RESULTS) - len(counted)} n/a"
        + (f"; failing: {', '.join(f'{p}x{f}' for p, f in failing)}" if failing else "")
    )
