"""`autopipe diff`: the rendered task definition against the one the service runs."""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass, field
from typing import Any

from autopipe import ecs, taskdef
from autopipe.commands._shared import (
    ImageOptions,
    live_taskdef,
    render_keeping_live_image,
    render_new,
)
from autopipe.errors import Differences
from autopipe.output import Reporter
from autopipe.runner import Common, make_aws


@dataclass(frozen=True)
class DiffOptions:
    common: Common = field(default_factory=Common)
    image: ImageOptions = field(default_factory=ImageOptions)
    exit_code: bool = False


def unified(live: dict[str, Any], rendered: dict[str, Any], live_name: str) -> str:
    a = json.dumps(taskdef.normalize(live), indent=2, sort_keys=True).splitlines(keepends=True)
    b = json.dumps(taskdef.normalize(rendered), indent=2, sort_keys=True).splitlines(keepends=True)
    return "".join(difflib.unified_diff(a, b, fromfile=live_name, tofile="rendered"))


def run(opts: DiffOptions, reporter: Reporter) -> dict[str, Any]:
    settings = opts.common.settings()
    aws = make_aws(settings, dry_run=True)
    live = live_taskdef(aws, settings)
    if opts.image.given:
        rendered = render_new(aws, settings, opts.image)
    else:
        rendered = render_keeping_live_image(aws, settings, live)
    live_name = ecs.short(str(live["taskDefinitionArn"]))
    text = unified(live, rendered.taskdef, live_name)
    if text:
        reporter.diff(text)
    else:
        reporter.info(f"no differences: {live_name} matches the rendered task definition")
    result = {"environment": settings.env, "live": live_name, "changed": bool(text), "diff": text}
    if text and opts.exit_code:
        raise Differences(f"{live_name} differs from the rendered task definition", details=result)
    return result
