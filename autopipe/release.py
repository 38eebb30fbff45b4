"""The release record: three SSM parameters under `release_parameter_prefix` (`image`,
`image-tag`, `git-sha`) naming the revision that serves now. The CDK stack (infra/) reads them at
every infrastructure deploy, so an infra deploy registers the running image instead of reverting
it. Written after every successful deploy and every completed rollback; a failed write is a
warning (the deploy itself succeeded), never an error — but it leaves the record stale."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any

from autopipe import ecs, taskdef
from autopipe.aws import Aws
from autopipe.config import Settings
from autopipe.output import Reporter
from autopipe.persist import Persistence

# The same names as infra/constructs/release.py; `taskdef` (the revision's ARN) is autopipe's
# own: the last PROVEN revision, what every rollback goes back to.
IMAGE, IMAGE_TAG, GIT_SHA, TASKDEF = "image", "image-tag", "git-sha", "taskdef"


@dataclass(frozen=True)
class Release:
    image: str
    image_tag: str
    git_sha: str

    def values(self) -> dict[str, str]:
        return {IMAGE: self.image, IMAGE_TAG: self.image_tag, GIT_SHA: self.git_sha}


def parameter_names(prefix: str) -> dict[str, str]:
    return {key: f"{prefix}/{key}" for key in (IMAGE, IMAGE_TAG, GIT_SHA, TASKDEF)}


@dataclass(frozen=True)
class Recorded:
    """What the record says serves: the last revision a deploy or rollback proved."""

    release: Release
    taskdef_arn: str  # "" in a record written before the revision was recorded


def read(aws: Aws, settings: Settings) -> Recorded | None:
    """The release record, or None when there is none yet (before the first deploy)."""
    names = parameter_names(settings.release_prefix)
    found = aws.ssm().get_parameters(Names=list(names.values()))
    values = {p["Name"]: str(p["Value"]) for p in found.get("Parameters", [])}
    if names[IMAGE] not in values:
        return None
    image, tag, sha = (values.get(names[k], "unknown") for k in (IMAGE, IMAGE_TAG, GIT_SHA))
    return Recorded(Release(image, tag, sha), values.get(names[TASKDEF], ""))


def of_taskdef(td: dict[str, Any], container: str) -> Release:
    """The image (by digest, as registered), IMAGE_TAG and GIT_SHA of a task definition."""
    definition = taskdef.container_of(td, container)
    env = taskdef.env_of(definition)
    return Release(
        image=str(definition["image"]),
        image_tag=env.get("IMAGE_TAG", "unknown"),
        git_sha=env.get("GIT_SHA", "unknown"),
    )


def _put(aws: Aws, name: str, value: str) -> None:
    aws.ssm().put_parameter(Name=name, Value=value, Type="String", Overwrite=True)


def record(
    aws: Aws,
    settings: Settings,
    reporter: Reporter,
    taskdef_arn: str,
    *,
    persist: Persistence | None = None,
) -> bool:
    """Write the release parameters for the revision `taskdef_arn`. Never raises: a failure is
    reported as a warning (the release record and the service now disagree) and returns False."""
    prefix = settings.release_prefix
    try:
        release = of_taskdef(ecs.describe_taskdef(aws, taskdef_arn), settings.container)
        names = parameter_names(prefix)
        persist = persist or Persistence(reporter)
        for key, value in {**release.values(), TASKDEF: taskdef_arn}.items():
            persist.call(f"record {key}", partial(_put, aws, names[key], value), within=30)
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
