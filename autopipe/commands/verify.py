"""`autopipe verify`: OK / NG / SKIP per check; changes nothing (the AWS factory is read-only)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from autopipe import checks
from autopipe.aws import Aws
from autopipe.commands._shared import (
    ImageOptions,
    Rendered,
    live_taskdef,
    render_keeping_live_image,
    render_new,
)
from autopipe.config import Settings
from autopipe.errors import VerifyFailed
from autopipe.output import Reporter
from autopipe.runner import Common, make_aws


@dataclass(frozen=True)
class VerifyOptions:
    common: Common = field(default_factory=Common)
    image: ImageOptions = field(default_factory=ImageOptions)
    scan_reports: tuple[str, ...] = ()  # Trivy JSON reports (added to `scan_reports`)
    allow_alarm: str | None = None  # why a deployment alarm already in ALARM may be ignored


def verify(
    aws: Aws, settings: Settings, rendered: Rendered, reporter: Reporter
) -> list[checks.Check]:
    """Print every check; raise VerifyFailed if any said NG."""
    results = checks.run_checks(aws, settings, image=rendered.image, taskdef=rendered.taskdef)
    for c in results:
        reporter.check(c.status, c.name, c.detail)
    failed = [c for c in results if c.status == checks.NG]
    if failed:
        raise VerifyFailed(
            f"{len(failed)} check(s) NG: {', '.join(c.name for c in failed)}; nothing was changed",
            details={"checks": [c.as_dict() for c in results]},
        )
    return results


def overrides(results: list[checks.Check]) -> list[dict[str, str]]:
    """The checks that passed only by a person's override, with their reasons (for messages)."""
    return [{"check": c.name, "reason": c.override} for c in results if c.override]


def run(opts: VerifyOptions, reporter: Reporter) -> dict[str, Any]:
    settings = opts.common.settings(allow_alarm=opts.allow_alarm)
    if opts.scan_reports:
        settings = settings.with_overrides(
            scan_reports=(*settings.scan_reports, *opts.scan_reports)
        )
    aws = make_aws(settings, dry_run=True)
    if opts.image.given:
        rendered = render_new(aws, settings, opts.image)
    else:
        rendered = render_keeping_live_image(aws, settings, live_taskdef(aws, settings))
    results = verify(aws, settings, rendered, reporter)
    return {
        "environment": settings.env,
        "image": rendered.image.uri if rendered.image else None,
        "checks": [c.as_dict() for c in results],
        "overrides": overrides(results),
    }
