"""The `autopipe` command line: wiring only. Each command builds its options and hands them to
`autopipe.commands.<name>.run` through `runner.execute` (errors → exit codes)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from autopipe import __version__, signals
from autopipe.commands import deploy, diff, local, rehearse, render, rollback, status, verify, wait
from autopipe.commands import lock as lock_cmd
from autopipe.commands import notify as notify_cmd
from autopipe.commands._shared import ImageOptions
from autopipe.errors import EXIT_CODES
from autopipe.runner import Common, execute

app = typer.Typer(
    name="autopipe",
    help="Deploy the service to ECS Fargate: render · verify · diff · deploy · rollback · "
    "status · wait · lock · notify · local · rehearse.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    epilog="Exit codes: " + "; ".join(f"{k} {v}" for k, v in EXIT_CODES.items()),
)


class Output(StrEnum):
    text = "text"
    json = "json"


Env = Annotated[str | None, typer.Option("--env", "-e", help="Environment in autopipe.toml.")]
Config = Annotated[str | None, typer.Option("--config", "-c", help="Config file.")]
Region = Annotated[str | None, typer.Option(help="AWS region (default: from config).")]
Cluster = Annotated[str | None, typer.Option(help="ECS cluster (default: from config).")]
Service = Annotated[str | None, typer.Option(help="ECS service (default: from config).")]
Endpoint = Annotated[str | None, typer.Option(help="AWS endpoint URL (an emulator).")]
Out = Annotated[Output, typer.Option("--output", "-o", help="text, or json for machines.")]
Tag = Annotated[str | None, typer.Option(help="Image tag in ECR.", envvar="AUTOPIPE_IMAGE_TAG")]
Digest = Annotated[str | None, typer.Option(help="Image digest (sha256:…).")]
GitSha = Annotated[str | None, typer.Option(help="Commit (default $GITHUB_SHA).")]
DryRun = Annotated[bool, typer.Option("--dry-run", help="Read only: make no write call.")]
ScanReport = Annotated[
    list[str] | None,
    typer.Option(
        help="Trivy JSON report (trivy image --format json) accepted as scan evidence for the "
        "platform it scanned (repeatable)."
    ),
]
AllowAlarm = Annotated[
    str | None,
    typer.Option(
        metavar="REASON",
        help="Go ahead although a deployment alarm is in ALARM; the reason is recorded.",
    ),
]


def _common(  # noqa: PLR0917 - mirrors the options, in order
    env: str | None,
    config: str | None,
    region: str | None,
    cluster: str | None,
    service: str | None,
    endpoint_url: str | None,
    output: Output,
) -> Common:
    return Common(env, config, region, cluster, service, endpoint_url, output.value)


@app.command("render")
def render_command(
    *,
    tag: Tag = None, digest: Digest = None, git_sha: GitSha = None,
    out: Annotated[str | None, typer.Option(help="Write to this file.")] = None,
    env: Env = None, config: Config = None, region: Region = None, cluster: Cluster = None,
    service: Service = None, endpoint_url: Endpoint = None, output: Out = Output.text,
) -> None:  # fmt: skip
    """Fill in taskdef.template.json: register-task-definition input, image by digest."""
    common = _common(env, config, region, cluster, service, endpoint_url, output)
    opts = render.RenderOptions(common, ImageOptions(tag, digest, git_sha), out)
    execute("render", common, lambda r: render.run(opts, r))


@app.command("verify")
def verify_command(
    *,
    tag: Tag = None, digest: Digest = None, git_sha: GitSha = None,
    scan_report: ScanReport = None, allow_alarm: AllowAlarm = None,
    env: Env = None, config: Config = None, region: Region = None, cluster: Cluster = None,
    service: Service = None, endpoint_url: Endpoint = None, output: Out = Output.text,
) -> None:  # fmt: skip
    """Check everything a deploy needs (OK / NG / SKIP); change nothing."""
    common = _common(env, config, region, cluster, service, endpoint_url, output)
    opts = verify.VerifyOptions(
        common, ImageOptions(tag, digest, git_sha), tuple(scan_report or ()), allow_alarm
    )
    execute("verify", common, lambda r: verify.run(opts, r))


@app.command("diff")
def diff_command(
    *,
    tag: Tag = None, digest: Digest = None, git_sha: GitSha = None,
    exit_code: Annotated[bool, typer.Option("--exit-code", help="Exit 9 on differences.")] = False,
    env: Env = None, config: Config = None, region: Region = None, cluster: Cluster = None,
    service: Service = None, endpoint_url: Endpoint = None, output: Out = Output.text,
) -> None:  # fmt: skip
    """Rendered task definition vs the live one (without --tag: keeps the live image)."""
    common = _common(env, config, region, cluster, service, endpoint_url, output)
    opts = diff.DiffOptions(common, ImageOptions(tag, digest, git_sha), exit_code)
    execute("diff", common, lambda r: diff.run(opts, r))


@app.command("deploy")
def deploy_command(
    *,
    tag: Tag = None, digest: Digest = None, git_sha: GitSha = None,
    reason: Annotated[str, typer.Option(help="Recorded in the lock and messages.")] = "deploy",
    dry_run: DryRun = False,
    migrate: Annotated[bool, typer.Option(help="Run the migration task first.")] = True,
    smoke: Annotated[bool, typer.Option(help="Smoke-test the URL when steady.")] = True,
    notify: Annotated[bool, typer.Option(help="Send Slack / GitHub messages.")] = True,
    url: Annotated[str | None, typer.Option(help="Public URL to smoke-test.")] = None,
    desired_count: Annotated[int | None, typer.Option(help="Set the desired count.")] = None,
    timeout: Annotated[float | None, typer.Option(help="Rollout timeout, seconds.")] = None,
    poll_interval: Annotated[float | None, typer.Option(help="Seconds between polls.")] = None,
    scan_report: ScanReport = None, allow_alarm: AllowAlarm = None,
    wait_for_lock: Annotated[bool, typer.Option(
        "--wait-for-lock", help="Held: watch it for one lease and take it over if it is dead.",
    )] = False,
    env: Env = None, config: Config = None, region: Region = None, cluster: Cluster = None,
    service: Service = None, endpoint_url: Endpoint = None, output: Out = Output.text,
) -> None:  # fmt: skip
    """Lock, verify, register, migrate, roll out, watch, smoke-test; roll back on failure."""
    common = _common(env, config, region, cluster, service, endpoint_url, output)
    opts = deploy.DeployOptions(
        common, ImageOptions(tag, digest, git_sha), reason, dry_run, migrate, smoke, notify,
        url, desired_count, timeout, poll_interval, tuple(scan_report or ()), allow_alarm,
        wait_for_lock,
    )  # fmt: skip
    execute("deploy", common, lambda r: deploy.run(opts, r))


@app.command("rollback")
def rollback_command(
    *,
    to: Annotated[str | None, typer.Option(help="Revision: N, family:N or ARN.")] = None,
    reason: Annotated[str, typer.Option(help="Recorded in the lock.")] = "rollback",
    dry_run: DryRun = False,
    wait_: Annotated[bool, typer.Option("--wait/--no-wait", help="Wait until steady.")] = True,
    notify: Annotated[bool, typer.Option(help="Send Slack / GitHub messages.")] = True,
    env: Env = None, config: Config = None, region: Region = None, cluster: Cluster = None,
    service: Service = None, endpoint_url: Endpoint = None, output: Out = Output.text,
) -> None:  # fmt: skip
    """Put the service back on an earlier revision (default: the previous one)."""
    common = _common(env, config, region, cluster, service, endpoint_url, output)
    opts = rollback.RollbackOptions(common, to, reason, dry_run, wait_, notify)
    execute("rollback", common, lambda r: rollback.run(opts, r))


@app.command("status")
def status_command(
    *,
    events: Annotated[int, typer.Option(help="How many recent service events.")] = 5,
    env: Env = None, config: Config = None, region: Region = None, cluster: Cluster = None,
    service: Service = None, endpoint_url: Endpoint = None, output: Out = Output.text,
) -> None:  # fmt: skip
    """The service now: revision, image, counts, deployments, alarms, lock, events."""
    common = _common(env, config, region, cluster, service, endpoint_url, output)
    execute("status", common, lambda r: status.run(status.StatusOptions(common, events), r))


@app.command("wait")
def wait_command(
    *,
    timeout: Annotated[float | None, typer.Option(help="Seconds.")] = None,
    poll_interval: Annotated[float | None, typer.Option(help="Seconds between polls.")] = None,
    env: Env = None, config: Config = None, region: Region = None, cluster: Cluster = None,
    service: Service = None, endpoint_url: Endpoint = None, output: Out = Output.text,
) -> None:  # fmt: skip
    """Wait for a steady state (exit 8 if none before the timeout)."""
    common = _common(env, config, region, cluster, service, endpoint_url, output)
    opts = wait.WaitOptions(common, timeout, poll_interval)
    execute("wait", common, lambda r: wait.run(opts, r))


@app.command("lock")
def lock_command(
    *,
    action: Annotated[str, typer.Argument(help="status | acquire | release")] = "status",
    reason: Annotated[str, typer.Option(help="Why (acquire).")] = "maintenance",
    ttl: Annotated[int | None, typer.Option(help="Lease seconds (acquire).")] = None,
    force: Annotated[bool, typer.Option("--force", help="Release: whoever holds it.")] = False,
    wait_for_lock: Annotated[bool, typer.Option(
        "--wait-for-lock", help="Acquire: watch a held lock for one lease; take it over if "
        "its holder never heartbeats.")] = False,
    dry_run: DryRun = False,
    env: Env = None, config: Config = None, region: Region = None, cluster: Cluster = None,
    service: Service = None, endpoint_url: Endpoint = None, output: Out = Output.text,
) -> None:  # fmt: skip
    """Show, take or give back (--force: break) the deploy lock."""
    common = _common(env, config, region, cluster, service, endpoint_url, output)
    opts = lock_cmd.LockOptions(common, action, reason, ttl, dry_run, force, wait_for_lock)
    execute("lock", common, lambda r: lock_cmd.run(opts, r))


@app.command("notify")
def notify_command(
    *,
    result: Annotated[str, typer.Option(help="success, rolled_back, failed, …")] = "success",
    reason: Annotated[str, typer.Option()] = "",
    image: Annotated[str, typer.Option()] = "",
    commit: Annotated[str, typer.Option(envvar="GITHUB_SHA")] = "",
    actor: Annotated[str | None, typer.Option()] = None,
    duration: Annotated[float, typer.Option(help="Seconds.")] = 0.0,
    link: Annotated[str | None, typer.Option(help="Default: the GitHub run.")] = None,
    revision: Annotated[str, typer.Option()] = "",
    dry_run: DryRun = False,
    env: Env = None, config: Config = None, output: Out = Output.text,
) -> None:  # fmt: skip
    """Send the deploy message (Slack webhook; GitHub step summary and outputs)."""
    common = _common(env, config, None, None, None, None, output)
    opts = notify_cmd.NotifyOptions(
        common, result, reason, image, commit, actor, duration, link, revision, dry_run
    )
    execute("notify", common, lambda r: notify_cmd.run(opts, r))


@app.command("local")
def local_command(
    *,
    image: Annotated[str | None, typer.Option(help="Local image (default: local_image).")] = None,
    taskdef_file: Annotated[str | None, typer.Option("--taskdef", help="A rendered file.")] = None,
    secrets_file: Annotated[str | None, typer.Option(help="NAME=value lines.")] = None,
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1 (sets PORT).")] = 8080,
    name: Annotated[str, typer.Option(help="Container name.")] = "autopipe-local",
    detach: Annotated[bool, typer.Option("--detach", "-d", help="Return once healthy.")] = False,
    replace: Annotated[bool, typer.Option(help="Remove a container of that name first.")] = False,
    command: Annotated[str | None, typer.Option(help="One-off command, e.g. migrations.")] = None,
    set_env: Annotated[list[str] | None, typer.Option(help="NAME=value (repeatable).")] = None,
    wait_timeout: Annotated[float, typer.Option(help="Seconds to wait for /health.")] = 60.0,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the docker command.")] = False,
    env: Env = None, config: Config = None, output: Out = Output.text,
) -> None:  # fmt: skip
    """Run the rendered task definition on the local Docker engine with Fargate's limits."""
    common = _common(env, config, None, None, None, None, output)
    opts = local.LocalOptions(
        common, image, taskdef_file, secrets_file, port, name, detach, replace, command,
        tuple(set_env or ()), wait_timeout, dry_run,
    )  # fmt: skip
    execute("local", common, lambda r: local.run(opts, r))


