"""The service's tasks as real containers behind the loopback load balancer (alb.py), for the
rehearsal of a strategy under load: every task ECS starts is its own container on its own port,
registered in a target group, healthy once the group's `/health` checks pass.

Which group a task joins follows ECS: a rolling update registers the new tasks in the group
that serves production, next to the old ones, and drains the old ones once the deployment
completes; a blue/green, canary or linear deployment starts them in the other group, traffic
moves by the rules' weights, and the group that lost its deployment is drained at the end.
https://docs.aws.amazon.com/AmazonECS/latest/developerguide/deployment-type-ecs.html
https://docs.aws.amazon.com/AmazonECS/latest/developerguide/blue-green-deployment-how-it-works.html
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from autopipe import docker_run
from autopipe.aws import Aws
from autopipe.config import Settings
from autopipe.output import Reporter
from ecs_model.alb import GROUPS, LoadBalancer, other
from ecs_model.seed import SECRET_VALUES
from testbed.pg import free_port
from testbed.waiting import wait_for

if TYPE_CHECKING:
    from ecs_model.emulator import Emulator
    from ecs_model.traffic import Traffic


@dataclass
class Task:
    taskdef: str
    tag: str
    group: str
    port: int
    name: str
    slot: str | None = None
    state: str = "pending"  # pending | healthy | failed | stopped


class Fleet:
    def __init__(
        self,
        aws: Aws,
        settings: Settings,
        emulator: Emulator,
        balancer: LoadBalancer,
        *,
        image: str,
        reporter: Reporter,
        workdir: Path,
        deregistration_delay: float = 1.0,
    ) -> None:
        self._aws, self._settings, self._emulator = aws, settings, emulator
        self.balancer, self._image, self._reporter = balancer, image, reporter
        self._delay, self._workdir = deregistration_delay, workdir
        self._migration_lock = threading.Lock()
        self._database = self._migrated_database()
        self.tasks: list[Task] = []
        self.production_group = GROUPS[0]
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []

    # --- the TaskRunner the emulator drives (called under its engine's lock: never block) ------

    def start(self, service_key: str, taskdef_arn: str) -> None:
        deployment = self._emulator.rollouts.active.get(service_key)
        shifting = bool(
            deployment is not None
            and deployment.shifts_traffic
            and deployment.status == "IN_PROGRESS"
        )
        group = other(self.production_group) if shifting else self.production_group
        port = free_port()
        env = self._emulator.container_environment(taskdef_arn, self._settings.container)
        task = Task(
            taskdef_arn, env.get("IMAGE_TAG", "?"), group, port, f"autopipe-rehearsal-{port}"
        )
        with self._lock:
            self.tasks.append(task)
        self._background(self._run, task)

    def state(self, service_key: str, taskdef_arn: str) -> str:
        with self._lock:
            mine = [t for t in self.tasks if t.taskdef == taskdef_arn]
        return mine[-1].state if mine else "pending"

    def completed(self, service_key: str, taskdef_arn: str) -> None:
        with self._lock:
            kept = [t for t in self.tasks if t.taskdef == taskdef_arn and t.state == "healthy"]
            if kept:
                self.production_group = kept[-1].group
            retired = [t for t in self.tasks if t.taskdef != taskdef_arn and t.state != "stopped"]
        for task in retired:
            self._background(self._stop, task)

    def traffic_changed(self, service_key: str, traffic: Traffic) -> None:
        """The emulated deployment moved traffic: the rules' weights follow (ECS's ModifyRule)."""
        production = dict.fromkeys(GROUPS, 0.0)
        for taskdef, share in traffic.production.items():
            production[self._group_of(taskdef)] += share
        if not any(production.values()):
            production[self.production_group] = 100.0
        self.balancer.set_weights("rule_production", _weights(production))
        if traffic.test is None:
            self.balancer.set_weights("rule_test", _weights(production))
        else:
            group = self._group_of(traffic.test)
            self.balancer.set_weights("rule_test", {group: 100, other(group): 0})

    # --- what a client of the load balancer needs ----------------------------------------------

    def release(self, served_by: str) -> str | None:
        """The image tag of the task that answered (`X-Served-By: <group>/<slot>`)."""
        group, _, slot = served_by.partition("/")
        with self._lock:
            for task in reversed(self.tasks):
                if task.group == group and task.slot == slot:
                    return task.tag
        return None

    def close(self) -> None:
        if self._database is not None and self._database[0].poll() is None:
            self._database[0].kill()
            self._database[0].wait(timeout=10)
        for thread in list(self._threads):
            thread.join(timeout=90)
        for task in self.tasks:
            docker_run.remove(task.name)

    # --- the containers ------------------------------------------------------------------------

    def _group_of(self, taskdef: str) -> str:
        with self._lock:
            live = [t for t in self.tasks if t.taskdef == taskdef and t.state != "stopped"]
        return live[-1].group if live else self.production_group

    def _background(self, work: Callable[[Task], None], task: Task) -> None:
        thread = threading.Thread(target=work, args=(task,), daemon=True)
        self._threads.append(thread)
        thread.start()

    def _run(self, task: Task) -> None:
        revision = task.taskdef.rsplit("/", 1)[-1]
        try:
            definition = dict(
                self._aws.ecs().describe_task_definition(taskDefinition=task.taskdef)[
                    "taskDefinition"
                ]
            )
            spec = docker_run.build_spec(
                definition, container=self._settings.container, image=self._image,
                name=task.name, port=task.port, secret_values=SECRET_VALUES,
            )  # fmt: skip
            done = docker_run.run(self._with_database(spec, task), detach=True, timeout=120)
            if done.returncode != 0:
                raise RuntimeError(done.stderr.strip())
            task.slot = self.balancer.register(task.group, task.port)
            wait_for(
                lambda: self.balancer.healthy(task.group, str(task.slot)),
                f"{revision} healthy in target group {task.group}",
                60,
            )
            task.state = "healthy"
            self._reporter.step(f"docker: {revision} ({task.tag}) healthy in {task.group}")
        except Exception as exc:
            self._reporter.step(f"docker: {revision} failed: {exc}", style="red")
            task.state = "failed"

    def _migrated_database(self) -> tuple[subprocess.Popen[str], Path, str] | None:
        """ECS's tasks share one database the migration task prepared; here every task has its
        own SQLite file, so the environment's database (DATABASE_URL) is migrated once, on this
        machine (started now, waited for by the first task), and each task starts on a copy of
        it, mounted where that URL points. A release whose own DATABASE_URL points elsewhere
        (the broken v3) still misses it, as it would on AWS. None: no SQLite file is named."""
        url = self._settings.environment.get("DATABASE_URL", "")
        prefix = "sqlite:///"
        if not url.startswith(prefix) or not url[len(prefix) :].startswith("/"):
            return None
        migrated = self._workdir / "migrated.db"
        migration = subprocess.Popen(
            [sys.executable, "-m", "app.migrate"],
            env={**os.environ, "DATABASE_URL": f"{prefix}{migrated}"},
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        return migration, migrated, url[len(prefix) :]

    def _with_database(self, spec: docker_run.LocalSpec, task: Task) -> docker_run.LocalSpec:
        if self._database is None:
            return spec
        migration, migrated, target = self._database
        with self._migration_lock:
            _, errors = migration.communicate(timeout=120)
        if migration.returncode != 0:
            raise RuntimeError(f"migrating the rehearsal database: {(errors or '')[-500:]}")
        copy = self._workdir / f"{task.name}.db"
        shutil.copyfile(migrated, copy)
        copy.chmod(0o666)  # the container's user is not this machine's
        mount = ["--mount", f"type=bind,src={copy},dst={target}"]
        return dataclasses.replace(spec, args=[*spec.args, *mount])

    def _stop(self, task: Task) -> None:
        if task.slot is not None:
            self.balancer.deregister(task.group, task.slot, delay=self._delay)
        task.state = "stopped"
        docker_run.remove(task.name)
        self._reporter.step(f"docker: {task.taskdef.rsplit('/', 1)[-1]} ({task.tag}) stopped")


def _weights(shares: dict[str, float]) -> dict[str, int]:
    return {group: round(share) for group, share in shares.items()}
