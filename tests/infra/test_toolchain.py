"""The CDK toolchain and the checkers are here (conftest.py leaves the other infra tests out
when they are not; under CI=true their absence is an error)."""

from __future__ import annotations

import pytest

from tests.infra.conftest import IN_CI, missing


def test_the_infra_toolchain_is_installed() -> None:
    if missing and not IN_CI:
        pytest.skip(f"not installed: {', '.join(missing)} (uv sync)")
    assert missing == []
