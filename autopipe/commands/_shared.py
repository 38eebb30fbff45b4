"""What several commands do the same way: pick the image, render the task definition."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from autopipe import ecs, images, resolve, taskdef
from autopipe.aws import Aws
from autopipe.config import Settings
from autopipe.images import ImageRef


@dataclass(frozen=True)
class ImageOptions:
    tag: str | None = None
    digest: str | None = None
    git_sha: str | None = None

    @property
    def given(self) -> bool:
        return bool(self.tag or self.digest)

    def sha(self) -> str:
        return self.git_sha or os.environ.get("GITHUB_SHA") or "unknown"


@dataclass(frozen=True)
class Rendered:
    image: ImageRef | None
    taskdef: dict[str, Any]
    image_tag: str
    git_sha: str


def render_new(
    aws: Aws,
    settings: Settings,
    image_opts: ImageOptions,
    *,
    extra_environment: dict[str, str] | None = None,
) -> Rendered:
    """The revision a deploy would register: the given image by digest."""
    image = images.resolve(aws, settings, tag=image_opts.tag, digest=image_opts.digest)
    rendered = resolve.render(
        settings,
        resolve.AwsResolver(aws, settings),
        image_uri=image.uri,
        image_tag=image.tag,
        git_sha=image_opts.sha(),
        extra_environment=extra_environment,
    )
    return Rendered(image, rendered, image.tag, image_opts.sha())


def render_keeping_live_image(aws: Aws, settings: Settings, live: dict[str, Any]) -> Rendered:
    """Template + config as they are now, with the image (and its tag/sha) the service runs."""
    container = taskdef.container_of(live, settings.container)
    env = taskdef.env_of(container)
    tag, sha = env.get("IMAGE_TAG", "unknown"), env.get("GIT_SHA", "unknown")
    rendered = resolve.render(
        settings,
        resolve.AwsResolver(aws, settings),
        image_uri=str(container["image"]),
        image_tag=tag,
        git_sha=sha,
    )
    return Rendered(None, rendered, tag, sha)


def live_taskdef(aws: Aws, settings: Settings) -> dict[str, Any]:
    service = ecs.describe_service(aws, settings)
    return ecs.describe_taskdef(aws, str(service["taskDefinition"]))
