"""render, diff, status, wait, rollback [--to]."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from autopipe import taskdef
from autopipe.errors import Differences, NotStable
from tests.support.moto import CallLog, World


def test_render_prints_register_input_with_the_image_by_digest(
    world: World, tmp_path: Path, calls: CallLog
) -> None:
    result = world.cli("render", "--tag", "v2", "--git-sha", "abc")
    assert result.exit_code == 0, result.output
    rendered = json.loads(result.stdout)
    taskdef.validate(rendered)
    image = rendered["containerDefinitions"][0]["image"]
    registry = "123456789012.dkr.ecr.us-east-1.amazonaws.com"
    assert image == f"{registry}/auto-pipe-api@{world.seeded.digests['v2']}"
    out = tmp_path / "taskdef.json"
    assert world.cli("render", "--tag", "v2", "--git-sha", "abc", "--out", str(out)).exit_code == 0
    assert json.loads(out.read_text()) == rendered
    assert calls.writes == []
    # What the official GitHub action / AWS CLI would send: registers as is.
    arn = world.aws.ecs().register_task_definition(**rendered)["taskDefinition"][
        "taskDefinitionArn"
    ]
    assert arn.endswith(":2")


def test_diff(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    assert world.cli("deploy", "--tag", "v1").exit_code == 0
    same = world.cli("diff")
    assert "no differences: auto-pipe-task:2 matches" in same.stdout
    assert world.cli("diff", "--exit-code").exit_code == 0
    monkeypatch.setenv("AUTOPIPE_ENVIRONMENT", json.dumps({"LOG_LEVEL": "DEBUG"}))
    changed = world.cli("diff", "--tag", "v2", "--exit-code", "--output", "json")
    assert changed.exit_code == Differences.exit_code
    text = json.loads(changed.stdout)["diff"]
    assert '-          "value": "WARNING"' in text
    assert '+          "value": "DEBUG"' in text
    assert world.seeded.digests["v2"] in text


def test_status_and_wait(world: World) -> None:
    assert world.cli("deploy", "--tag", "v1").exit_code == 0
    status = world.cli("status")
    assert "revision  auto-pipe-task:2  image tag v1" in status.stdout
    assert "(steady)" in status.stdout
    assert "alarm     auto-pipe-rehearsal-5xx: OK" in status.stdout
    waited = world.cli("wait", "--output", "json")
    assert waited.exit_code == 0
    assert json.loads(waited.stdout)["state"] == "completed"


def test_wait_times_out_on_a_stuck_rollout(world: World) -> None:
    world.emulator.policy.outcomes["v1"] = "hang"
    result = world.cli("deploy", "--tag", "v1", "--timeout", "0.2")
    assert result.exit_code == 6  # rolled back to the bootstrap revision
    world.emulator.policy.outcomes["bootstrap"] = "hang"
    world.aws.ecs().update_service(
        cluster=world.settings.cluster,
        service=world.settings.service,
        taskDefinition="auto-pipe-task:2",
    )
    waited = world.cli("wait", "--timeout", "0.3")
    assert waited.exit_code == NotStable.exit_code
    assert "timeout" in waited.stderr


def recorded(world: World) -> str:
    found = world.aws.ssm().get_parameter(Name=f"{world.settings.release_prefix}/taskdef")
    return str(found["Parameter"]["Value"]).rsplit("/", 1)[-1]


def test_rollback_goes_to_proven_releases_only(world: World) -> None:
    for tag in ("v1", "v2", "v3"):
        assert world.cli("deploy", "--tag", tag).exit_code == 0
    assert (world.revision(), recorded(world)) == ("auto-pipe-task:4", "auto-pipe-task:4")
    # On the recorded release: the default is the release proven before it (SSM history).
    back = world.cli("rollback", "--output", "json")
    assert back.exit_code == 0, back.output
    assert json.loads(back.stdout)["to"] == "auto-pipe-task:3"
    assert (world.revision(), recorded(world)) == ("auto-pipe-task:3", "auto-pipe-task:3")
    assert world.cli("rollback", "--to", "2").exit_code == 0
    assert (world.revision(), recorded(world)) == ("auto-pipe-task:2", "auto-pipe-task:2")
    again = world.cli("rollback", "--to", "auto-pipe-task:2")
    assert "already runs auto-pipe-task:2" in again.stdout
    assert world.cli("rollback", "--to", "99").exit_code == 2
    # Not waited for: the record keeps naming the last proven release...
    assert world.cli("rollback", "--to", "1", "--no-wait").exit_code == 0
    assert (world.revision(), recorded(world)) == ("auto-pipe-task:1", "auto-pipe-task:2")
    # ...so the default goes back to it, not to a lower revision number.
    home = world.cli("rollback", "--output", "json")
    assert home.exit_code == 0, home.output
    assert json.loads(home.stdout)["to"] == "auto-pipe-task:2"
    assert world.revision() == "auto-pipe-task:2"
    assert world.slack.payloads[-1]["text"].startswith(":white_check_mark:")


def test_rollback_skips_a_revision_marked_failed(world: World) -> None:
    for tag in ("v1", "v2"):
        assert world.cli("deploy", "--tag", tag).exit_code == 0
    world.aws.ecs().tag_resource(
        resourceArn=world.aws.ecs().describe_task_definition(taskDefinition="auto-pipe-task:2")[
            "taskDefinition"
        ]["taskDefinitionArn"],
        tags=[{"key": "autopipe:failed", "value": "smoke test failed"}],
    )
    nothing = world.cli("rollback")
    assert nothing.exit_code == 2
    assert "no earlier one is recorded" in nothing.stderr
    assert world.revision() == "auto-pipe-task:3"


def test_rollback_with_no_record_names_the_fix(world: World) -> None:
    result = world.cli("rollback")
    assert result.exit_code == 2
    assert "no proven release is recorded" in result.stderr
    assert "--to REVISION" in result.stderr
