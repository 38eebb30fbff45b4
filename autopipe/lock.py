"""The deploy lock: one DynamoDB item per service, taken with a conditional put (atomic on the
AWS side), holding owner, reason and expiry. An expired lock is taken over; a live one makes
the second deploy fail fast with the holder's name.

Table: partition key `lock_id` (S); `expires_at` (N, epoch seconds) doubles as the TTL
attribute so abandoned items disappear on their own.
"""

from __future__ import annotations

import getpass
import os
import socket
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from autopipe.aws import Aws, error_code
from autopipe.errors import LockHeld, LockLost

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef


@dataclass(frozen=True)
class LockInfo:
    lock_id: str
    owner: str
    reason: str
    token: str
    acquired_at: int
    expires_at: int

    def describe(self) -> str:
        left = max(0, self.expires_at - int(time.time()))
        return f"{self.owner} ({self.reason}), since {_iso(self.acquired_at)}, expires in {left}s"

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("token")
        return data


def _iso(epoch: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def whoami(environ: dict[str, str] | None = None) -> str:
    """GitHub Actions: actor + run; elsewhere user@host."""
    env = os.environ if environ is None else environ
    if env.get("GITHUB_ACTIONS") == "true":
        run = f"{env.get('GITHUB_REPOSITORY', '?')}#{env.get('GITHUB_RUN_ID', '?')}"
        return f"{env.get('GITHUB_ACTOR', 'github-actions')} via {run}"
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


class DeployLock:
    def __init__(self, aws: Aws, *, table: str, lock_id: str) -> None:
        self._aws = aws
        self.table = table
        self.lock_id = lock_id
        self.held: LockInfo | None = None

    def acquire(self, *, owner: str, reason: str, ttl: int) -> LockInfo:
        now = int(time.time())
        info = LockInfo(self.lock_id, owner, reason, uuid.uuid4().hex, now, now + ttl)
        item: dict[str, AttributeValueTypeDef] = {
            "lock_id": {"S": info.lock_id},
            "owner": {"S": info.owner},
            "reason": {"S": info.reason},
            "token": {"S": info.token},
            "acquired_at": {"N": str(info.acquired_at)},
            "expires_at": {"N": str(info.expires_at)},
        }
        try:
            self._aws.dynamodb().put_item(
                TableName=self.table,
                Item=item,
                ConditionExpression="attribute_not_exists(lock_id) OR expires_at < :now",
                ExpressionAttributeValues={":now": {"N": str(now)}},
            )
        except Exception as exc:
            if error_code(exc) != "ConditionalCheckFailedException":
                raise
            holder = self.status()
            who = holder.describe() if holder else "someone (released meanwhile: retry)"
            raise LockHeld(
                f"{self.lock_id} is locked by {who}",
                details={"lock": holder.as_dict() if holder else None},
            ) from exc
        self.held = info
        return info

    def release(self) -> bool:
        """Release our own lock; False when it was no longer ours (expired, taken, forced)."""
        if self.held is None:
            return False
        token = self.held.token
        try:
            self._aws.dynamodb().delete_item(
                TableName=self.table,
                Key={"lock_id": {"S": self.lock_id}},
                ConditionExpression="#t = :token",
                ExpressionAttributeNames={"#t": "token"},
                ExpressionAttributeValues={":token": {"S": token}},
            )
        except Exception as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                self.held = None
                return False
            raise
        self.held = None
        return True

    def ensure(self) -> None:
        """Prove the lock is still ours with a conditional write; LockLost otherwise."""
        if self.held is None:
            raise LockLost(f"{self.lock_id}: not held")
        try:
            self._aws.dynamodb().update_item(
                TableName=self.table,
                Key={"lock_id": {"S": self.lock_id}},
                UpdateExpression="SET #r = #r",
                ConditionExpression="#t = :token",
                ExpressionAttributeNames={"#t": "token", "#r": "reason"},
                ExpressionAttributeValues={":token": {"S": self.held.token}},
            )
        except Exception as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                raise LockLost(f"the deploy lock {self.lock_id} is no longer ours") from exc
            raise

    @contextmanager
    def keep_alive(self) -> Iterator[None]:
        yield

    def force_release(self) -> LockInfo | None:
        """A human's release: whoever holds it. Returns what was removed."""
        holder = self.status()
        if holder is not None:
            self._aws.dynamodb().delete_item(
                TableName=self.table, Key={"lock_id": {"S": self.lock_id}}
            )
        return holder

    def status(self) -> LockInfo | None:
        item = (
            self._aws.dynamodb()
            .get_item(
                TableName=self.table, Key={"lock_id": {"S": self.lock_id}}, ConsistentRead=True
            )
            .get("Item")
        )
        if not item or int(item["expires_at"]["N"]) < int(time.time()):
            return None

        def text(key: str) -> str:
            return str(item[key].get("S", "")) if key in item else ""

        return LockInfo(
            lock_id=self.lock_id,
            owner=text("owner"),
            reason=text("reason"),
            token=text("token"),
            acquired_at=int(item["acquired_at"]["N"]),
            expires_at=int(item["expires_at"]["N"]),
        )
