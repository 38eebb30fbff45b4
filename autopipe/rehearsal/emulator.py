"""AWS on loopback: moto's server in this process, plus the rollout engine moto lacks.

moto answers the API but its ECS services never roll out. Because the server runs in-process,
the engine can do what ECS would: `update_service` starts an IN_PROGRESS deployment; a
background thread then completes it, fails it (circuit breaker, with ECS's own rollback when
the service enables it) or leaves it hanging, as the `Policy` says for that image tag. One-off
tasks (the migration) stop with the exit code the policy gives. A `TaskRunner` can back each
deployment with a real container, so "healthy" means a real process answered.

Needs moto[server] (the `test` dependency group).
"""

from __future__ import annotations

import json
import logging
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Protocol

from autopipe.rehearsal.blobs import BlobStore
from autopipe.rehearsal.deployments import Deployments

ACCOUNT = "123456789012"
RESET_SERVICES = (
    "ecs",
    "ecr",
    "iam",
    "secretsmanager",
    "logs",
    "dynamodb",
    "cloudwatch",
    "sts",
    "ssm",
)
log = logging.getLogger("autopipe.emulator")


class TaskRunner(Protocol):
    """Backs a deployment with something real; `state` is pending, healthy or failed."""

    def start(self, service_key: str, taskdef_arn: str) -> None: ...

    def state(self, service_key: str, taskdef_arn: str) -> str: ...


@dataclass
class Policy:
    """What happens to a deployment of a given image tag (env IMAGE_TAG of the revision)."""

    outcomes: dict[str, str] = field(default_factory=dict)  # tag → complete | fail | hang
    migration_exit: dict[str, int] = field(default_factory=dict)  # tag → exit code
    on_rollout: list[Callable[[str], None]] = field(default_factory=list)  # called with the tag

    def outcome(self, tag: str) -> str:
        return self.outcomes.get(tag, "complete")


class Emulator:
    def __init__(
        self, *, step: float = 0.3, policy: Policy | None = None, runner: TaskRunner | None = None
    ) -> None:
        self.step = step
        self.policy = policy or Policy()
        self.runner = runner
        self.blobs = BlobStore()
        self.deployments = Deployments(self)
        self.url = ""
        self._server: Any = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._unpatch: list[Callable[[], None]] = []

    def start(self) -> str:
        from moto.moto_server.werkzeug_app import (  # noqa: PLC0415 - optional dependency
            DomainDispatcherApplication,
            MotoRequestHandler,
            create_backend_app,
        )
        from werkzeug.serving import make_server  # noqa: PLC0415

        class Handler(MotoRequestHandler):
            def handle(self) -> None:
                # The emulator is not under test: keep a tracer (coverage) out of its threads.
                sys.settrace(None)
                super().handle()

        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        # moto's ThreadedMotoServer, minus its 0.5 s shutdown poll: the same app and handler.
        app = DomainDispatcherApplication(create_backend_app)
        self._server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=Handler)
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self.blobs.start()
        self._patch()
        self._thread = threading.Thread(target=self._loop, name="rollout-engine", daemon=True)
        self._thread.start()
        return self.url

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=5)
        for undo in reversed(self._unpatch):
            undo()
        self._unpatch.clear()
        from moto.moto_api import state_manager  # noqa: PLC0415

        state_manager.unset_transition("ecs::task")
        self.blobs.stop()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def __enter__(self) -> Emulator:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def reset(self) -> None:
        """Forget every resource (between tests) and every rollout. The network (EC2) stays:
        it never changes, and EC2 is the slowest backend to rebuild."""
        from moto.backends import get_backend  # noqa: PLC0415

        with self.deployments.lock:
            for service in RESET_SERVICES:
                for per_account in get_backend(service).values():  # type: ignore[call-overload]
                    per_account.reset()
            self.deployments.clear()
        self.policy = Policy()
        self._immediate_tasks()

    def post_scan_findings(self, region: str, results: list[dict[str, Any]]) -> None:
        """moto's hook for ECR scan results (scan-on-push creates none by itself)."""
        body = json.dumps({"results": results, "region": region}).encode()
        request = urllib.request.Request(  # noqa: S310 - loopback emulator
            f"{self.url}/moto-api/static/ecr/scan-finding-results", data=body, method="POST"
        )
        urllib.request.urlopen(request, timeout=10).close()  # noqa: S310

    # --- patches (in-process only) ---------------------------------------------------------

    def _patch(self) -> None:
        from moto.ecr.responses import ECRResponse  # noqa: PLC0415
        from moto.ecs.models import EC2ContainerServiceBackend  # noqa: PLC0415

        engine, blobs = self.deployments, self.blobs
        original_update = EC2ContainerServiceBackend.update_service
        original_run_task = EC2ContainerServiceBackend.run_task

        def update_service(backend: Any, props: dict[str, Any]) -> Any:
            with engine.lock:
                service = original_update(backend, props)
                engine.on_update(backend, service)
                return service

        def run_task(backend: Any, *args: Any, **kwargs: Any) -> Any:
            tasks = original_run_task(backend, *args, **kwargs)
            for task in tasks:
                engine.on_task(backend, task)
            return tasks

        def get_download_url_for_layer(response: Any) -> str:
            digest = response._get_param("layerDigest")
            repository = response._get_param("repositoryName")
            return json.dumps({"downloadUrl": blobs.url(repository, digest), "layerDigest": digest})

        patches: list[tuple[Any, str, Any]] = [
            (EC2ContainerServiceBackend, "update_service", update_service),
            (EC2ContainerServiceBackend, "run_task", run_task),
            (ECRResponse, "get_download_url_for_layer", get_download_url_for_layer),
        ]
        for owner, name, replacement in patches:
            self._unpatch.append(partial(setattr, owner, name, owner.__dict__[name]))
            setattr(owner, name, replacement)
        self._immediate_tasks()

    def _immediate_tasks(self) -> None:
        from moto.moto_api import state_manager  # noqa: PLC0415

        # One-off tasks report STOPPED on the first describe (their outcome is already set).
        state_manager.set_transition("ecs::task", {"progression": "immediate"})

    def _loop(self) -> None:
        sys.settrace(None)
        while not self._stop.wait(0.05):
            try:
                self.deployments.tick(time.monotonic())
            except Exception:  # keep the engine alive; tests see the effect
                log.exception("rollout engine tick failed")
