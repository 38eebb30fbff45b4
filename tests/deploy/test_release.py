"""The release record: after every successful deploy and every completed rollback, the SSM
parameters the infra stack reads (image, image-tag, git-sha) and the revision autopipe rolls
back to (taskdef) name what serves; `--dry-run` writes none."""

from __future__ import annotations

import json

import pytest

from autopipe.config import Settings, load_settings
from autopipe.errors import ConfigError, RolledBack
from tests.support.moto import CONFIG, CallLog, World

SHA1 = "1111111111111111111111111111111111111111"
SHA2 = "2222222222222222222222222222222222222222"
PREFIX = "/auto-pipe/rehearsal/release"


def deploy(world: World, tag: str, sha: str, *args: str) -> int:
    result = world.cli("deploy", "--tag", tag, "--git-sha", sha, "--no-notify", *args)
    return result.exit_code


def recorded(world: World, prefix: str = PREFIX) -> dict[str, str]:
    ssm = world.aws.client("ssm")
    found = ssm.get_parameters_by_path(Path=prefix)["Parameters"]
    assert all(p["Type"] == "String" for p in found)
    return {p["Name"].removeprefix(prefix + "/"): p["Value"] for p in found}


def taskdef_arn(world: World) -> str:
    return str(world.service()["taskDefinition"])


def image_of(world: World, revision: str) -> str:
    td = world.aws.ecs().describe_task_definition(taskDefinition=revision)["taskDefinition"]
    return td["containerDefinitions"][0]["image"]


def test_a_deploy_records_the_new_digest_tag_and_sha(world: World, calls: CallLog) -> None:
    assert deploy(world, "v1", SHA1) == 0
    assert deploy(world, "v2", SHA2) == 0  # overwrites
    image = image_of(world, world.revision())
    assert image.endswith(f"@{world.seeded.digests['v2']}")
    assert recorded(world) == {
        "image": image, "image-tag": "v2", "git-sha": SHA2, "taskdef": taskdef_arn(world),
    }  # fmt: skip
    puts = [op for service, op in calls.writes if service == "ssm"]
    assert puts == ["PutParameter"] * 8


def test_an_automatic_rollback_records_the_previous_revision(world: World) -> None:
    assert deploy(world, "v1", SHA1) == 0
    good = world.revision()
    world.emulator.policy.outcomes["v2"] = "fail"
    assert deploy(world, "v2", SHA2) == RolledBack.exit_code
    assert world.revision() == good
    assert recorded(world) == {
        "image": image_of(world, good), "image-tag": "v1", "git-sha": SHA1,
        "taskdef": taskdef_arn(world),
    }  # fmt: skip


def test_a_smoke_failure_rollback_records_the_previous_revision(world: World) -> None:
    assert deploy(world, "v1", SHA1) == 0
    good = world.revision()
    world.stand_in.broken.add("v2")
    assert deploy(world, "v2", SHA2) == RolledBack.exit_code
    assert recorded(world)["image"] == image_of(world, good)
    assert recorded(world)["image-tag"] == "v1"


def test_autopipe_rollback_records_the_target(world: World) -> None:
    assert deploy(world, "v1", SHA1) == 0
    first = world.revision()
    assert deploy(world, "v2", SHA2) == 0
    result = world.cli("rollback", "--no-notify")
    assert result.exit_code == 0, result.output
    assert world.revision() == first
    assert recorded(world) == {
        "image": image_of(world, first), "image-tag": "v1", "git-sha": SHA1,
        "taskdef": taskdef_arn(world),
    }  # fmt: skip


@pytest.mark.parametrize(
    "args", [("deploy", "--tag", "v2", "--dry-run"), ("rollback", "--dry-run")]
)
def test_dry_run_records_nothing(world: World, args: tuple[str, ...]) -> None:
    assert deploy(world, "v1", SHA1) == 0
    assert deploy(world, "v2", SHA2) == 0
    before = recorded(world)
    with CallLog() as calls:
        result = world.cli(*args)
    assert result.exit_code == 0, result.output
    assert [c for c in calls.writes if c[0] == "ssm"] == []
    assert ("ssm", "GetParameters") in calls.calls  # it does read the record: the rollback target
    assert recorded(world) == before


def test_dry_run_of_a_first_deploy_leaves_no_parameter(world: World) -> None:
    result = world.cli("deploy", "--tag", "v1", "--dry-run")
    assert result.exit_code == 0, result.output
    assert "would record the release in /auto-pipe/rehearsal/release" in result.stdout
    assert recorded(world) == {}


def test_a_failed_write_warns_and_the_deploy_still_succeeds(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A prefix the emulator refuses (a reserved namespace) stands in for a denied PutParameter.
    monkeypatch.setenv("AUTOPIPE_RELEASE_PARAMETER_PREFIX", "/aws/reserved/release")
    result = world.cli("deploy", "--tag", "v1", "--git-sha", SHA1, "--output", "json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["result"] == "success"
    messages = [step["message"] for step in doc["timeline"]]
    assert any(m.startswith("warning: could not record the release in SSM") for m in messages)


def test_the_prefix_is_a_setting(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTOPIPE_RELEASE_PARAMETER_PREFIX", "/elsewhere/{env}/shipped")
    assert deploy(world, "v1", SHA1) == 0
    assert recorded(world, "/elsewhere/rehearsal/shipped")["image-tag"] == "v1"
    assert recorded(world) == {}


def test_the_prefix_default_matches_the_infra_stack() -> None:
    assert Settings(project="auto-pipe", env="qa").release_prefix == "/auto-pipe/qa/release"
    staging = load_settings(config=CONFIG, env="staging", environ={})
    assert staging.release_prefix == "/auto-pipe/staging/release"
    with pytest.raises(ConfigError, match="release_parameter_prefix"):
        Settings().with_overrides(release_parameter_prefix="no-leading-slash/")
