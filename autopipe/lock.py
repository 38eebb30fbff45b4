"""The deploy lock: one DynamoDB item per service, leased and versioned the way the Amazon
DynamoDB Lock Client does it (https://github.com/awslabs/amazon-dynamodb-lock-client, and
https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/BestPractices_DistributedLocking.html).

The item holds the owner, the reason, a lease duration, a record version number (RVN, random,
new on every heartbeat) and a fencing token (a counter, +1 on every acquisition). Every write is
conditional on what the writer last read, so DynamoDB decides every race:

- the holder heartbeats every lease/3 (`keep_alive`) and proves it still holds the lock before
  each deploy write (`ensure`): an UpdateItem conditional on its token and its last RVN;
- a contender never compares timestamps another machine wrote. It takes a held lock over only
  after it saw the same RVN unchanged for one full lease on its own monotonic clock, and then
  only conditionally on that RVN: a heartbeat in between makes the takeover fail;
- release and force release are conditional on the fencing token (a lock re-taken in between
  is never released), and keep the item (free, counter kept) so tokens only ever grow.

Table: partition key `lock_id` (S). `expires_at` (N, epoch seconds: last heartbeat + lease +
one day) is the table's TTL attribute for housekeeping only; nothing here decides by it.
The wall-clock times on the item (`acquired_at`, `heartbeat_at`) are the holder's, for people.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from autopipe.aws import Aws, error_code
from autopipe.errors import LockHeld, LockLost
from autopipe.lock_item import HOUSEKEEPING, LockInfo, parse, whoami

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef

__all__ = ["DeployLock", "LockInfo", "whoami"]

CONFLICT = "ConditionalCheckFailedException"
Clock = Callable[[], float]


def _n(value: float) -> AttributeValueTypeDef:
    return {"N": repr(value) if isinstance(value, float) else str(value)}


def _s(value: str) -> AttributeValueTypeDef:
    return {"S": value}


class DeployLock:
    def __init__(
        self,
        aws: Aws,
        *,
        table: str,
        lock_id: str,
        clock: Clock = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        wall_clock: Clock = time.time,
    ) -> None:
        self._aws = aws
        self.table = table
        self.lock_id = lock_id
        self._clock = clock
        self._sleep = sleep
        self._wall = wall_clock
        self.held: LockInfo | None = None
        self.lost: str | None = None  # why the lock was lost, once it was
        self._renewed_at = 0.0  # our monotonic time of the last successful write
        self._mutex = threading.Lock()  # heartbeats from keep_alive and ensure() alternate

    # -- reading -------------------------------------------------------------------------------

    def _item(self) -> dict[str, AttributeValueTypeDef] | None:
        return (
            self._aws.dynamodb()
            .get_item(TableName=self.table, Key={"lock_id": _s(self.lock_id)}, ConsistentRead=True)
            .get("Item")
        )

    def status(self) -> LockInfo | None:
        """The holder, or None when the lock is free (no item, or released)."""
        item = self._item()
        return parse(self.lock_id, item) if item else None

    # -- taking --------------------------------------------------------------------------------

    def acquire(self, *, owner: str, reason: str, ttl: float, wait: float | None = 0.0) -> LockInfo:
        """Take the lock with a lease of `ttl` seconds. Held by someone else: fail at once
        (`wait=0`, the default), or watch it for `wait` seconds (None: one full lease of the
        holder, the least that can prove it dead) and take it over if its RVN did not change
        for a whole lease on our clock. Raises LockHeld naming the holder."""
        if ttl <= 0:
            raise ValueError("the lease must be positive")
        deadline = None if wait is None else self._clock() + wait
        seen: tuple[str, float] | None = None  # (RVN, our monotonic time we first saw it)
        for _ in range(1000):  # bounded: each pass reads, and writes or sleeps
            item = self._item()
            holder = parse(self.lock_id, item) if item else None
            if holder is None:  # missing, or released: take it conditionally on what we read
                expected = str(item["rvn"].get("S", "")) if item and "rvn" in item else None
                won = self._take(owner, reason, ttl, expected, previous=None)
                if won is not None:
                    return won
                continue
            now = self._clock()
            if seen is None or seen[0] != holder.rvn:
                seen = (holder.rvn, now)  # alive (or new): the lease starts over
            elif now - seen[1] >= holder.lease:
                won = self._take(owner, reason, ttl, holder.rvn, previous=holder)
                if won is not None:
                    return won
                seen = None
                continue
            if deadline is None:  # wait=None: one lease from our first sighting
                deadline = seen[1] + holder.lease + self._poll(holder.lease)
            if now >= deadline:
                raise self._held_error(holder, now - seen[1])
            until_lease = seen[1] + holder.lease - now
            self._sleep(max(0.0, min(self._poll(holder.lease), deadline - now, until_lease)))
        raise LockHeld(f"{self.lock_id} kept changing hands while we tried: retry")

    @staticmethod
    def _poll(lease: float) -> float:
        return max(0.05, min(5.0, lease / 6))

    def _take(
        self, owner: str, reason: str, ttl: float, expected: str | None, previous: LockInfo | None
    ) -> LockInfo | None:
        """One conditional write: a new item (`expected` None), or an item whose RVN is still
        `expected` (free, or a holder watched for a lease). None when someone else won."""
        wall = round(self._wall(), 3)
        rvn = uuid.uuid4().hex
        fields = {**self._fields(owner, reason, ttl, rvn, wall), "acquired_at": _n(int(wall))}
        try:
            if expected is None:
                token = 1
                self._aws.dynamodb().put_item(
                    TableName=self.table,
                    Item={"lock_id": _s(self.lock_id), **fields, "fencing_token": _n(token)},
                    ConditionExpression="attribute_not_exists(lock_id)",
                )
            else:
                sets = ", ".join(f"#{k} = :{k}" for k in fields)
                response = self._aws.dynamodb().update_item(
                    TableName=self.table,
                    Key={"lock_id": _s(self.lock_id)},
                    UpdateExpression=f"SET {sets}, #fencing_token = "
                    "if_not_exists(#fencing_token, :zero) + :one",
                    ConditionExpression="#rvn = :expected",
                    ExpressionAttributeNames={f"#{k}": k for k in (*fields, "fencing_token")},
                    ExpressionAttributeValues={**{f":{k}": v for k, v in fields.items()},
                        ":zero": _n(0), ":one": _n(1), ":expected": _s(expected)},
                    ReturnValues="ALL_NEW",
                )  # fmt: skip
                token = int(response["Attributes"]["fencing_token"]["N"])
        except Exception as exc:
            if error_code(exc) == CONFLICT:
                return None
            raise
        info = LockInfo(self.lock_id, owner, reason, token, rvn, float(ttl), int(wall), wall,
                        previous_owner=previous.owner if previous else "")  # fmt: skip
        with self._mutex:
            self.held, self.lost, self._renewed_at = info, None, self._clock()
        return info

    def _fields(
        self, owner: str, reason: str, ttl: float, rvn: str, wall: float
    ) -> dict[str, AttributeValueTypeDef]:
        return {
            "owner": _s(owner),
            "reason": _s(reason),
            "rvn": _s(rvn),
            "lease": _n(float(ttl)),
            "heartbeat_at": _n(wall),
            "expires_at": _n(int(wall + ttl + HOUSEKEEPING)),
        }

    def _held_error(self, holder: LockInfo, unchanged_for: float) -> LockHeld:
        return LockHeld(
            f"{self.lock_id} is locked by {holder.describe(self._wall())}; its heartbeat was "
            f"seen unchanged here for {unchanged_for:.0f}s of its {holder.lease:g}s lease "
            "(a dead holder's lock is taken over after one unchanged lease: --wait-for-lock)",
            details={"lock": holder.as_dict(), "unchanged_for": round(unchanged_for, 3)},
        )

    # -- holding -------------------------------------------------------------------------------

    def heartbeat(self) -> LockInfo:
        """Renew the lease: a new RVN, conditional on our token and our last RVN. Raises
        LockLost when the lock is no longer ours (taken over, force-released, or not renewed
        within one lease)."""
        with self._mutex:
            held = self.held
            if self.lost is not None or held is None:
                raise LockLost(self._lost_message(self.lost or "we do not hold it"))
            wall, rvn = round(self._wall(), 3), uuid.uuid4().hex
            fields = self._fields(held.owner, held.reason, held.lease, rvn, wall)
            sets = ", ".join(f"#{k} = :{k}" for k in fields)
            try:
                self._aws.dynamodb().update_item(
                    TableName=self.table,
                    Key={"lock_id": _s(self.lock_id)},
                    UpdateExpression=f"SET {sets}",
                    ConditionExpression="#rvn = :mine AND #fencing_token = :token",
                    ExpressionAttributeNames={f"#{k}": k for k in (*fields, "fencing_token")},
                    ExpressionAttributeValues={**{f":{k}": v for k, v in fields.items()},
                        ":mine": _s(held.rvn), ":token": _n(held.token)},
                )  # fmt: skip
            except Exception as exc:
                if error_code(exc) == CONFLICT:
                    self.lost = "someone else holds it now (taken over or force-released)"
                elif self._clock() - self._renewed_at >= held.lease:
                    self.lost = f"not renewed within its {held.lease:g}s lease ({exc})"
                else:
                    raise
                raise LockLost(self._lost_message(self.lost), details=self._details()) from exc
            self.held = held.renewed(rvn, wall)
            self._renewed_at = self._clock()
            return self.held

    def ensure(self) -> LockInfo:
        """Prove we still hold the lock (a conditional write) before a deploy write."""
        return self.heartbeat()

    @contextmanager
    def keep_alive(self) -> Iterator[DeployLock]:
        """Heartbeat every lease/3 in a daemon thread while the block runs. A failed heartbeat
        is retried until the lease is spent; a lost lock is recorded (`lost`) so the next
        `ensure()` raises LockLost at once."""
        if self.held is None:
            raise LockLost(self._lost_message("we do not hold it"))
        stop = threading.Event()
        interval = self.held.lease / 3

        def beat() -> None:
            while not stop.wait(interval):
                try:
                    self.heartbeat()
                except LockLost:
                    return
                except Exception:  # noqa: S112 - transient; heartbeat() bounds it by the lease
                    continue

        thread = threading.Thread(target=beat, name=f"lock-heartbeat {self.lock_id}", daemon=True)
        thread.start()
        try:
            yield self
        finally:
            stop.set()
            thread.join(timeout=interval + 35)

    def _lost_message(self, why: str) -> str:
        return f"lost the deploy lock {self.lock_id}: {why}; stopped before the next write"

    def _details(self) -> dict[str, object]:
        return {"lock": self.held.as_dict() if self.held else None}

    # -- giving back ---------------------------------------------------------------------------

    def release(self) -> bool:
        """Release our own lock; False when it was no longer ours (taken over, forced)."""
        with self._mutex:
            held = self.held
        if held is None:
            return False
        freed = self._free(held.token)  # an AWS error keeps `held`: the release can be retried
        with self._mutex:
            self.held = None
        return freed

    def force_release(self, seen: LockInfo) -> bool:
        """A human's release of whoever holds it, conditional on the fencing token they were
        shown: False (nothing released) when it changed hands since."""
        return self._free(seen.token)

    def _free(self, token: int) -> bool:
        """Mark the item free, keeping its fencing counter (tokens only ever grow)."""
        values: dict[str, AttributeValueTypeDef] = {":rvn": _s(uuid.uuid4().hex)}
        if token:
            ours = "#fencing_token = :token"
            values[":token"] = _n(token)
        else:  # an item written before fencing tokens existed
            ours = "attribute_not_exists(#fencing_token)"
        try:
            self._aws.dynamodb().update_item(
                TableName=self.table,
                Key={"lock_id": _s(self.lock_id)},
                UpdateExpression="SET #rvn = :rvn REMOVE #owner, #reason, #expires_at",
                ConditionExpression=f"{ours} AND attribute_exists(#owner)",
                ExpressionAttributeNames={"#rvn": "rvn", "#owner": "owner", "#reason": "reason",
                    "#expires_at": "expires_at", "#fencing_token": "fencing_token"},
                ExpressionAttributeValues=values,
            )  # fmt: skip
        except Exception as exc:
            if error_code(exc) == CONFLICT:
                return False
            raise
        return True
