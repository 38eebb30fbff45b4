"""The public Application Load Balancer and the service's target group.

- health check on `/ready` (a database round trip), so a task that cannot serve is drained;
- deregistration delay 30 s: longer than the app's 20 s SIGTERM drain, far below the 300 s
  default that would slow every deploy (ECS waits for it before stopping a task);
- with a certificate: HTTPS on 443 (TLS 1.3/1.2 policy) and HTTP 80 redirects to it;
  without one: plain HTTP on 80 (staging before a domain exists);
- access logs to the log bucket; invalid header fields dropped (request smuggling)."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.checks import skip_checkov

DEREGISTRATION_DELAY_SECONDS = 30


class LoadBalancer(Construct):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        vpc: ec2.IVpc,
        security_group: ec2.ISecurityGroup,
        container_port: int,
        access_logs: s3.IBucket,
        certificate_arn: str | None,
        deletion_protection: bool,
    ) -> None:
        super().__init__(scope, id)
        self.https = certificate_arn is not None
        self.alb = elbv2.ApplicationLoadBalancer(
            self,
            "Alb",
            vpc=vpc,
            internet_facing=True,
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PUBLIC),
            security_group=security_group,
            drop_invalid_header_fields=True,
            deletion_protection=deletion_protection,
            idle_timeout=Duration.seconds(60),
        )
        self.alb.log_access_logs(access_logs, "alb")
        if not deletion_protection:
            skip_checkov(
                self.alb,
                {
                    "CKV_AWS_150": "Deletion protection is a per-environment setting "
                    "(on in production); staging is torn down freely."
                },
            )
        self.target_group = elbv2.ApplicationTargetGroup(
            self,
            "Targets",
            vpc=vpc,
            port=container_port,
            protocol=elbv2.ApplicationProtocol.HTTP,
            target_type=elbv2.TargetType.IP,
            deregistration_delay=Duration.seconds(DEREGISTRATION_DELAY_SECONDS),
            health_check=elbv2.HealthCheck(
                path="/ready",
                healthy_http_codes="200",
                interval=Duration.seconds(10),
                timeout=Duration.seconds(5),
                healthy_threshold_count=2,
                unhealthy_threshold_count=3,
            ),
        )
        if certificate_arn is not None:
            self.alb.add_listener(
                "Https",
                port=443,
                protocol=elbv2.ApplicationProtocol.HTTPS,
                certificates=[elbv2.ListenerCertificate.from_arn(certificate_arn)],
                ssl_policy=elbv2.SslPolicy.RECOMMENDED_TLS,
                default_target_groups=[self.target_group],
                open=False,
            )
            self.alb.add_redirect(source_port=80, target_port=443, open=False)
        else:
            http = self.alb.add_listener(
                "Http",
                port=80,
                protocol=elbv2.ApplicationProtocol.HTTP,
                default_target_groups=[self.target_group],
                open=False,
            )
            reason = (
                "No certificate ARN configured for this environment: plain HTTP until one is "
                "set (config certificate_arn), then 443 serves TLS and 80 redirects."
            )
            skip_checkov(http, {"CKV_AWS_2": reason, "CKV_AWS_103": reason})
