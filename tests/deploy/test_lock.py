"""The deploy lock: lease and version. Races are decided by DynamoDB's conditional writes; a
contender takes over only after watching one unchanged lease on its own clock; the holder proves
it still holds the lock before every write; releases are conditional on the fencing token."""

from __future__ import annotations

import dataclasses
import io
import json
import threading
import time
from collections.abc import Callable

import pytest
from moto.dynamodb.models import DynamoDBBackend

from autopipe.aws import Aws
from autopipe.commands import deploy
from autopipe.commands._shared import ImageOptions
from autopipe.errors import LockHeld, LockLost
from autopipe.lock import DeployLock, whoami
from autopipe.output import Reporter
from autopipe.runner import Common
from testbed.waiting import wait_for
from tests.support.moto import CallLog, World

LEASE = 30.0
YEAR = 365 * 86400.0


@pytest.fixture(autouse=True)
def atomic_conditional_writes(monkeypatch: pytest.MonkeyPatch) -> None:
    """DynamoDB evaluates a condition and writes the item atomically
    (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Expressions.ConditionExpressions.html);
    moto's server checks then writes without a lock, so two threads can both pass one
    condition. One lock around its item writes restores the documented behaviour."""
    guard = threading.Lock()
    for name in ("put_item", "update_item", "delete_item"):
        original = getattr(DynamoDBBackend, name)

        def atomic(self: DynamoDBBackend, *a: object, _f: Callable[..., object] = original,
                   **k: object) -> object:  # fmt: skip
            with guard:
                return _f(self, *a, **k)

        monkeypatch.setattr(DynamoDBBackend, name, atomic)


class FakeClock:
    """A contender's monotonic clock: its sleeps advance it and may let the world move on."""

    def __init__(self, on_sleep: Callable[[float], None] | None = None) -> None:
        self.now = 1000.0
        self.slept: list[float] = []
        self.on_sleep = on_sleep

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds
        if self.on_sleep:
            self.on_sleep(self.now)


def new_lock(world: World, clock: FakeClock | None = None, wall_offset: float = 0.0) -> DeployLock:
    s = world.settings
    aws = Aws(region=s.region, endpoint_url=world.emulator.url)
    if clock is None:
        return DeployLock(aws, table=s.lock_table, lock_id=s.lock_id)
    return DeployLock(aws, table=s.lock_table, lock_id=s.lock_id, clock=clock, sleep=clock.sleep,
                      wall_clock=lambda: time.time() + wall_offset)  # fmt: skip


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


