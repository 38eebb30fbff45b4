"""The release record: three SSM parameters under `release_parameter_prefix` (`image`,
`image-tag`, `git-sha`) naming the revision that serves now. The CDK stack (infra/) reads them at
every infrastructure deploy, so an infra deploy registers the running image instead of reverting
it. Written after every successful deploy and every completed rollback; a failed write is a
warning (the deploy itself succeeded), never an error — but it leaves the record stale."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from autopipe import ecs, taskdef
from autopipe.aws import Aws
from autopipe.config import Settings
from autopipe.output import Reporter

# The same names as infra/constructs/release.py.
IMAGE, IMAGE_TAG, GIT_SHA = "image", "image-tag", "git-sha"


@dataclass(frozen=True)
class Release:
    image: str
    image_tag: str
    git_sha: str

    def values(self) -> dict[str, str]:
        return {IMAGE: self.image, IMAGE_TAG: self.image_tag, GIT_SHA: self.git_sha}


def parameter_names(prefix: str) -> dict[str, str]:
    return {key: f"{prefix}/{key}" for key in (IMAGE, IMAGE_TAG, GIT_SHA)}


def of_taskdef(td: dict[str, Any], container: str) -> Release:
    """The image (by digest, as registered), IMAGE_TAG and GIT_SHA of a task definition."""
    definition = taskdef.container_of(td, container)
    env = taskdef.env_of(definition)
    return Release(
        image=str(definition["image"]),
        image_tag=env.get("IMAGE_TAG", "unknown"),
        git_sha=env.get("GIT_SHA", "unknown"),
    )


def record(aws: Aws, settings: Settings, reporter: Reporter, taskdef_arn: str) -> bool:
    """Write the release parameters for the revision `taskdef_arn`. Never raises: a failure is
    reported as a warning (the release record and the service now disagree) and returns False."""
    prefix = settings.release_prefix
    try:
        release = of_taskdef(ecs.describe_taskdef(aws, taskdef_arn), settings.container)
        names = parameter_names(prefix)
        for key, value in release.values().items():
            aws.ssm().put_parameter(Name=names[key], Value=value, Type="String", Overwrite=True)
    except Exception as exc:  # a successful deploy (or rollback) must stay a success
        reporter.warn(
            f"could not record the release in SSM {prefix}/* ({type(exc).__name__}: {exc}). "
            f"The service runs {ecs.short(taskdef_arn)} but the next infrastructure deploy "
            "may register the image recorded before it: fix the parameters (or re-run the "
            "deploy) before deploying infra/"
        )
        return False
    reporter.step(
        f"release recorded in {prefix}: {release.image_tag} ({release.git_sha[:12]}) "
        f"{release.image.rsplit('@', 1)[-1][:19]}"
    )
    return True
