"""The VPC across two AZs and the three security-group paths:
internet -> ALB (80/443), ALB -> tasks (container port), tasks -> database (5432).

Tasks run in private subnets behind NAT gateways by default. `public_task_subnets` is the
cheaper option for staging: tasks in the public subnets with a public IP and no NAT gateway;
their security group still admits only the load balancer (docs/infrastructure.md: cost)."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.checks import acknowledge, ignore_cfn_lint, skip_checkov

DB_PORT = 5432


class Network(Construct):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        cidr: str,
        availability_zones: Sequence[str],
        nat_gateways: int,
        public_task_subnets: bool,
        container_port: int,
        flow_log_bucket: s3.IBucket,
        project: str,
    ) -> None:
        super().__init__(scope, id)
        self.public_task_subnets = public_task_subnets
        subnets = [
            ec2.SubnetConfiguration(name="public", subnet_type=ec2.SubnetType.PUBLIC, cidr_mask=24)
        ]
        if not public_task_subnets:
            subnets.append(
                ec2.SubnetConfiguration(
                    name="app", subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS, cidr_mask=22
                )
            )
        subnets.append(
            ec2.SubnetConfiguration(
                name="data", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED, cidr_mask=24
            )
        )
        self.vpc = ec2.Vpc(
            self,
            "Vpc",
            ip_addresses=ec2.IpAddresses.cidr(cidr),
            availability_zones=list(availability_zones),
            nat_gateways=0 if public_task_subnets else nat_gateways,
            subnet_configuration=subnets,
            # Nothing uses the default security group; restricting it needs a Lambda-backed
            # custom resource, which costs more review surface than it removes.
            restrict_default_security_group=False,
        )
        for subnet in [
            *self.vpc.public_subnets,
            *self.vpc.private_subnets,
            *self.vpc.isolated_subnets,
        ]:
            ignore_cfn_lint(
                subnet,
                {
                    "W3010": "AZs are explicit on purpose (config): the subnet layout, and so the "
                    "CIDRs, must not change if the account's AZ list does."
                },
            )
        self.vpc.add_flow_log(
            "FlowLog",
            destination=ec2.FlowLogDestination.to_s3(flow_log_bucket, "vpc-flow-logs/"),
            traffic_type=ec2.FlowLogTrafficType.ALL,
        )
        self.task_subnets = ec2.SubnetSelection(
            subnet_type=ec2.SubnetType.PUBLIC
            if public_task_subnets
            else ec2.SubnetType.PRIVATE_WITH_EGRESS
        )
        self.data_subnets = ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)

        # The descriptions carry the project's name (changing one replaces the group).
        self.alb_sg = self._group(
            "LoadBalancer", f"{project} load balancer: HTTP/HTTPS from anywhere"
        )
        self.task_sg = self._group(
            "Tasks", f"{project} tasks: the container port from the ALB only"
        )
        self.db_sg = self._group("Database", f"{project} database: PostgreSQL from the tasks only")
        for port in (80, 443):
            self.alb_sg.add_ingress_rule(
                ec2.Peer.any_ipv4(), ec2.Port.tcp(port), f"HTTP(S) from the internet ({port})"
            )
        acknowledge(
            self.alb_sg,
            {
                "AwsSolutions-EC23": "The public entry point: the ALB answers the internet on "
                "80 (redirect or plain HTTP) and 443; nothing else is open.",
            },
        )
        skip_checkov(
            self.alb_sg,
            {
                "CKV_AWS_260": "Port 80 is open on the public ALB to redirect to HTTPS (or to "
                "serve HTTP until a certificate is configured)."
            },
        )
        self._allow(self.alb_sg, self.task_sg, container_port, "ALB to the container port")
        self._allow(self.task_sg, self.db_sg, DB_PORT, "tasks to PostgreSQL")
        # Tasks reach AWS APIs (ECR, Logs, Secrets Manager) over HTTPS through NAT or their IP.
        self.task_sg.add_egress_rule(ec2.Peer.any_ipv4(), ec2.Port.tcp(443), "AWS APIs over HTTPS")

    def _group(self, id: str, description: str) -> ec2.SecurityGroup:
        return ec2.SecurityGroup(
            self, id, vpc=self.vpc, description=description, allow_all_outbound=False
        )

    @staticmethod
    def _allow(
        source: ec2.SecurityGroup, target: ec2.SecurityGroup, port: int, description: str
    ) -> None:
        target.add_ingress_rule(source, ec2.Port.tcp(port), description)
        source.add_egress_rule(target, ec2.Port.tcp(port), description)