def test_two_contenders_racing_to_take_over_a_silent_lock_one_wins(world: World) -> None:
    new_lock(world).acquire(owner="crashed-ci", reason="deploy", ttl=LEASE)
    at_the_line = threading.Barrier(2, timeout=30)
    results: dict[str, object] = {}

    def contend(name: str) -> None:
        lined_up: list[bool] = []

        def line_up(now: float) -> None:
            if now >= 1000.0 + LEASE and not lined_up:  # both watched a full lease: go together
                lined_up.append(True)
                at_the_line.wait()

        clock = FakeClock(on_sleep=line_up)
        try:
            results[name] = new_lock(world, clock).acquire(owner=name, reason="r", ttl=LEASE,
                                                           wait=None)  # fmt: skip
        except LockHeld as exc:
            results[name] = exc

    threads = [threading.Thread(target=contend, args=(n,)) for n in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    won = [n for n, r in results.items() if not isinstance(r, LockHeld)]
    lost = [r for r in results.values() if isinstance(r, LockHeld)]
    assert len(won) == 1
    assert len(lost) == 1
    assert f"locked by {won[0]} " in lost[0].message
    holder = new_lock(world).status()
    assert holder is not None
    assert (holder.owner, holder.token) == (won[0], 2)


def test_takeover_only_after_one_full_observed_lease(world: World) -> None:
    dead = new_lock(world)
    dead.acquire(owner="crashed-ci", reason="deploy", ttl=LEASE)
    impatient = FakeClock()
    with pytest.raises(LockHeld) as held:
        new_lock(world, impatient).acquire(owner="human", reason="r", ttl=LEASE, wait=LEASE - 1)
    assert "locked by crashed-ci (deploy)" in held.value.message
    assert held.value.details["unchanged_for"] == pytest.approx(LEASE - 1)
    assert new_lock(world).status().owner == "crashed-ci"  # type: ignore[union-attr]

    clock = FakeClock()
    info = new_lock(world, clock).acquire(owner="human", reason="hotfix", ttl=LEASE, wait=None)
    assert clock.now - 1000.0 >= LEASE  # watched a whole lease on its own clock first
    assert clock.now - 1000.0 < 2 * LEASE
    assert (info.owner, info.token, info.previous_owner) == ("human", 2, "crashed-ci")
    assert new_lock(world).status() == dataclasses.replace(info, previous_owner="")


def test_a_clock_far_ahead_never_takes_over_a_live_lock(world: World) -> None:
    holder = new_lock(world)
    holder.acquire(owner="ci", reason="deploy", ttl=LEASE)
    beats: list[float] = []

    def holder_is_alive(now: float) -> None:
        if not beats or now - beats[-1] >= LEASE / 3:
            holder.heartbeat()
            beats.append(now)

    # Ten years ahead: every timestamp the holder wrote looks long expired to this machine.
    clock = FakeClock(on_sleep=holder_is_alive)
    ahead = new_lock(world, clock, wall_offset=10 * YEAR)
    with pytest.raises(LockHeld) as fast:
        ahead.acquire(owner="skewed", reason="r", ttl=LEASE)
    assert "locked by ci (deploy)" in fast.value.message
    with pytest.raises(LockHeld) as waited:
        ahead.acquire(owner="skewed", reason="r", ttl=LEASE, wait=5 * LEASE)
    assert clock.now - 1000.0 >= 5 * LEASE
    assert len(beats) >= 10
    assert waited.value.details["unchanged_for"] < LEASE
    assert holder.ensure().owner == "ci"  # still ours


def test_a_holder_whose_clock_is_far_behind_is_not_deleted_or_taken(world: World) -> None:
    behind = new_lock(world, FakeClock(), wall_offset=-YEAR)
    behind.acquire(owner="slow-clock", reason="deploy", ttl=LEASE)
    with pytest.raises(LockHeld):
        new_lock(world).acquire(owner="other", reason="r", ttl=LEASE)
    assert behind.ensure().owner == "slow-clock"


def test_heartbeat_changes_the_rvn_not_the_token(world: World) -> None:
    mine = new_lock(world)
    info = mine.acquire(owner="ci", reason="deploy", ttl=LEASE)
    seen = mine.status()
    assert seen is not None
    assert seen.rvn == info.rvn
    renewed = mine.heartbeat()
    after = mine.status()
    assert after is not None
    assert after.rvn == renewed.rvn != info.rvn
    assert after.token == info.token == 1


def test_keep_alive_heartbeats_in_the_background(world: World) -> None:
    mine = new_lock(world)
    first = mine.acquire(owner="ci", reason="deploy", ttl=0.3)  # a heartbeat every 0.1 s
    with mine.keep_alive():
        rvns = {first.rvn}

        def three_versions() -> bool:
            rvns.add(new_lock(world).status().rvn)  # type: ignore[union-attr]
            return len(rvns) >= 3

        wait_for(three_versions, "two heartbeats")
    assert mine.lost is None
    assert mine.release() is True


def test_ensure_after_a_takeover_raises_lock_lost(world: World) -> None:
    stalled = new_lock(world)
    stalled.acquire(owner="ci", reason="deploy", ttl=LEASE)  # then hangs: no heartbeats
    taker = new_lock(world, FakeClock())
    taken = taker.acquire(owner="human", reason="hotfix", ttl=LEASE, wait=None)
    with pytest.raises(LockLost) as lost:
        stalled.ensure()
    assert lost.value.exit_code == 10
    assert "stopped before the next write" in lost.value.message
    assert stalled.release() is False  # conditional: the new holder keeps it
    assert new_lock(world).status() == dataclasses.replace(taken, previous_owner="")


def test_keep_alive_records_a_lost_lock_and_ensure_fails_at_once(
    world: World, calls: CallLog
) -> None:
    mine = new_lock(world)
    mine.acquire(owner="ci", reason="deploy", ttl=0.3)
    human = new_lock(world)
    with mine.keep_alive():
        seen = human.status()
        assert seen is not None
        assert human.force_release(seen) is True
        human.acquire(owner="human", reason="maintenance", ttl=LEASE)
        wait_for(lambda: mine.lost is not None, "the heartbeat to notice")
        before = len(calls.calls)
        with pytest.raises(LockLost, match="someone else holds it"):
            mine.ensure()
        assert len(calls.calls) == before  # decided from the record: no call made
    assert new_lock(world).status().owner == "human"  # type: ignore[union-attr]


def test_force_release_with_a_stale_read_spares_the_new_holder(world: World) -> None:
    first = new_lock(world)
    first.acquire(owner="ci", reason="deploy", ttl=LEASE)
    stale = new_lock(world).status()  # a human looks...
    assert stale is not None
    assert first.release() is True  # ...the deploy ends, another starts...
    second = new_lock(world)
    now = second.acquire(owner="ci-2", reason="deploy", ttl=LEASE)
    assert now.token == stale.token + 1
    assert new_lock(world).force_release(stale) is False  # ...and the human's break misses
    assert second.ensure().owner == "ci-2"
    assert new_lock(world).force_release(new_lock(world).status()) is True  # type: ignore[arg-type]
    assert new_lock(world).status() is None


def test_a_lock_written_before_fencing_tokens_can_be_forced(world: World) -> None:
    now = int(time.time())
    world.aws.dynamodb().put_item(TableName=world.settings.lock_table, Item={
        "lock_id": {"S": world.settings.lock_id}, "owner": {"S": "old-ci"},
        "reason": {"S": "deploy"}, "token": {"S": "abc"}, "acquired_at": {"N": str(now)},
        "expires_at": {"N": str(now + 3600)}})  # fmt: skip
    seen = new_lock(world).status()
    assert seen is not None
    assert (seen.owner, seen.token, seen.lease) == ("old-ci", 0, 3600)
    with pytest.raises(LockHeld):
        new_lock(world).acquire(owner="new", reason="r", ttl=LEASE)
    assert new_lock(world).force_release(seen) is True
    assert new_lock(world).acquire(owner="new", reason="r", ttl=LEASE).token == 1


def test_release_is_conditional_and_tokens_only_grow(world: World) -> None:
    mine = new_lock(world)
    assert mine.release() is False  # never held
    tokens = []
    for _ in range(3):
        tokens.append(mine.acquire(owner="ci", reason="deploy", ttl=LEASE).token)
        assert mine.release() is True
        assert mine.release() is False
        assert mine.status() is None
    assert tokens == [1, 2, 3]


def test_a_second_deploy_fails_fast_and_names_the_holder(world: World) -> None:
    world.emulator.policy.outcomes["v1"] = "hang"  # the first deploy holds the lock meanwhile
    outcome: list[object] = []

    def first_deploy() -> None:
        options = deploy.DeployOptions(Common(), ImageOptions(tag="v1"), reason="first")
        outcome.append(deploy.run(options, Reporter(stream=io.StringIO())))

    first = threading.Thread(target=first_deploy)
    first.start()
    wait_for(lambda: world.emulator.deployments.active, "the first deploy rolling out", 5)
    result = world.cli("deploy", "--tag", "v2", "--output", "json")
    for rollout in list(world.emulator.deployments.active.values()):
        rollout.outcome = "complete"  # let the first one finish
    first.join()
    assert outcome
    assert isinstance(outcome[0], dict)
    assert outcome[0]["result"] == "success"
    assert result.exit_code == LockHeld.exit_code
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
    assert doc["lock"]["lease"] == 120
    assert world.cli("deploy", "--tag", "v1").exit_code == LockHeld.exit_code
    assert world.cli("lock", "release", "--dry-run").exit_code == 0
    assert json.loads(world.cli("lock", "status", "--output", "json").stdout)["held"] is True
    released = world.cli("lock", "release")  # our own: no --force needed
    assert "was held by" in released.stdout
    assert world.cli("lock", "status").stdout.strip().endswith("free")
    assert world.cli("lock", "steal").exit_code == 2


def test_releasing_someone_elses_lock_needs_force(world: World) -> None:
    new_lock(world).acquire(owner="alice@laptop", reason="maintenance", ttl=LEASE)
    refused = world.cli("lock", "release")
    assert refused.exit_code == LockHeld.exit_code
    assert "--force" in refused.stderr
    assert new_lock(world).status().owner == "alice@laptop"  # type: ignore[union-attr]
    forced = world.cli("lock", "release", "--force")
    assert forced.exit_code == 0, forced.output
    assert "was held by alice@laptop" in forced.stdout
    assert new_lock(world).status() is None
