"""A model of the AWS the deployer talks to: moto's server in-process, plus documented ECS and
ECR behaviour moto lacks, per-call fault injection and stale reads. Test support and the
`autopipe rehearse` backend; not part of the product's wheel."""

from ecs_model.emulator import Emulator, TaskRunner
from ecs_model.faults import Fault, Faults, Injection
from ecs_model.policy import Policy

__all__ = ["Emulator", "Fault", "Faults", "Injection", "Policy", "TaskRunner"]
