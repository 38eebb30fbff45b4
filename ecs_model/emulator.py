"""AWS on loopback: moto's server in this process, behind a fault-injecting middleware, with the
ECS behaviour moto lacks patched in (service deployments and revisions, circuit breaker, alarm
rollback, one-off task stop codes, ECR scanning of image indexes) and a background engine that
advances deployments and tasks as ECS would.

Control surface (thread-safe; the deployer polls from its thread while the engine advances):
    emulator.policy        what each image tag does (policy.Policy)
    emulator.faults        per-call faults and counters (faults.Faults)
    emulator.stale_reads() stale reads after writes (stale.StaleReads.set)
    emulator.rollouts      service deployments, what serves, when each became steady
Needs moto[server] (the `test` dependency group).
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable
from functools import partial
from typing import Any, Protocol

import moto.server  # noqa: F401 - fail at import, not at start(), when moto is missing

from ecs_model.blobs import BlobStore
from ecs_model.constants import ACCOUNT, REGION
from ecs_model.ecr import Scans
from ecs_model.ecs_api import EcsApi
from ecs_model.faults import FaultMiddleware, Faults
from ecs_model.policy import Policy
from ecs_model.rollouts import Rollouts
from ecs_model.tasks import OneOffTasks
from ecs_model.traffic import Traffic

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
log = logging.getLogger("ecs_model")


class TaskRunner(Protocol):
    """Backs a deployment with something real; `state` is pending, healthy or failed;
    `completed`: ECS made `taskdef_arn` the service's one deployment (the others' tasks stop)."""

    def start(self, service_key: str, taskdef_arn: str) -> None: ...

    def state(self, service_key: str, taskdef_arn: str) -> str: ...

    def completed(self, service_key: str, taskdef_arn: str) -> None: ...


class Emulator:
    """step: seconds a healthy rollout takes; tick: engine period; alarm_poll: seconds between
    ECS's reads of deployment alarms (not documented; 1 s keeps the deployer's own alarm check
    first in the tests that poll every 0.03 s); bake_time: seconds alarms are still watched after
    steady state; stop_timeout: seconds from StopTask to SIGKILL; task_failures_per_tick: how
    many tasks of a failing revision fail per tick; minute: seconds one minute of a blue/green,
    canary or linear configuration lasts (bake times, canary and step waits, hook timeouts)."""

    def __init__(
        self,
        *,
        step: float = 0.3,
        policy: Policy | None = None,
        runner: TaskRunner | None = None,
        tick: float = 0.05,
        alarm_poll: float = 1.0,
        bake_time: float = 0.0,
        stop_timeout: float = 0.2,
        task_failures_per_tick: int = 1,
        minute: float = 1.0,
    ) -> None:
        self.step, self.tick, self.alarm_poll, self.bake_time = step, tick, alarm_poll, bake_time
        self.stop_timeout, self.task_failures_per_tick = stop_timeout, task_failures_per_tick
        self.minute = minute
        self.policy = policy or Policy()
        self.runner = runner
        # Told of every change of a service's production and test traffic (traffic.Traffic).
        self.traffic_listeners: list[Callable[[str, Traffic], None]] = []
        # Lifecycle hook targets: Lambda ARN → the handler ECS invokes (in-process).
        self.lambdas: dict[str, Callable[[dict[str, Any]], Any]] = {}
        self.account, self.region = ACCOUNT, REGION
        self.blobs = BlobStore()
        self.faults = Faults()
        self.rollouts = Rollouts(self)
        self.deployments = self.rollouts  # the name the deployer's tests know
        self.tasks = OneOffTasks(self)
        self.scans = Scans(self)
        self.ecs = EcsApi(self)
        self.url = ""
        self._server: Any = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._unpatch: list[Callable[[], None]] = []

    def container_environment(self, taskdef_arn: str, container: str) -> dict[str, str]:
        """A revision's container environment, read in-process from the model's state."""
        from moto.ecs.models import ecs_backends  # noqa: PLC0415

        region = taskdef_arn.split(":")[3]
        definition: Any = ecs_backends[ACCOUNT][region].describe_task_definition(taskdef_arn)
        for entry in definition.container_definitions:
            if entry.get("name") == container:
                return {e["name"]: str(e["value"]) for e in entry.get("environment", [])}
        return {}

    def traffic_changed(self, service_key: str, traffic: Traffic) -> None:
        for listener in list(self.traffic_listeners):
            listener(service_key, traffic)

    def stale_reads(self, reads: int, *, name: str = "*") -> None:
        """After each write, `reads` stale answers per read operation (stale.py)."""
        self.faults.stale.set(reads, name=name)

    def start(self) -> str:
        from moto.moto_server.werkzeug_app import (  # noqa: PLC0415 - optional dependency
            DomainDispatcherApplication,
            MotoRequestHandler,
            create_backend_app,
        )
        from werkzeug.serving import make_server  # noqa: PLC0415

        class Handler(MotoRequestHandler):
            def handle(self) -> None:
                # The model is not under test: keep a tracer (coverage) out of its threads.
                sys.settrace(None)
                super().handle()

        logging.getLogger("werkzeug").setLevel(logging.CRITICAL)
        # moto's ThreadedMotoServer, minus its 0.5 s shutdown poll, with the faults in front.
        app = FaultMiddleware(DomainDispatcherApplication(create_backend_app), self.faults)
        self._server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=Handler)
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self.blobs.start()
        self._patch()
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="ecs-model-engine", daemon=True)
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
        """Forget every resource, deployment, scan, fault and policy (between tests). The
        network (EC2) stays: it never changes, and EC2 is the slowest backend to rebuild."""
        from moto.backends import get_backend  # noqa: PLC0415

        with self.rollouts.lock, self.tasks.lock:
            for service in RESET_SERVICES:
                for per_account in get_backend(service).values():  # type: ignore[call-overload]
                    per_account.reset()
            self.rollouts.clear()
            self.tasks.clear()
        self.scans.clear()
        self.faults.clear()
        self.lambdas.clear()
        self.policy = Policy()
        self._task_states()

    # --- patches (in-process only) ------------------------------------------------------------

    def _patch(self) -> None:
        from moto.ecr.responses import ECRResponse  # noqa: PLC0415
        from moto.ecs.models import EC2ContainerServiceBackend as Backend  # noqa: PLC0415
        from moto.ecs.responses import EC2ContainerServiceResponse as Response  # noqa: PLC0415

        lock, api, tasks = self.rollouts.lock, self.ecs, self.tasks
        create, update = Backend.create_service, Backend.update_service
        run, stop = Backend.run_task, Backend.stop_task

        def create_service(backend: Any, *args: Any, **kwargs: Any) -> Any:
            with lock:
                service = create(backend, *args, **kwargs)
                api.after_create(backend, service)
                current(service)
                return service

        def update_service(backend: Any, props: dict[str, Any]) -> Any:
            with lock:
                asked = dict(props)
                service = update(backend, props)
                api.after_update(backend, service, asked)
                current(service)
                return service

        def current(service: Any) -> None:
            # Service.currentServiceDeployment: the ARN of the deployment the last change
            # started (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_Service.html).
            history = self.rollouts.deployments_of(f"{service.cluster_name}:{service.name}")
            if history:
                service.current_service_deployment = history[-1].arn

        def run_task(backend: Any, *args: Any, **kwargs: Any) -> Any:
            started = run(backend, *args, **kwargs)
            for task in started:
                tasks.on_run(backend, task)
            return started

        def stop_task(backend: Any, cluster: str, task_ref: str, reason: str) -> Any:
            found = next(
                (
                    t
                    for t in backend.tasks.get(cluster.rsplit("/", 1)[-1], {}).values()
                    if t.task_arn.endswith(task_ref.rsplit("/", 1)[-1])
                ),
                None,
            )
            if found is not None and (
                found.last_status == "STOPPED" or tasks.on_stop(found, reason)
            ):
                return found
            stopped = stop(backend, cluster, task_ref, reason)
            stopped.stop_code = "UserInitiated"  # type: ignore[attr-defined]
            return stopped

        original_create = Response.create_service

        def create_service_response(response: Any) -> Any:
            return api.create_service(response, original_create)

        def method(target: Callable[[Any], str]) -> Callable[[Any], str]:
            def call(response: Any) -> str:
                return target(response)

            return call

        patches: list[tuple[Any, str, Any]] = [
            (Backend, "create_service", create_service),
            (Backend, "update_service", update_service),
            (Backend, "run_task", run_task),
            (Backend, "stop_task", stop_task),
            (Response, "create_service", create_service_response),
            (Response, "list_service_deployments", method(api.list_service_deployments)),
            (Response, "describe_service_deployments", method(api.describe_service_deployments)),
            (Response, "describe_service_revisions", method(api.describe_service_revisions)),
            (Response, "stop_service_deployment", method(api.stop_service_deployment)),
            (
                Response,
                "continue_service_deployment",
                method(api.continue_service_deployment),
            ),
            (ECRResponse, "start_image_scan", method(self.scans.start_image_scan)),
            (
                ECRResponse,
                "describe_image_scan_findings",
                method(self.scans.describe_image_scan_findings),
            ),
            (
                ECRResponse,
                "get_download_url_for_layer",
                method(self.scans.get_download_url_for_layer),
            ),
        ]
        for owner, name, replacement in patches:
            undo = (
                partial(setattr, owner, name, owner.__dict__[name])
                if name in owner.__dict__
                else partial(delattr, owner, name)
            )
            self._unpatch.append(undo)
            setattr(owner, name, replacement)
        self._task_states()

    def _task_states(self) -> None:
        from moto.moto_api import state_manager  # noqa: PLC0415

        # Task states are the model's (tasks.py), never moto's own progression.
        state_manager.set_transition("ecs::task", {"progression": "manual", "times": 10**9})

    def _loop(self) -> None:
        sys.settrace(None)
        while not self._stop.wait(self.tick):
            try:
                at = time.monotonic()
                self.rollouts.tick(at)
                self.tasks.tick(at)
            except Exception:  # keep the engine alive; tests see the effect
                log.exception("engine tick failed")
