"""`--dry-run` on every command that changes anything makes no write call: counted on every
AWS call autopipe makes, and refused by the read-only client factory anyway."""

from __future__ import annotations

import pytest

from autopipe.aws import Aws
from autopipe.errors import DryRunViolation
from tests.support.moto import CallLog, World


def deployed(world: World, *tags: str) -> None:
    for tag in tags:
        assert world.cli("deploy", "--tag", tag).exit_code == 0


@pytest.mark.parametrize(
    "args",
    [
        ("deploy", "--tag", "v2", "--dry-run"),
        ("rollback", "--dry-run"),
        ("rollback", "--to", "1", "--dry-run"),
        ("lock", "acquire", "--dry-run"),
        ("lock", "release", "--dry-run"),
        ("notify", "--result", "rolled_back", "--dry-run"),
    ],
)
def test_dry_run_makes_no_write_call(world: World, args: tuple[str, ...]) -> None:
    deployed(world, "v1", "v2")
    revisions, payloads = world.revisions(), len(world.slack.payloads)
    with CallLog() as calls:
        result = world.cli(*args)
    assert result.exit_code == 0, result.output
    assert calls.writes == []
    assert world.revisions() == revisions
    assert len(world.slack.payloads) == payloads  # not even a webhook POST


def test_deploy_dry_run_shows_the_plan_and_the_diff(world: World, calls: CallLog) -> None:
    deployed(world, "v1")
    seen = len(calls.calls)
    result = world.cli("deploy", "--tag", "v2", "--dry-run")
    assert result.exit_code == 0
    assert calls.calls[seen:]
    assert not [c for c in calls.writes if c in calls.calls[seen:]]
    out = result.stdout
    assert "lock: free" in out
    assert "OK   image architecture" in out
    assert '+          "value": "v2"' in out  # the IMAGE_TAG change, as a diff
    assert "would run the migration task: python -m app.migrate" in out
    assert "dry run: nothing was changed" in out
    assert world.revision() == "auto-pipe-task:2"


def test_dry_run_still_fails_verification(world: World, calls: CallLog) -> None:
    result = world.cli("deploy", "--tag", "vulnerable", "--dry-run")
    assert result.exit_code == 3
    assert calls.writes == []


def test_the_read_only_factory_refuses_writes(world: World) -> None:
    aws = Aws(region=world.settings.region, endpoint_url=world.emulator.url, read_only=True)
    assert aws.ecs().list_clusters()["clusterArns"]
    with pytest.raises(DryRunViolation, match="DeleteCluster"):
        aws.ecs().delete_cluster(cluster=world.settings.cluster)
    assert world.aws.ecs().describe_clusters(clusters=[world.settings.cluster])["clusters"]


def test_local_dry_run_touches_neither_aws_nor_docker(world: World, calls: CallLog) -> None:
    result = world.cli("local", "--dry-run", "--image", "auto-pipe-api:local", "--port", "18999",
                       "--set-env", "DATABASE_URL=sqlite:////tmp/app.db")  # fmt: skip
    assert result.exit_code == 2  # the template's secrets need values: a secrets file
    assert "API_KEYS" in result.stderr
    assert calls.calls == []
