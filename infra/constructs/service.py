"""The cluster `auto-pipe-cluster` (Container Insights on) and the Fargate service
`auto-pipe-service`, with the deployment guards:
- rolling update at 100 % minimum healthy / 200 % maximum: capacity never drops;
- the deployment circuit breaker rolls back a rollout whose tasks keep failing;
- deployment alarms roll back a rollout that turns them red (5xx rate, p99 latency...);
- a health-check grace period so slow starts are not killed by the ALB health check;
- target tracking on CPU and on requests per target, between the environment's min and max.

The template sets no DesiredCount: autoscaling owns the task count (its minimum is the
environment's floor), so an infrastructure deploy never scales a busy service back down.

One owner for the running task definition: `autopipe deploy` (under the deploy lock, after the
migration, guarded by the smoke test). The service names its task definition by *family*, a
constant, not by the ARN of the stack's revision: the stack's task definition (which reads the
recorded release) is what ECS runs when the service is first created, but whatever an infra
deploy changes in it, or in the release it reads, registers a revision and never changes the
service's TaskDefinition property, so CloudFormation never starts a deployment of its own.
A family without a revision means the latest ACTIVE revision, resolved when the service is
created or the property is sent; should CloudFormation send it with another change to the
service itself, that revision is the stack's, which carries the recorded release (the image
running now), so even then nothing is reverted (docs/infrastructure.md: one owner):
https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_CreateService.html
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Duration
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from constructs import Construct

from infra.checks import acknowledge, skip_checkov


class FargateApp(Construct):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        cluster_name: str,
        service_name: str,
        vpc: ec2.IVpc,
        subnets: ec2.SubnetSelection,
        assign_public_ip: bool,
        security_group: ec2.ISecurityGroup,
        task_definition: ecs.FargateTaskDefinition,
        target_group: elbv2.ApplicationTargetGroup,
        min_tasks: int,
        max_tasks: int,
        cpu_target_percent: int,
        requests_per_target_per_minute: int,
        health_check_grace_seconds: int,
        enable_execute_command: bool,
        deployment_alarm_names: Sequence[str],
    ) -> None:
        super().__init__(scope, id)
        self.cluster = ecs.Cluster(
            self,
            "Cluster",
            cluster_name=cluster_name,
            vpc=vpc,
            container_insights_v2=ecs.ContainerInsights.ENABLED,
        )
        self.service = ecs.FargateService(
            self,
            "Service",
            service_name=service_name,
            cluster=self.cluster,
            task_definition=task_definition,
            # The family, not this revision's ARN: see the module docstring.
            task_definition_revision=ecs.TaskDefinitionRevision.LATEST,
            min_healthy_percent=100,
            max_healthy_percent=200,
            circuit_breaker=ecs.DeploymentCircuitBreaker(enable=True, rollback=True),
            deployment_alarms=ecs.DeploymentAlarmConfig(
                alarm_names=list(deployment_alarm_names),
                behavior=ecs.AlarmBehavior.ROLLBACK_ON_ALARM,
            ),
            health_check_grace_period=Duration.seconds(health_check_grace_seconds),
            enable_execute_command=enable_execute_command,
            vpc_subnets=subnets,
            assign_public_ip=assign_public_ip,
            security_groups=[security_group],
            platform_version=ecs.FargatePlatformVersion.LATEST,
            propagate_tags=ecs.PropagatedTagSource.SERVICE,
        )
        self.service.attach_to_application_target_group(target_group)
        # The family string carries no reference: order the first revision before the service.
        self.service.node.add_dependency(task_definition)
        if assign_public_ip:
            skip_checkov(
                self.service,
                {
                    "CKV_AWS_333": "The cheaper staging option (no NAT gateway): tasks get a "
                    "public IP for egress; their security group admits the load balancer only."
                },
            )
        if enable_execute_command:
            reason = (
                "ECS Exec (staging only; config forbids it in production): the ssmmessages "
                "channel actions have no resource-level permissions."
            )
            acknowledge(task_definition.task_role, {"AwsSolutions-IAM5[Resource::*]": reason})
            policy = task_definition.task_role.node.find_child("DefaultPolicy")
            skip_checkov(policy, {"CKV_AWS_111": reason})
        scaling = self.service.auto_scale_task_count(min_capacity=min_tasks, max_capacity=max_tasks)
        scaling.scale_on_cpu_utilization(
            "Cpu",
            target_utilization_percent=cpu_target_percent,
            scale_in_cooldown=Duration.seconds(300),
            scale_out_cooldown=Duration.seconds(60),
        )
        scaling.scale_on_request_count(
            "Requests",
            requests_per_target=requests_per_target_per_minute,
            target_group=target_group,
            scale_in_cooldown=Duration.seconds(300),
            scale_out_cooldown=Duration.seconds(60),
        )
