"""The deploy lock's DynamoDB item as the deployer sees it (see autopipe/lock.py), and who we are
when we take it."""

from __future__ import annotations

import dataclasses
import getpass
import os
import socket
import time
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Mapping

    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef

# `expires_at` = last heartbeat + lease + this: DynamoDB's TTL deletes an abandoned item a day
# after it could last have been alive, by the holder's clock. Far enough that a holder whose
# clock runs hours slow is not deleted under its feet; nothing reads it to decide.
HOUSEKEEPING = 86400


@dataclass(frozen=True)
class LockInfo:
    lock_id: str
    owner: str
    reason: str
    token: int  # the fencing token: +1 on every acquisition of this lock
    rvn: str  # record version number: new on every heartbeat
    lease: float  # seconds without a heartbeat after which a contender may take over
    acquired_at: int  # epoch seconds, by the holder's clock (for people, never compared)
    heartbeat_at: float  # ditto
    previous_owner: str = ""  # set when this acquisition took over a silent holder's lock

    def describe(self, now: float | None = None) -> str:
        """Who, why, since when; the heartbeat age is by the holder's clock, so approximate."""
        age = max(0.0, (time.time() if now is None else now) - self.heartbeat_at)
        return (
            f"{self.owner} ({self.reason}), since {_iso(self.acquired_at)}, token {self.token}, "
            f"last heartbeat ~{age:.0f}s ago by its clock, lease {self.lease:g}s"
        )

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        if not data["previous_owner"]:
            data.pop("previous_owner")
        return data

    def renewed(self, rvn: str, wall: float) -> LockInfo:
        return dataclasses.replace(self, rvn=rvn, heartbeat_at=wall)


def _iso(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def parse(lock_id: str, item: Mapping[str, AttributeValueTypeDef]) -> LockInfo | None:
    """The holder named by an item; None for a released item (no owner)."""
    if "owner" not in item:
        return None

    def text(key: str) -> str:
        return str(item[key].get("S", "")) if key in item else ""

    def number(key: str, default: float = 0.0) -> float:
        return float(str(item[key]["N"])) if key in item and "N" in item[key] else default

    return LockInfo(
        lock_id=lock_id,
        owner=text("owner"),
        reason=text("reason"),
        token=int(number("fencing_token")),
        rvn=text("rvn"),
        # An item from before leases: its expiry minus its start was its lease.
        lease=number("lease", number("expires_at") - number("acquired_at")),
        acquired_at=int(number("acquired_at")),
        heartbeat_at=number("heartbeat_at"),
    )


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
