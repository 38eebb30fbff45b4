"""`autopipe render`: the task definition a deploy would register, as register-task-definition
input (valid for `aws ecs register-task-definition --cli-input-json` and the official GitHub
deploy action). Reads from AWS (tag → digest, secret ARNs); writes nothing there."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from autopipe import taskdef
from autopipe.commands._shared import ImageOptions, render_new
from autopipe.output import Reporter
from autopipe.runner import Common, make_aws


@dataclass(frozen=True)
class RenderOptions:
    common: Common = field(default_factory=Common)
    image: ImageOptions = field(default_factory=ImageOptions)
    out: str | None = None


def run(opts: RenderOptions, reporter: Reporter) -> dict[str, Any]:
    settings = opts.common.settings()
    aws = make_aws(settings, dry_run=True)
    rendered = render_new(aws, settings, opts.image)
    text = taskdef.dumps(rendered.taskdef)
    if opts.out:
        Path(opts.out).write_text(text)
        reporter.step(f"wrote {opts.out} ({rendered.image.uri if rendered.image else ''})")
    elif not reporter.json_mode:
        sys.stdout.write(text)
    return {
        "environment": settings.env,
        "image": rendered.image.uri if rendered.image else None,
        "taskdef": rendered.taskdef,
        "out": opts.out,
    }
