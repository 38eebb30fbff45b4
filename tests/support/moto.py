"""The deployer's test world: the emulator (moto's server in-process + rollout engine), the seed's
resources, a stand-in for the service's public URL and a Slack receiver, all on 127.0.0.1."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from typer.testing import CliRunner, Result

from autopipe import aws as aws_module
from autopipe.aws import Aws, is_read_only
from autopipe.cli import app
from autopipe.config import Settings, load_settings
from ecs_model.emulator import Emulator
from ecs_model.seed import ImageSpec, Seeded, seed
from ecs_model.targets import SlackReceiver, StandIn

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "autopipe.toml"
# Test speed: every wait is configurable, so polls are ~0.05 s instead of 1 s.
FAST = {
    "poll_interval": "0.03",
    "smoke_interval": "0.02",
    "smoke_passes": "2",
    "smoke_timeout": "0.5",
    "rollout_timeout": "5",
    "rollback_timeout": "5",
    "migration_timeout": "5",
}
IMAGES = [
    ImageSpec("v1"),
    ImageSpec("v2"),
    ImageSpec("v3"),
    ImageSpec("arm", ("arm64",)),
    ImageSpec("multi", ("amd64", "arm64")),  # scanned per platform, as ECR scans an index
    ImageSpec("vulnerable", findings={"HIGH": 1, "LOW": 3}),
    ImageSpec("unscanned", findings=None),
]


@dataclass
class World:
    emulator: Emulator
    settings: Settings
    aws: Aws
    seeded: Seeded
    stand_in: StandIn
    slack: SlackReceiver
    env: dict[str, str]
    runner: CliRunner = field(default_factory=CliRunner)

    def cli(self, *args: str) -> Result:
        return self.runner.invoke(app, list(args), catch_exceptions=False)

    def service(self) -> dict[str, Any]:
        found = self.aws.ecs().describe_services(
            cluster=self.settings.cluster, services=[self.settings.service]
        )
        return dict(found["services"][0])

    def revision(self) -> str:
        return str(self.service()["taskDefinition"]).rsplit("/", 1)[-1]

    def revisions(self) -> list[str]:
        arns = self.aws.ecs().list_task_definitions(familyPrefix=self.settings.family)
        return [a.rsplit("/", 1)[-1] for a in arns["taskDefinitionArns"]]

    def set_alarm(self, state: Literal["OK", "ALARM", "INSUFFICIENT_DATA"]) -> None:
        for name in self.settings.alarms:
            self.aws.cloudwatch().set_alarm_state(AlarmName=name, StateValue=state, StateReason="t")


def world_env(emulator: Emulator, stand_in: StandIn, slack: SlackReceiver) -> dict[str, str]:
    """Everything the CLI reads from the environment in a test: fake credentials, the emulator,
    the rehearsal environment with fast polls, the stand-in URL, the Slack receiver."""
    return {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_ENDPOINT_URL": emulator.url,
        "AUTOPIPE_CONFIG": str(CONFIG),
        "AUTOPIPE_ENV": "rehearsal",
        "AUTOPIPE_URL": stand_in.url,
        "SLACK_WEBHOOK_URL": slack.url,
        **{f"AUTOPIPE_{k.upper()}": v for k, v in FAST.items()},
    }


CLEARED = (
    "AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_DEFAULT_PROFILE", "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE", "GITHUB_ACTIONS", "GITHUB_STEP_SUMMARY", "GITHUB_OUTPUT",
    "GITHUB_RUN_ID", "GITHUB_REPOSITORY", "GITHUB_SHA",
)  # fmt: skip


@contextmanager
def make_world(emulator: Emulator) -> Iterator[World]:
    emulator.reset()
    saved = dict(os.environ)
    names = load_settings(config=CONFIG, env="rehearsal", environ={})
    aws = Aws(region=names.region, endpoint_url=emulator.url)
    slack = SlackReceiver()
    stand_in = StandIn(aws, emulator, names, broken=set())
    try:
        for key in [*CLEARED, *(k for k in os.environ if k.startswith("AUTOPIPE_"))]:
            os.environ.pop(key, None)
        env = world_env(emulator, stand_in, slack)
        os.environ.update(env)
        settings = load_settings()
        seeded = seed(aws, emulator, settings, IMAGES)
        yield World(emulator, settings, aws, seeded, stand_in, slack, env)
    finally:
        os.environ.clear()
        os.environ.update(saved)
        slack.close()
        stand_in.close()


class CallLog:
    """Every AWS operation made through autopipe's client factory."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    def hook(self, service: str, operation: str) -> None:
        self.calls.append((service, operation))

    @property
    def writes(self) -> list[tuple[str, str]]:
        return [(s, op) for s, op in self.calls if not is_read_only(op)]

    def __enter__(self) -> CallLog:
        aws_module.call_hooks.append(self.hook)
        return self

    def __exit__(self, *exc: object) -> None:
        aws_module.call_hooks.remove(self.hook)
