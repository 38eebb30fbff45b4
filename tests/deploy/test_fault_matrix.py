"""The fault matrix (`make fault-matrix`; part of `make test`): every phase x every fault, each
cell a real `autopipe deploy` against the ECS model, judged on what it left behind. The table
of outcomes is printed at the end of the run (tests/deploy/conftest.py)."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from autopipe import lock, release
from autopipe.commands import deploy as deploy_command
from testbed.waiting import wait_for
from tests.deploy import fault_matrix as fm
from tests.support.moto import ROOT, World

SHA = "0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f"
BURST = 3  # beyond the one retry botocore gets here (AWS_MAX_ATTEMPTS=2): persist.py's turn
SIGNALS = ("ctrl_c", "sigterm")  # sent in the deploy's own process: tests/deploy/signal_child.py
RESULTS: dict[tuple[str, str], str] = {}  # (phase, fault) → "ok" | failure text | "n/a: …"


def deploy(world: World, tag: str) -> tuple[int, dict[str, Any]]:
    result = world.cli("deploy", "--tag", tag, "--git-sha", SHA, "--output", "json")
    return result.exit_code, json.loads(result.stdout or "{}")


def deploy_interrupted(phase: str, fault: str, tag: str) -> tuple[int, dict[str, Any]]:
    """The deploy as its own process, sent the signal at `phase` (the world's settings are in
    os.environ, which the child inherits, coverage's variables included)."""
    done = subprocess.run(
        [sys.executable, "-m", "tests.deploy.signal_child", phase, fault,
         "deploy", "--tag", tag, "--git-sha", SHA, "--output", "json"],
        cwd=ROOT, capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    try:
        doc = json.loads(done.stdout or "{}")
    except json.JSONDecodeError:
        doc = {}
    if not doc:
        doc = {"reason": f"no JSON on stdout; stderr: {done.stderr.strip()[-2000:]}"}
    return done.returncode, doc


class Arm:
    """What a fault does the moment the deploy enters its phase."""

    def __init__(self, world: World, phase: str, fault: str) -> None:
        self.world, self.phase, self.fault = world, phase, fault

    def __call__(self) -> None:
        w, model = self.world, self.world.emulator
        if self.fault == "throttling":
            model.faults.add("*", "*", "throttle", count=BURST)
            w.stand_in.fail_next(BURST, status=503)
            w.slack.fail_next(BURST - 1, status=503)
        elif self.fault == "expired_credentials":
            model.faults.add("*", "*", "expired_token", count=BURST)
        elif self.fault == "connection_error":
            model.faults.add("*", "*", "connection", count=BURST)
            w.slack.fail_next(BURST - 1, status=0)
        elif self.fault == "stale_read":
            model.stale_reads(BURST)
        elif self.fault == "circuit_breaker":
            if self.phase == "rollback":
                model.policy.outcomes["v1"] = "fail"  # the way back fails to start
            else:
                model.policy.outcomes["v2"] = "fail"
                model.rollouts.fail_active("v2")
        elif self.fault == "alarm":
            w.set_alarm("ALARM")
        elif self.fault == "smoke_failure":
            w.stand_in.broken.add("v2")
        elif self.fault == "lock_lost":
            other = lock.DeployLock(w.aws, table=w.settings.lock_table, lock_id=w.settings.lock_id)
            seen = other.status()
            if seen is not None:
                other.force_release(seen)
            other.acquire(owner="someone-else@elsewhere", reason="took over", ttl=600)


@pytest.fixture
def armed_at(world: World) -> Iterator[Callable[[str, str], Arm]]:
    hooks: list[Callable[[str], None]] = []

    def arm(phase: str, fault: str) -> Arm:
        action = Arm(world, phase, fault)
        if fault in SIGNALS:
            if phase == "migrate":
                world.emulator.policy.migration_runs["v2"] = math.inf  # until stopped
            return action  # armed in the deploy's own process
        fired = threading.Event()

        def hook(entered: str) -> None:
            if entered == phase and not fired.is_set():
                fired.set()
                action()

        hooks.append(hook)
        deploy_command.phase_hooks.append(hook)
        return action

    yield arm
    for hook in hooks:
        deploy_command.phase_hooks.remove(hook)


def settled(world: World) -> None:
    """Wait until ECS has finished what it was doing (e.g. a rollback it was asked for)."""

    def final() -> bool:
        service = world.service()
        arn = service.get("currentServiceDeployment")
        if not arn:
            return True
        found = world.aws.ecs().describe_service_deployments(serviceDeploymentArns=[arn])
        statuses = [d["status"] for d in found.get("serviceDeployments", [])]
        return bool(statuses) and statuses[0] in (
            "SUCCESSFUL", "ROLLBACK_SUCCESSFUL", "ROLLBACK_FAILED", "STOPPED",
        )  # fmt: skip

    wait_for(final, "ECS to finish the service's deployment")


def delivered(world: World) -> list[str]:
    """The `Result` field of every notification the Slack receiver accepted."""
    results = []
    for payload in world.slack.accepted:
        for block in payload.get("blocks", []):
            for f in block.get("fields", []):
                if f.get("text", "").startswith("*Result*\n"):
                    results.append(f["text"].split("\n", 1)[1])
    return results


@pytest.mark.parametrize(("phase", "fault"), fm.CELLS, ids=[f"{p}-{f}" for p, f in fm.CELLS])
def test_cell(world: World, armed_at: Callable[[str, str], Arm], phase: str, fault: str) -> None:
    expected = fm.expect(phase, fault)
    if expected is None:
        RESULTS[(phase, fault)] = f"n/a: {fm.not_applicable(phase, fault)}"
        return
    os.environ["AWS_MAX_ATTEMPTS"] = "2"
    code, v1 = deploy(world, "v1")
    assert code == 0, v1
    world.slack.accepted.clear()
    if phase == "rollback":
        world.stand_in.broken.add("v2")
    armed_at(phase, fault)
    try:
        if fault in SIGNALS:
            code, doc = deploy_interrupted(phase, fault, "v2")
        else:
            code, doc = deploy(world, "v2")
        world.emulator.faults.clear()
        world.emulator.stale_reads(0)
        settled(world)
        revisions = {"v1": v1["revision"], "v2": doc.get("revision")}
        problems = []
        if code != expected.exit_code:
            problems.append(f"exit {code} (expected {expected.exit_code}): {doc.get('reason')}")
        if world.revision() != revisions[expected.serves]:
            problems.append(f"serves {world.revision()} (expected {expected.serves})")
        recorded = release.read(world.aws, world.settings)
        record = recorded.taskdef_arn.rsplit("/", 1)[-1] if recorded else None
        if record != revisions[expected.record]:
            problems.append(f"record names {record} (expected {expected.record})")
        holder = lock.DeployLock(
            world.aws, table=world.settings.lock_table, lock_id=world.settings.lock_id
        ).status()
        if holder is not None and holder.owner == lock.whoami():
            problems.append(f"the lock is still held by us: {holder.describe()}")
        notes = delivered(world)
        if notes != [expected.result]:
            problems.append(f"notifications {notes} (expected [{expected.result!r}])")
        RESULTS[(phase, fault)] = "; ".join(problems) or "ok"
        timeline = "\n".join(f"  {s['t']:7.2f}s {s['message']}" for s in doc.get("timeline", []))
        assert not problems, (
            f"{phase} x {fault} ({expected.why}): " + "; ".join(problems) + "\n" + timeline
        )
    finally:
        os.environ.pop("AWS_MAX_ATTEMPTS", None)
