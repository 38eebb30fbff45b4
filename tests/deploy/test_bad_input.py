"""Bad input on the command line, in the environment or in the config: exit 2 and one line
naming the problem, before any write to AWS."""

from __future__ import annotations

from pathlib import Path

import pytest

from autopipe import __version__
from tests.support.moto import CallLog, World


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("error:")]


def test_version(world: World) -> None:
    result = world.cli("--version")
    assert result.exit_code == 0
    assert result.stdout == f"autopipe {__version__}\n"


def test_a_missing_config_file(world: World, tmp_path: Path) -> None:
    missing = tmp_path / "autopipe.toml"
    result = world.cli("render", "--tag", "v1", "--config", str(missing))
    assert result.exit_code == 2
    assert error_lines(result.stderr) == [f"error: config file not found: {missing}"]


@pytest.mark.parametrize(
    ("args", "line"),
    [
        ((), "error: give the image: --tag TAG or --digest sha256:..."),
        (("--digest", "latest"), "error: --digest must look like sha256:<hex>, got 'latest'"),
    ],
    ids=["no-image", "bad-digest"],
)
def test_the_image_must_be_named_properly(
    world: World, calls: CallLog, args: tuple[str, ...], line: str
) -> None:
    result = world.cli("render", *args)
    assert result.exit_code == 2
    assert error_lines(result.stderr) == [line]
    assert calls.writes == []


@pytest.mark.parametrize(
    ("setting", "problem"),
    [
        (("SCAN_MISSING", "maybe"), "scan_missing must be 'fail', 'warn' or 'skip'"),
        (("POLL_INTERVAL", "0"), "poll_interval must be > 0 and smoke_interval >= 0"),
        (("LOCK_LEASE", "1"), "lock_ttl must be > 0 and lock_lease >= 3 (seconds)"),
        (("DESIRED_COUNT", "-1"), "desired_count must be >= 0"),
    ],
)
def test_a_bad_setting_from_the_environment_stops_a_deploy(
    world: World,
    calls: CallLog,
    monkeypatch: pytest.MonkeyPatch,
    setting: tuple[str, str],
    problem: str,
) -> None:
    before = world.revisions()
    seen = len(calls.calls)
    name, value = setting
    monkeypatch.setenv(f"AUTOPIPE_{name}", value)
    result = world.cli("deploy", "--tag", "v1")
    assert result.exit_code == 2
    [line] = error_lines(result.stderr)
    assert line.startswith("error: ")
    assert problem in line
    assert calls.calls[seen:] == []  # refused before AWS was asked anything
    assert world.revisions() == before