@app.command("rehearse")
def rehearse_command(
    *,
    docker: Annotated[str, typer.Option(help="auto | always | never")] = "auto",
    image: Annotated[str | None, typer.Option(help="Local image (default: local_image).")] = None,
    env: Annotated[str, typer.Option("--env", "-e", help="Environment.")] = "rehearsal",
    strategy: Annotated[
        str | None,
        typer.Option(help="rolling | blue_green | canary | linear (default: the environment's)."),
    ] = None,
    failure: Annotated[
        str,
        typer.Option(
            help="How v3 is broken: ready (its /ready fails) or users (only its /items does)."
        ),
    ] = "ready",
    config: Config = None, output: Out = Output.text,
) -> None:  # fmt: skip
    """Offline: emulated AWS, deploy v1, v2, broken v3 → automatic rollback; the timeline and
    what the broken release answered the users."""
    common = _common(env, config, None, None, None, None, output)
    opts = rehearse.RehearseOptions(common, docker, image, strategy=strategy, failure=failure)
    execute("rehearse", common, lambda r: rehearse.run(opts, r))


def _version(value: bool) -> None:
    if value:
        typer.echo(f"autopipe {__version__}")
        raise typer.Exit


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print version.")
    ] = False,
) -> None:
    """Deploy the service to ECS Fargate."""


def main() -> None:
    # CI cancels a job with SIGINT then SIGTERM: both are Ctrl-C (clean up, say so, exit 130).
    signals.install()
    app()
