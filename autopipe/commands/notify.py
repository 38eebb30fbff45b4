"""`autopipe notify`: send the deploy message (Slack, GitHub step summary and outputs) for a
result decided elsewhere, e.g. a CI job that failed before `autopipe deploy` ran."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from autopipe import lock
from autopipe.notify import Report, notify, run_link, slack_payload
from autopipe.output import Reporter
from autopipe.runner import Common


@dataclass(frozen=True)
class NotifyOptions:
    common: Common = field(default_factory=Common)
    result: str = "success"
    reason: str = ""
    image: str = ""
    commit: str = ""
    actor: str | None = None
    duration: float = 0.0
    link: str | None = None
    revision: str = ""
    dry_run: bool = False


def run(opts: NotifyOptions, reporter: Reporter) -> dict[str, Any]:
    settings = opts.common.settings()
    report = Report(
        result=opts.result,
        environment=settings.env,
        service=settings.service,
        cluster=settings.cluster,
        image=opts.image,
        commit=opts.commit,
        actor=opts.actor or lock.whoami(),
        duration=opts.duration,
        reason=opts.reason,
        link=run_link() if opts.link is None else opts.link,
        revision=opts.revision,
        exit_code=0 if opts.result == "success" else 1,
    )
    payload = slack_payload(report)
    if opts.dry_run:
        if not reporter.json_mode:
            reporter.info(json.dumps(payload, indent=2))
        reporter.step("dry run: nothing was sent")
        return {"dry_run": True, "sent": [], "payload": payload}
    sent = notify(report, reporter, webhook_env=settings.slack_webhook_env)
    if not sent:
        reporter.info(f"nothing configured: set ${settings.slack_webhook_env} for Slack")
    return {"dry_run": False, "sent": sent, "payload": payload}
