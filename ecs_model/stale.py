"""Stale reads: for a number of read calls after a write, ECS answers what it answered before.

"The Amazon ECS API follows an eventual consistency model ... the result of an API command you
run that affects your Amazon ECS resources might not be immediately visible to all subsequent
commands you run." https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_RunTask.html
(also in the UpdateService and DescribeTasks references).

A write to a service (CreateService, UpdateService, DeleteService, StopServiceDeployment) opens,
for that service, a window of N reads per operation (DescribeServices, ListServiceDeployments,
DescribeServiceDeployments); RunTask/StopTask open one for DescribeTasks in the cluster. In a
window a read answers the last answer given to the same request before the write; a read never
answered before answers as a not-yet-visible resource does (DescribeTasks and
DescribeServiceDeployments: a MISSING failure) or, where that has no meaning, fresh.
N is 0 unless set: `set(3)` for every service, `set(3, name="auto-pipe-service")` for one
service, `set(3, name="auto-pipe-cluster")` for the tasks of one cluster.
"""

from __future__ import annotations

import json
import threading
from typing import Any

READS = frozenset(
    {"DescribeServices", "ListServiceDeployments", "DescribeServiceDeployments", "DescribeTasks"}
)
SERVICE_WRITES = frozenset(
    {"CreateService", "UpdateService", "DeleteService", "StopServiceDeployment"}
)
TASK_WRITES = frozenset({"RunTask", "StopTask"})
SERVICE_READS = ("DescribeServices", "ListServiceDeployments", "DescribeServiceDeployments")
Response = tuple[str, list[tuple[str, str]], bytes]


def _name(ref: str | None, default: str = "default") -> str:
    return str(ref or default).rsplit("/", 1)[-1]


def scopes(operation: str, body: dict[str, Any]) -> list[tuple[str, str]]:
    """(cluster, service) pairs a request is about; service "*" for a cluster's tasks."""
    cluster = _name(body.get("cluster"))
    if operation == "DescribeServices":
        return [(cluster, _name(s)) for s in body.get("services", [])]
    if operation in ("ListServiceDeployments", "UpdateService", "DeleteService"):
        return [(cluster, _name(body.get("service")))]
    if operation == "CreateService":
        return [(cluster, _name(body.get("serviceName")))]
    if operation == "StopServiceDeployment":
        arns = [body.get("serviceDeploymentArn", "")]
    elif operation == "DescribeServiceDeployments":
        arns = list(body.get("serviceDeploymentArns", []))
    else:
        return [(cluster, "*")]
    parts = [a.split("/") for a in arns]
    return [(p[-3], p[-2]) for p in parts if len(p) >= 4]


class StaleReads:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.settings: dict[str, int] = {}
        self.cache: dict[tuple[str, bytes], Response] = {}
        self.windows: dict[tuple[str, str, str], int] = {}  # (cluster, service, op) → left

    def set(self, reads: int, *, name: str = "*") -> None:
        """`reads` stale answers per read operation after each write to `name` (a service, a
        cluster for its tasks, or * for all)."""
        with self.lock:
            self.settings[name] = reads

    def clear(self) -> None:
        with self.lock:
            self.settings.clear()
            self.cache.clear()
            self.windows.clear()

    def _reads_for(self, cluster: str, service: str) -> int:
        for name in (cluster if service == "*" else service, "*"):
            if name in self.settings:
                return self.settings[name]
        return 0

    def observe(self, service: str, operation: str, body: bytes, response: Response) -> None:
        if service != "ecs" or not response[0].startswith("200"):
            return
        with self.lock:
            if operation in READS:
                self.cache[(operation, body)] = response
                return
            if operation not in SERVICE_WRITES | TASK_WRITES:
                return
            request = _json(body)
            ops = SERVICE_READS if operation in SERVICE_WRITES else ("DescribeTasks",)
            for cluster, name in scopes(operation, request):
                reads = self._reads_for(cluster, name)
                for op in ops:
                    if reads > 0:
                        self.windows[(cluster, name, op)] = reads

    def answer(self, service: str, operation: str, body: bytes, *, forced: bool) -> Response | None:
        """The stale answer to give, if any (`forced`: a stale fault chose this call)."""
        if service != "ecs" or operation not in READS:
            return None
        with self.lock:
            cached = self.cache.get((operation, body))
            if forced:
                return cached
            for cluster, name in scopes(operation, _json(body)):
                key = (cluster, name, operation)
                if self.windows.get(key, 0) <= 0:
                    continue
                answer = cached or _not_visible(operation, _json(body))
                if answer is None:
                    return None
                self.windows[key] -= 1
                return answer
        return None


def _json(body: bytes) -> dict[str, Any]:
    try:
        found = json.loads(body or b"{}")
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}


def _not_visible(operation: str, body: dict[str, Any]) -> Response | None:
    if operation == "DescribeTasks":
        doc = {
            "tasks": [],
            "failures": [{"arn": t, "reason": "MISSING"} for t in body.get("tasks", [])],
        }
    elif operation == "DescribeServiceDeployments":
        doc = {
            "serviceDeployments": [],
            "failures": [
                {"arn": a, "reason": "MISSING"} for a in body.get("serviceDeploymentArns", [])
            ],
        }
    else:
        return None
    data = json.dumps(doc).encode()
    return (
        "200 OK",
        [("Content-Type", "application/x-amz-json-1.1"), ("Content-Length", str(len(data)))],
        data,
    )
