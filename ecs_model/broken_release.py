"""The two figures a rehearsal of a strategy gives for its broken release, from what its users
saw (users.py) and what ECS reports of the deployment (DescribeServiceDeployments):

- user requests answered by the broken release: production requests (no test header) whose
  answer came from one of its tasks, whatever the status;
- seconds from the failure being detected to 100 % of traffic on the previous release: from
  the moment the rollback was asked of ECS to the end of the last user request the broken
  release answered; 0 when it answered none after that moment. Only counted as back once an
  answer of the previous release followed (else `None`: traffic never came back in the run).
  The moment is the failed deployment's `rollback.startedAt` when ECS rolled it back (on
  autopipe's verdict, or its circuit breaker's or alarms'); when the deployment had completed
  before the failure showed, autopipe rolls back with a new deployment, and its `createdAt`.
  https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_Rollback.html
  https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_ServiceDeployment.html

And, for a strategy that moves traffic, the user requests that may have been routed while the
broken release held a production share (`exposure`: from the change that gave it one to the
moment the load balancer had applied the change that took it away, the model's traffic
record) and the share it held: a canary's broken release answers at most that share of them
(rounded up: the load balancer routes whole requests). A request is routed somewhere between
being sent and being answered, so one whose [sent, answered] meets the window counts: all
the broken release's answers are among them; of the others, only those in flight at either
edge (one per kept-alive client) could have been routed either way.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from ecs_model.users import Answer, Users


def measure(
    answers: list[Answer],
    *,
    broken: str,
    previous: str,
    deployment: dict[str, Any],
    rollback_deployment: dict[str, Any] | None = None,
    exposure: tuple[float, float, float] | None = None,
) -> dict[str, Any]:
    """exposure: (from, to, percent) of the broken release's production share, if it had one
    under a strategy that moves traffic."""
    requested = (deployment.get("rollback") or {}).get("startedAt")
    finished = _stamp(deployment.get("finishedAt"))
    if requested is None and rollback_deployment:
        requested = rollback_deployment.get("createdAt")
        finished = _stamp(rollback_deployment.get("finishedAt"))
    detected = _stamp(requested)
    by_broken = [a for a in answers if a.release == broken]
    back: float | None = None
    if detected is not None:
        # The end of the broken release's last answer after the detection, else the detection.
        after = max((a.at for a in by_broken if a.at >= detected), default=detected)
        if any(a.release == previous and a.at > after for a in answers):
            back = round(after - detected, 2)
    exposed = None
    if exposure is not None:
        start, end, percent = exposure
        during = [a for a in answers if a.sent <= end and a.at >= start]
        exposed = {
            "percent": percent,
            "user_requests_sent": len(during),
            "user_requests_answered_by_broken_release": sum(a.release == broken for a in during),
            "at_most": math.ceil(percent / 100 * len(during)),
        }
    return {
        "broken_release": broken,
        "previous_release": previous,
        "user_requests_sent": len(answers),
        "user_requests_answered_by_broken_release": len(by_broken),
        "user_requests_by_release": Users.by_release(answers),
        "statuses_by_release": Users.statuses(answers),
        "seconds_from_detection_to_all_traffic_on_previous_release": back,
        "rollback_requested_at": _iso(requested),
        "while_broken_release_had_production_traffic": exposed,
        "seconds_from_detection_to_rollback_complete": (
            round(finished - detected, 2) if detected is not None and finished else None
        ),
    }


def _stamp(value: Any) -> float | None:
    if isinstance(value, datetime):
        return value.timestamp()
    return None


def _iso(value: Any) -> str | None:
    return value.isoformat() if isinstance(value, datetime) else None
