"""The steps of the first setup, in order. Each has `done` (read-only: a sentence saying what
exists, or None when work remains), `plan` (what it would do) and `do` (does it, through the
CDK CLI, Docker, the deployer or one AWS write). What a step learns (the repository URI, the
image digest, stack outputs) is kept in `Setup.facts` for the steps after it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from autopipe.aws import Aws, error_code
from infra.config import EnvironmentConfig
from infra.setup import tools

CDK_TOOLKIT_VERSION = "/cdk-bootstrap/hnb659fds/version"  # the default qualifier's record
COMPLETE = ("CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE")
NOT_FOUND = (
    "ParameterNotFound",
    "RepositoryNotFoundException",
    "ImageNotFoundException",
    "ValidationError",
    "ClusterNotFoundException",
)


@dataclass
class Setup:
    config: EnvironmentConfig
    aws: Aws
    account: str
    region: str
    git_sha: str
    context: dict[str, str]  # -c values for the CDK CLI
    url: str  # autopipe.toml's URL for the environment
    facts: dict[str, Any] = field(default_factory=dict)

    @property
    def tag(self) -> str:
        # Its own tag: CI later pushes `<sha>` itself (tags are immutable, and replicated).
        return f"setup-{self.git_sha[:12]}"

    @property
    def registry(self) -> str:
        return f"{self.account}.dkr.ecr.{self.region}.amazonaws.com"

    @property
    def repository_uri(self) -> str:
        return f"{self.registry}/{self.config.names.repository}"

    def cdk_deploy(self, stack: str) -> list[str]:
        context = [arg for k, v in self.context.items() for arg in ("-c", f"{k}={v}")]
        return [
            *tools.cdk(),
            "deploy",
            stack,
            "--exclusively",
            "--require-approval",
            "never",
            *context,
        ]


def _missing(exc: Exception) -> bool:
    return error_code(exc) in NOT_FOUND


def stack_outputs(s: Setup, stack: str) -> dict[str, str] | None:
    """The stack's outputs when it is in a complete state; None when it does not exist."""
    try:
        (found,) = s.aws.client("cloudformation").describe_stacks(StackName=stack)["Stacks"]
    except Exception as exc:
        if _missing(exc):
            return None
        raise
    status = found["StackStatus"]
    if status not in COMPLETE:
        raise tools.SetupError(
            f"stack {stack} is {status}: wait for it, or delete it if it failed to create "
            "(ROLLBACK_COMPLETE), then re-run"
        )
    return {o["OutputKey"]: o["OutputValue"] for o in found.get("Outputs", [])}


@dataclass(frozen=True)
class Step:
    title: str
    done: Callable[[Setup], str | None]
    plan: Callable[[Setup], str]
    do: Callable[[Setup], str]


# 1. The CDK toolkit stack: what every `cdk deploy` needs in the account and region.
def _toolkit_done(s: Setup) -> str | None:
    try:
        version = s.aws.ssm().get_parameter(Name=CDK_TOOLKIT_VERSION)["Parameter"]["Value"]
    except Exception as exc:
        if _missing(exc):
            return None
        raise
    return f"CDK toolkit version {version}"


def _toolkit_command(s: Setup) -> list[str]:
    return [*tools.cdk(), "bootstrap", f"aws://{s.account}/{s.region}"]


def _toolkit_do(s: Setup) -> str:
    tools.run(_toolkit_command(s))
    return "CDK toolkit deployed"


# 2 and 5. The environment's two stacks.
def _stack_step(title: str, stack: Callable[[EnvironmentConfig], str]) -> Step:
    def done(s: Setup) -> str | None:
        outputs = stack_outputs(s, stack(s.config))
        if outputs is None:
            return None
        s.facts[stack(s.config)] = outputs
        return f"stack {stack(s.config)} is deployed"

    def do(s: Setup) -> str:
        tools.run(s.cdk_deploy(stack(s.config)))
        s.facts[stack(s.config)] = stack_outputs(s, stack(s.config)) or {}
        return f"stack {stack(s.config)} deployed"

    return Step(title, done, lambda s: "run " + " ".join(s.cdk_deploy(stack(s.config))), do)


