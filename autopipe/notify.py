"""Telling people: a Slack incoming-webhook message (Block Kit) and, under GitHub Actions, a
step summary (`$GITHUB_STEP_SUMMARY`) and step outputs (`$GITHUB_OUTPUT`).

Nothing here raises: a webhook that fails becomes a warning, never a failed deploy.
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from autopipe.output import Reporter

ICONS = {"success": ":white_check_mark:", "rolled_back": ":leftwards_arrow_with_hook:"}
TITLES = {
    "success": "deployed",
    "rolled_back": "deploy failed and was rolled back",
    "rollback_failed": "deploy failed and the ROLLBACK FAILED: needs a human",
    "interrupted": "deploy interrupted",
}


@dataclass(frozen=True)
class Report:
    result: str  # success, rolled_back, rollback_failed, verify_failed, ... (errors.kind)
    environment: str
    service: str
    cluster: str
    image: str = ""
    commit: str = ""
    actor: str = ""
    duration: float = 0.0
    reason: str = ""
    link: str = ""
    revision: str = ""
    previous_revision: str = ""
    exit_code: int = 0


def run_link(environ: Mapping[str, str] | None = None) -> str:
    env = os.environ if environ is None else environ
    if env.get("GITHUB_RUN_ID") and env.get("GITHUB_REPOSITORY"):
        server = env.get("GITHUB_SERVER_URL", "https://github.com")
        return f"{server}/{env['GITHUB_REPOSITORY']}/actions/runs/{env['GITHUB_RUN_ID']}"
    return ""


def slack_payload(report: Report) -> dict[str, Any]:
    icon = ICONS.get(report.result, ":x:")
    title = TITLES.get(report.result, f"deploy failed ({report.result})")
    headline = f"{icon} {report.service} {title} in {report.environment}"
    fields = [
        ("Environment", report.environment),
        ("Service", f"{report.cluster}/{report.service}"),
        ("Image", f"`{report.image}`" if report.image else "-"),
        ("Commit", f"`{report.commit[:12]}`" if report.commit else "-"),
        ("Actor", report.actor or "-"),
        ("Duration", f"{report.duration:.1f}s"),
        ("Result", report.result),
        ("Revision", report.revision or "-"),
    ]
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": headline[:150], "emoji": True}},
        {
            "type": "section",
            "fields": [{"type": "mrkdwn", "text": f"*{k}*\n{v}"} for k, v in fields],
        },
    ]
    if report.reason:
        blocks.append(
            {"type": "section", "text": {"type": "mrkdwn", "text": f"*Reason*\n{report.reason}"}}
        )
    if report.link:
        blocks.append(
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "text": {"type": "plain_text", "text": "Open the run"},
                        "url": report.link,
                    }
                ],
            }
        )
    return {"text": headline, "blocks": blocks}


def post_slack(webhook_url: str, payload: dict[str, Any], timeout: float = 5.0) -> None:
    if not webhook_url.startswith(("https://", "http://")):
        raise ValueError("the Slack webhook URL must be http(s)")
    request = urllib.request.Request(  # noqa: S310 - scheme checked above
        webhook_url,
        data=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
        if response.status != 200:
            raise OSError(f"Slack answered {response.status}")


RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


def post_slack_retrying(
    webhook_url: str,
    payload: dict[str, Any],
    *,
    attempts: int = 4,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Post, trying again on what Slack documents as "try later": 429 with Retry-After, and
    5xx or a dropped connection (https://api.slack.com/apis/rate-limits). Returns the attempts
    used; raises the last error. A 4xx other than 429 is final (a bad webhook stays bad)."""
    delay = 0.5
    for attempt in range(1, attempts + 1):
        try:
            post_slack(webhook_url, payload)
            return attempt
        except urllib.error.HTTPError as exc:
            if exc.code not in RETRY_STATUSES or attempt == attempts:
                raise
            after = exc.headers.get("Retry-After", "") if exc.headers else ""
            wait = min(float(after), 5.0) if after.isdigit() else delay
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            if attempt == attempts:
                raise
            wait = delay
        sleep(wait)
        delay *= 2
    raise AssertionError("unreachable")


def step_summary(report: Report) -> str:
    title = TITLES.get(report.result, f"deploy failed ({report.result})")
    rows = [(k.replace("_", " "), v) for k, v in asdict(report).items() if v not in ("", None)]
    table = "\n".join(f"| {k} | {str(v).replace('|', '/')} |" for k, v in rows)
    return f"### {report.service} {title} in {report.environment}\n\n| | |\n|---|---|\n{table}\n"


def step_outputs(report: Report) -> dict[str, str]:
    return {
        "result": report.result,
        "exit-code": str(report.exit_code),
        "revision": report.revision,
        "previous-revision": report.previous_revision,
        "image": report.image,
        "duration-seconds": f"{report.duration:.1f}",
        "reason": report.reason,
    }


def write_github(report: Report, environ: Mapping[str, str] | None = None) -> None:
    env = os.environ if environ is None else environ
    if summary_path := env.get("GITHUB_STEP_SUMMARY"):
        with Path(summary_path).open("a", encoding="utf-8") as fh:
            fh.write(step_summary(report))
    if output_path := env.get("GITHUB_OUTPUT"):
        with Path(output_path).open("a", encoding="utf-8") as fh:
            for key, value in step_outputs(report).items():
                # The heredoc form is safe for any value, multi-line reasons included.
                delimiter = f"ghadelim_{uuid.uuid4().hex}"
                fh.write(f"{key}<<{delimiter}\n{value}\n{delimiter}\n")


def notify(
    report: Report,
    reporter: Reporter,
    *,
    webhook_env: str = "SLACK_WEBHOOK_URL",
    environ: Mapping[str, str] | None = None,
) -> list[str]:
    """Send everywhere configured; returns the channels that got it. Never raises."""
    env = os.environ if environ is None else environ
    sent: list[str] = []
    webhook = env.get(webhook_env, "")
    if webhook:
        try:
            post_slack_retrying(webhook, slack_payload(report))
            sent.append("slack")
        except Exception as exc:
            reporter.warn(f"Slack notification failed ({type(exc).__name__}: {exc}); continuing")
    if env.get("GITHUB_STEP_SUMMARY") or env.get("GITHUB_OUTPUT"):
        try:
            write_github(report, env)
            sent.append("github")
        except OSError as exc:
            reporter.warn(f"GitHub step summary/outputs failed: {exc}")
    if sent:
        reporter.step(f"notified: {', '.join(sent)}")
    return sent
