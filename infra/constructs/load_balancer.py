"""The public Application Load Balancer and the service's target group.

- the target group checks `/health`, the liveness probe: "this process can serve" (started,
  event loop answering, not draining), never the database. ECS replaces targets the load
  balancer marks unhealthy, so a check that follows a shared dependency would restart every
  task, in a loop, during a database outage (docs/infrastructure.md: health checks);
- deregistration delay 30 s: longer than the app's 20 s SIGTERM drain, far below the 300 s
  default that would slow every deploy (ECS waits for it before stopping a task);
- with TLS: HTTPS on 443 with a TLS 1.3 + 1.2 policy and HTTP 80 redirecting to it; the
  certificate is imported by ARN or created here, DNS-validated in the given Route 53 zone,
  where the alias record is created too. Without TLS (staging only): plain HTTP on 80;
- internal paths (`/metrics`) answer 404 at the load balancer: only the task's own network
  namespace (the ADOT sidecar, a scraper inside the VPC) reaches them;
- access logs to the log bucket; invalid header fields dropped (request smuggling);
- for a strategy that shifts traffic, an alternate target group with the same settings."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Duration
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_route53 as route53
from aws_cdk import aws_route53_targets as targets
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.checks import skip_checkov

DEREGISTRATION_DELAY_SECONDS = 30
HEALTH_CHECK_PATH = "/health"
# TLS 1.3 and 1.2 only, AWS's recommended policy for new listeners:
# https://docs.aws.amazon.com/elasticloadbalancing/latest/application/describe-ssl-policies.html
SSL_POLICY = elbv2.SslPolicy.RECOMMENDED_TLS


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
        domain_name: str | None,
        certificate_arn: str | None,
        hosted_zone_id: str | None,
        hosted_zone_name: str | None,
        internal_paths: Sequence[str],
        deletion_protection: bool,
        alternate: bool = False,
    ) -> None:
        super().__init__(scope, id)
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
        self.target_group = self._targets("Targets", vpc, container_port)
        # Blue/green, canary, linear: ECS moves traffic between this pair of target groups,
        # both checked alike (infra/constructs/traffic_shift.py).
        self.alternate_target_group = (
            self._targets("AlternateTargets", vpc, container_port) if alternate else None
        )
        zone = (
            route53.HostedZone.from_hosted_zone_attributes(
                self, "Zone", hosted_zone_id=hosted_zone_id, zone_name=hosted_zone_name
            )
            if hosted_zone_id and hosted_zone_name
            else None
        )
        certificate = self._certificate(domain_name, certificate_arn, zone)
        self.https = certificate is not None
        if certificate is not None:
            self.listener = self.alb.add_listener(
                "Https",
                port=443,
                protocol=elbv2.ApplicationProtocol.HTTPS,
                certificates=[certificate],
                ssl_policy=SSL_POLICY,
                default_target_groups=[self.target_group],
                open=False,
            )
            self.alb.add_redirect(source_port=80, target_port=443, open=False)
        else:
            self.listener = self.alb.add_listener(
                "Http",
                port=80,
                protocol=elbv2.ApplicationProtocol.HTTP,
                default_target_groups=[self.target_group],
                open=False,
            )
            reason = (
                "Staging without a domain: plain HTTP (the stack's Tls output says so); "
                "production refuses to synthesize without TLS (infra/config.py)."
            )
            skip_checkov(self.listener, {"CKV_AWS_2": reason, "CKV_AWS_103": reason})
        if zone is not None and domain_name:
            route53.ARecord(
                self,
                "Alias",
                zone=zone,
                record_name=domain_name,
                target=route53.RecordTarget.from_alias(targets.LoadBalancerTarget(self.alb)),
            )
        if internal_paths:
            elbv2.ApplicationListenerRule(
                self,
                "InternalPaths",
                listener=self.listener,
                priority=1,
                conditions=[elbv2.ListenerCondition.path_patterns(list(internal_paths))],
                action=elbv2.ListenerAction.fixed_response(
                    404, content_type="text/plain", message_body="Not Found"
                ),
            )

    def _targets(self, id: str, vpc: ec2.IVpc, port: int) -> elbv2.ApplicationTargetGroup:
        return elbv2.ApplicationTargetGroup(
            self,
            id,
            vpc=vpc,
            port=port,
            protocol=elbv2.ApplicationProtocol.HTTP,
            target_type=elbv2.TargetType.IP,
            deregistration_delay=Duration.seconds(DEREGISTRATION_DELAY_SECONDS),
            health_check=elbv2.HealthCheck(
                path=HEALTH_CHECK_PATH,
                healthy_http_codes="200",
                interval=Duration.seconds(10),
                timeout=Duration.seconds(5),
                healthy_threshold_count=2,
                unhealthy_threshold_count=3,
            ),
        )

    def _certificate(
        self, domain_name: str | None, arn: str | None, zone: route53.IHostedZone | None
    ) -> elbv2.IListenerCertificate | None:
        if arn:
            return elbv2.ListenerCertificate.from_arn(arn)
        if zone is None or not domain_name:
            return None
        created = acm.Certificate(
            self,
            "Certificate",
            domain_name=domain_name,
            validation=acm.CertificateValidation.from_dns(zone),
            transparency_logging_enabled=True,
        )
        return elbv2.ListenerCertificate.from_certificate_manager(created)