# 3. The first image, built here and pushed to the environment's repository.
def _image_done(s: Setup) -> str | None:
    try:
        found = s.aws.ecr().describe_images(
            repositoryName=s.config.names.repository, imageIds=[{"imageTag": s.tag}]
        )["imageDetails"]
    except Exception as exc:
        if _missing(exc):
            return None
        raise
    s.facts["digest"] = found[0]["imageDigest"]
    return f"{s.repository_uri}:{s.tag} is {s.facts['digest']}"


def _image_plan(s: Setup) -> str:
    return f"build the image, push it as {s.repository_uri}:{s.tag}"


def _image_do(s: Setup) -> str:
    image = f"{s.repository_uri}:{s.tag}"
    tools.run(
        [
            "docker",
            "build",
            "--build-arg",
            f"GIT_SHA={s.git_sha}",
            "--build-arg",
            f"IMAGE_TAG={s.tag}",
            "-t",
            image,
            ".",
        ]
    )
    token = s.aws.ecr().get_authorization_token()["authorizationData"][0]["authorizationToken"]
    import base64  # noqa: PLC0415 - only here

    password = base64.b64decode(token).decode().split(":", 1)[1]
    tools.run(
        ["docker", "login", "--username", "AWS", "--password-stdin", s.registry], stdin=password
    )
    tools.run(["docker", "push", image])
    if _image_done(s) is None:
        raise tools.SetupError(f"{image} was pushed but the repository does not list it")
    return f"pushed {image} ({s.facts['digest']})"


# 4. The release record the service stack's task definition reads.
def _release_names(s: Setup) -> dict[str, str]:
    prefix = s.config.release_parameter_prefix
    return {key: f"{prefix}/{key}" for key in ("image", "image-tag", "git-sha")}


def _release_done(s: Setup) -> str | None:
    names = _release_names(s)
    found = s.aws.ssm().get_parameters(Names=list(names.values()))["Parameters"]
    present = {p["Name"]: p["Value"] for p in found}
    if set(present) == set(names.values()):  # never overwrite a later release
        return f"{names['image']} = {present[names['image']]}"
    s.facts["release_missing"] = [k for k, n in names.items() if n not in present]
    return None


def _release_values(s: Setup) -> dict[str, str]:
    digest = s.facts.get("digest", "<digest of step 3>")
    return {"image": f"{s.repository_uri}@{digest}", "image-tag": s.tag, "git-sha": s.git_sha}


def _release_do(s: Setup) -> str:
    names, values = _release_names(s), _release_values(s)
    for key in s.facts.get("release_missing", list(names)):
        s.aws.ssm().put_parameter(Name=names[key], Value=values[key], Type="String")
    return f"recorded {values['image']}"


# 6. The first deploy, by the deployer: lock, migration, rollout, smoke test.
def _deploy_done(s: Setup) -> str | None:
    outputs = s.facts.get(s.config.stack_name) or {}
    n = s.config.names
    try:
        found = s.aws.ecs().describe_services(cluster=n.cluster, services=[n.service])
    except Exception as exc:
        if _missing(exc):
            return None
        raise
    active = [x for x in found["services"] if x.get("status") == "ACTIVE"]
    running = active[0].get("taskDefinition", "") if active else ""
    if running and running != outputs.get("StackTaskDefinitionArn"):
        return f"the service runs {running.rsplit('/', 1)[-1]}, deployed by autopipe"
    return None


def _deploy_command(s: Setup) -> list[str]:
    outputs = s.facts.get(s.config.stack_name) or {}
    return [
        "autopipe",
        "deploy",
        "--env",
        s.config.name,
        "--region",
        s.region,
        "--digest",
        s.facts.get("digest", "<digest of step 3>"),
        "--git-sha",
        s.git_sha,
        "--url",
        outputs.get("Url", s.url),
        "--reason",
        "first deploy (setup.sh)",
    ]


def _deploy_do(s: Setup) -> str:
    tools.run(_deploy_command(s))
    return "the service runs the first image"


STEPS = (
    Step(
        "CDK toolkit", _toolkit_done, lambda s: "run " + " ".join(_toolkit_command(s)), _toolkit_do
    ),
    _stack_step("bootstrap stack", lambda c: c.bootstrap_stack_name),
    Step("first image", _image_done, _image_plan, _image_do),
    Step(
        "release record",
        _release_done,
        lambda s: f"write {', '.join(_release_names(s).values())}",
        _release_do,
    ),
    _stack_step("service stack", lambda c: c.stack_name),
    Step("first deploy", _deploy_done, lambda s: "run " + " ".join(_deploy_command(s)), _deploy_do),
)
