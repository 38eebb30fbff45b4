"""Ctrl-C and CI's SIGTERM, sent to the real console script in a real process, in the phases
where they leave something behind: mid-rollout (ECS is asked to roll back and finishes it
without us) and mid-migration (the one-off task is stopped and waited for). Each test checks
the state the message claims, not only the exit code."""

from __future__ import annotations

import codecs
import io
import math
import os
import selectors
import signal
import subprocess
import sys
import time

import pytest

from testbed.waiting import wait_for
from tests.support.moto import ROOT, World

INTERRUPTED = 130  # docs/deployer.md


def start(world: World, *args: str) -> subprocess.Popen[str]:
    # Not measured: coverage is for app/, and it would only slow the deployer down.
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("COVERAGE_")}
    env = {**inherited, **world.env, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "autopipe", *args], cwd=ROOT, env=env, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip


def read_until(process: subprocess.Popen[str], marker: str, timeout: float = 30) -> str:
    """The deployer's stdout up to (at least) `marker`: what this read, which communicate()
    then no longer returns. Never blocks past `timeout`: it reads what the pipe holds (read1,
    one read(2) after select said there is something), not up to a newline, which a process
    stopped mid-line would never send (and SIGALRM, taken by another of the test's threads,
    would not break that read)."""
    assert isinstance(process.stdout, io.TextIOWrapper)
    pipe = process.stdout.buffer
    decoder = codecs.getincrementaldecoder("utf-8")()
    seen = ""
    selector = selectors.DefaultSelector()
    selector.register(pipe, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout
    while marker not in seen:
        if time.monotonic() > deadline or process.poll() is not None:
            raise AssertionError(f"never saw {marker!r}:\n{seen}")
        if selector.select(timeout=0.1):
            seen += decoder.decode(pipe.read1(65536))
    return seen


def deployment_status(world: World, arn: str) -> str:
    found = world.aws.ecs().describe_service_deployments(serviceDeploymentArns=[arn])
    return str(found["serviceDeployments"][0]["status"]) if found["serviceDeployments"] else ""


def recorded(world: World) -> str:
    name = f"{world.settings.release_prefix}/taskdef"
    return str(world.aws.ssm().get_parameter(Name=name)["Parameter"]["Value"]).rsplit("/")[-1]


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_interrupt_mid_rollout_asks_ecs_to_roll_back(world: World, sig: signal.Signals) -> None:
    assert world.cli("deploy", "--tag", "v1").exit_code == 0
    proven = world.revision()
    world.emulator.policy.outcomes["v2"] = "hang"
    process = start(world, "deploy", "--tag", "v2", "--timeout", "60")
    try:
        read_until(process, " IN_PROGRESS running ")  # the watch has seen the deployment
        process.send_signal(sig)
        stdout, stderr = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == INTERRUPTED, stderr
    assert stderr.startswith("Interrupted: during watch: asked ECS to put back")
    assert proven in stderr
    assert "autopipe wait" in stderr
    assert "lock released" in stdout
    # What the message claims: ECS rolls the deployment back by itself, to the proven release,
    # and the release record already names it.
    arn = str(world.service()["currentServiceDeployment"])
    wait_for(lambda: deployment_status(world, arn) == "ROLLBACK_SUCCESSFUL", "ECS's rollback")
    assert world.revision() == proven
    assert recorded(world) == proven
    assert [p["text"] for p in world.slack.payloads[-1:]] == [
        ":x: auto-pipe-service deploy interrupted in rehearsal"
    ]
    assert world.cli("lock", "status").stdout.strip().endswith("free")


def test_a_second_signal_does_not_cut_the_clean_up_short(world: World) -> None:
    assert world.cli("deploy", "--tag", "v1").exit_code == 0
    world.emulator.policy.outcomes["v2"] = "hang"
    sent = len(world.slack.payloads)
    process = start(world, "deploy", "--tag", "v2", "--timeout", "60")
    try:
        read_until(process, "service updated to auto-pipe-task:3")
        process.send_signal(signal.SIGINT)
        process.send_signal(signal.SIGTERM)  # what a CI runner sends 7.5 s later
        _, stderr = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == INTERRUPTED, stderr
    assert "Traceback" not in stderr
    assert len(world.slack.payloads) == sent + 1
    assert world.cli("lock", "status").stdout.strip().endswith("free")


def test_ctrl_c_mid_migration_stops_the_task(world: World) -> None:
    assert world.cli("deploy", "--tag", "v1").exit_code == 0
    proven = world.revision()
    world.emulator.policy.migration_runs["v2"] = math.inf  # runs until stopped
    # The interrupt, not the migration timeout, must end it, however slow the machine.
    world.env["AUTOPIPE_MIGRATION_TIMEOUT"] = "300"
    process = start(world, "deploy", "--tag", "v2")
    try:
        read_until(process, "migration task: RUNNING")
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == INTERRUPTED, stderr
    assert "during migrate: the service was not changed" in stderr
    assert "was stopped" in stderr
    tasks = world.aws.ecs().list_tasks(
        cluster=world.settings.cluster, startedBy="autopipe-migrate", desiredStatus="STOPPED"
    )["taskArns"]
    described = world.aws.ecs().describe_tasks(cluster=world.settings.cluster, tasks=tasks)
    latest = max(described["tasks"], key=lambda t: str(t["taskDefinitionArn"]))
    assert latest["taskDefinitionArn"].endswith("auto-pipe-task:3")
    assert (latest["lastStatus"], latest.get("stopCode")) == ("STOPPED", "UserInitiated")
    assert world.revision() == proven  # never rolled out
    assert recorded(world) == proven
    # Nothing half-done is left: the next deploy runs its own migration and goes through.
    world.emulator.policy.migration_runs.pop("v2")
    assert world.cli("deploy", "--tag", "v2").exit_code == 0
