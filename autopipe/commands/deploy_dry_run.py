"""`autopipe deploy --dry-run`: everything a deploy reads, nothing it writes (the AWS factory
refuses writes before they leave the process)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from autopipe import ecs, lock, release
from autopipe.aws import Aws
from autopipe.commands._shared import render_new
from autopipe.commands.diff import unified
from autopipe.commands.verify import verify
from autopipe.config import Settings
from autopipe.output import Reporter

if TYPE_CHECKING:
    from autopipe.commands.deploy import DeployOptions


def dry_run(
    aws: Aws, settings: Settings, opts: DeployOptions, reporter: Reporter
) -> dict[str, Any]:
    """Everything a deploy reads, nothing it writes (the AWS factory refuses writes)."""
    step = reporter.step
    holder = lock.DeployLock(aws, table=settings.lock_table, lock_id=settings.lock_id).status()
    step(f"lock: {'held by ' + holder.describe() if holder else 'free'}")
    rendered = render_new(aws, settings, opts.image, extra_environment=opts.extra_environment)
    verify(aws, settings, rendered, reporter)
    service = ecs.describe_service(aws, settings)
    live = ecs.describe_taskdef(aws, str(service["taskDefinition"]))
    text = unified(live, rendered.taskdef, ecs.short(str(live["taskDefinitionArn"])))
    if text:
        reporter.diff(text)
    image = rendered.image.uri if rendered.image else ""
    step(f"would register a new revision of {settings.family} with {image}")
    if opts.migrate:
        step(f"would run the migration task: {' '.join(settings.migration_command)}")
    step(f"would update {settings.service} and watch it every {settings.poll_interval:g}s")
    if opts.smoke and settings.url:
        step(f"would smoke-test {settings.url} expecting image_tag={rendered.image_tag}")
    recorded = release.read(aws, settings)
    proven = ecs.short(recorded.taskdef_arn) if recorded and recorded.taskdef_arn else "none yet"
    step(f"last proven release (the rollback target): {proven}")
    step(
        f"would record the release in {settings.release_prefix}/{{image,image-tag,git-sha,taskdef}}"
    )
    step("dry run: nothing was changed", style="bold")
    return {
        "environment": settings.env,
        "cluster": settings.cluster,
        "service": settings.service,
        "image": image,
        "image_tag": rendered.image_tag,
        "git_sha": rendered.git_sha,
        "revision": None,
        "previous_revision": ecs.short(str(service["taskDefinition"])),
        "lock": holder.as_dict() if holder else None,
        "changed": bool(text),
        "diff": text,
        "dry_run": True,
        "result": "dry_run",
        "timeline": reporter.timeline,
    }
