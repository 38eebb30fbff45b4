"""The deploy lock: atomic on the AWS side, owner/reason/expiry, fails fast naming the holder."""

from __future__ import annotations

import io
import json
import threading
import time

from autopipe.aws import Aws
from autopipe.commands import deploy
from autopipe.commands._shared import ImageOptions
from autopipe.errors import LockHeld
from autopipe.lock import DeployLock, whoami
from autopipe.output import Reporter
from autopipe.runner import Common
from tests.support.moto import World


def new_lock(world: World) -> DeployLock:
    s = world.settings
    return DeployLock(Aws(region=s.region, endpoint_url=world.emulator.url), table=s.lock_table,
                      lock_id=s.lock_id)  # fmt: skip


def test_only_one_of_many_racing_acquirers_wins(world: World) -> None:
    winners: list[str] = []
    losers: list[str] = []
    barrier = threading.Barrier(8)

    def contend(n: int) -> None:
        barrier.wait()
        try:
            new_lock(world).acquire(owner=f"worker-{n}", reason="race", ttl=60)
            winners.append(f"worker-{n}")
        except LockHeld as exc:
            losers.append(exc.message)

    threads = [threading.Thread(target=contend, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(winners) == 1
    assert len(losers) == 7
    assert all(winners[0] in message for message in losers)


def test_expired_lock_is_taken_over_and_release_is_owner_only(world: World) -> None:
    first, second = new_lock(world), new_lock(world)
    first.acquire(owner="ci", reason="stuck deploy", ttl=-1)  # already expired
    info = second.acquire(owner="human", reason="hotfix", ttl=60)
    assert second.status() == info
    assert first.release() is False  # it is no longer ours: nothing deleted
    assert second.status() is not None
    assert second.release() is True
    assert second.status() is None


def test_a_second_deploy_fails_fast_and_names_the_holder(world: World) -> None:
    world.emulator.policy.outcomes["v1"] = "hang"  # the first deploy holds the lock meanwhile
    outcome: list[object] = []

    def first_deploy() -> None:
        options = deploy.DeployOptions(Common(), ImageOptions(tag="v1"), reason="first")
        outcome.append(deploy.run(options, Reporter(stream=io.StringIO())))

    first = threading.Thread(target=first_deploy)
    first.start()
    deadline = time.monotonic() + 5
    while not world.emulator.deployments.active and time.monotonic() < deadline:
        time.sleep(0.02)  # until the first deploy is rolling out, lock held
    started = time.monotonic()
    result = world.cli("deploy", "--tag", "v2", "--output", "json")
    elapsed = time.monotonic() - started
    for rollout in list(world.emulator.deployments.active.values()):
        rollout.outcome = "complete"  # let the first one finish
    first.join()
    assert outcome
    assert isinstance(outcome[0], dict)
    assert outcome[0]["result"] == "success"
    assert result.exit_code == LockHeld.exit_code
    assert elapsed < 2.0  # fast: no waiting for the holder
    doc = json.loads(result.stdout)
    assert doc["error"]["kind"] == "lock_held"
    assert doc["lock"]["owner"] == whoami()
    assert doc["lock"]["reason"] == "first"
    assert "is locked by" in result.stderr
    assert "(first)" in result.stderr


def test_lock_commands(world: World) -> None:
    acquired = world.cli("lock", "acquire", "--reason", "db maintenance", "--ttl", "120")
    assert acquired.exit_code == 0, acquired.output
    status = world.cli("lock", "status", "--output", "json")
    doc = json.loads(status.stdout)
    assert doc["held"] is True
    assert doc["lock"]["reason"] == "db maintenance"
    assert world.cli("deploy", "--tag", "v1").exit_code == LockHeld.exit_code
    assert world.cli("lock", "release", "--dry-run").exit_code == 0
    assert json.loads(world.cli("lock", "status", "--output", "json").stdout)["held"] is True
    released = world.cli("lock", "release")
    assert "was held by" in released.stdout
    assert world.cli("lock", "status").stdout.strip().endswith("free")
    assert world.cli("lock", "steal").exit_code == 2
