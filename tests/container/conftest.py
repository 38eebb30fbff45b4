"""Fixtures for the container tests: a real Docker engine, the base image, the service image."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

from testbed import docker as d
from testbed.pg import PostgresServer
from tests.conftest import migrate, unavailable

TEST_IMAGE = "auto-pipe-api:test"
TEST_SHA = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture(scope="session")
def engine() -> None:
    try:
        d.ensure_engine()
    except d.DockerUnavailable as exc:
        unavailable("the container tests", exc)


@pytest.fixture(scope="session")
def base_image(engine: None) -> str:
    """PYTHON_IMAGE if given, else the offline stand-in (`make base-image`)."""
    image = os.environ.get("PYTHON_IMAGE", d.LOCAL_BASE)
    if not d.image_exists(image):
        unavailable(
            "the container tests",
            f"base image {image} is not available locally (run `make base-image`)",
        )
    return image


@pytest.fixture(scope="session")
def app_image(base_image: str) -> str:
    d.build(
        TEST_IMAGE,
        d.ROOT,
        PYTHON_IMAGE=base_image,
        GIT_SHA=TEST_SHA,
        IMAGE_TAG="test",
        VERSION="0.1.0",
    )
    return TEST_IMAGE


@pytest.fixture
def container_name() -> Iterator[str]:
    name = f"autopipe-test-{uuid.uuid4().hex[:8]}"
    yield name
    d.remove(name)


@pytest.fixture
def container_db(pg_server: PostgresServer) -> str:
    """A fresh, migrated database; the URL as the container (on the host network) sees it."""
    url = pg_server.create_database(f"c_{uuid.uuid4().hex[:8]}")
    migrate(url)
    return url.replace("+asyncpg", "")
