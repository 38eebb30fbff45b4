"""The Fargate service, its task, the load balancer and autoscaling."""

from __future__ import annotations

import pytest
from aws_cdk.assertions import Match

from autopipe.config import load_settings
from tests.infra.conftest import ROOT, TEST_CERTIFICATE, Synth

STAGING, PRODUCTION, CHEAP = "AutoPipe-staging", "AutoPipe-production", "AutoPipe-cheap"


def deployer_alarms(env: str) -> tuple[str, ...]:
    """The alarms as the deployer loads them (autopipe.toml names them by `{prefix}`)."""
    return load_settings(config=ROOT / "autopipe.toml", env=env, environ={}).alarms


@pytest.mark.parametrize("stack", [STAGING, PRODUCTION])
def test_rollouts_roll_back_on_circuit_breaker_and_alarms(synth: Synth, stack: str) -> None:
    env = stack.split("-")[1]
    service = synth.one(stack, "AWS::ECS::Service")
    deployment = service["DeploymentConfiguration"]
    assert deployment["DeploymentCircuitBreaker"] == {"Enable": True, "Rollback": True}
    assert deployment["Alarms"]["Enable"] is True
    assert deployment["Alarms"]["Rollback"] is True
    assert (deployment["MinimumHealthyPercent"], deployment["MaximumPercent"]) == (100, 200)
    alarm_names = deployment["Alarms"]["AlarmNames"]
    defined = {
        a["Properties"]["AlarmName"]
        for a in synth.resources(stack, "AWS::CloudWatch::Alarm").values()
    }
    assert set(alarm_names) <= defined
    # The alarms autopipe watches during its own rollouts are the same ones.
    assert deployer_alarms(env)
    assert set(deployer_alarms(env)) <= set(alarm_names)
    assert service["HealthCheckGracePeriodSeconds"] >= 30
    assert service["ServiceName"] == "auto-pipe-service"
    assert service["LaunchType"] == "FARGATE"


def test_execute_command_is_off_in_production(synth: Synth) -> None:
    assert synth.one(PRODUCTION, "AWS::ECS::Service")["EnableExecuteCommand"] is False


@pytest.mark.parametrize("stack", [STAGING, PRODUCTION])
def test_autoscaling_owns_the_task_count(synth: Synth, stack: str) -> None:
    service = synth.one(stack, "AWS::ECS::Service")
    assert "DesiredCount" not in service  # an infra deploy never resets a scaled-out service
    target = synth.one(stack, "AWS::ApplicationAutoScaling::ScalableTarget")
    floor = 2 if stack == PRODUCTION else 1
    assert target["MinCapacity"] == floor
    assert target["MaxCapacity"] > floor
    metrics = {
        p["Properties"]["TargetTrackingScalingPolicyConfiguration"][
            "PredefinedMetricSpecification"
        ]["PredefinedMetricType"]
        for p in synth.resources(stack, "AWS::ApplicationAutoScaling::ScalingPolicy").values()
    }
    assert metrics == {"ECSServiceAverageCPUUtilization", "ALBRequestCountPerTarget"}


@pytest.mark.parametrize("stack", [STAGING, PRODUCTION])
def test_cluster_has_container_insights(synth: Synth, stack: str) -> None:
    cluster = synth.one(stack, "AWS::ECS::Cluster")
    assert cluster["ClusterName"] == "auto-pipe-cluster"
    assert {"Name": "containerInsights", "Value": "enabled"} in cluster["ClusterSettings"]


@pytest.mark.parametrize("stack", [STAGING, PRODUCTION])
def test_task_runs_non_root_read_only_without_capabilities(synth: Synth, stack: str) -> None:
    task = synth.one(stack, "AWS::ECS::TaskDefinition")
    (container,) = task["ContainerDefinitions"]
    assert container["User"] == "10001:10001"
    assert container["ReadonlyRootFilesystem"] is True
    assert container["LinuxParameters"]["Capabilities"]["Drop"] == ["ALL"]
    assert "Privileged" not in container
    assert (task["Cpu"], task["Memory"], task["Family"]) == ("256", "512", "auto-pipe-task")


@pytest.mark.parametrize("stack", [STAGING, PRODUCTION])
def test_task_gets_database_settings_and_secrets(synth: Synth, stack: str) -> None:
    (container,) = synth.one(stack, "AWS::ECS::TaskDefinition")["ContainerDefinitions"]
    env = {e["Name"]: e["Value"] for e in container["Environment"]}
    assert env["DB_HOST"]["Fn::GetAtt"][1] == "Endpoint.Address"
    assert env["DB_PORT"]["Fn::GetAtt"][1] == "Endpoint.Port"
    assert (env["DB_NAME"], env["DB_USER"]) == ("app", "app")
    secrets = {s["Name"]: s["ValueFrom"]["Fn::Join"][1][-1] for s in container["Secrets"]}
    assert secrets == {"API_KEYS": ":API_KEYS::", "DB_PASSWORD": ":password::"}
    assert not {"API_KEYS", "DB_PASSWORD"} & set(env)


@pytest.mark.parametrize("stack", [STAGING, PRODUCTION])
def test_load_balancer(synth: Synth, stack: str) -> None:
    template = synth.assertions(stack)
    template.has_resource_properties(
        "AWS::ElasticLoadBalancingV2::LoadBalancer",
        {
            "Scheme": "internet-facing",
            "LoadBalancerAttributes": Match.array_with(
                [
                    {"Key": "routing.http.drop_invalid_header_fields.enabled", "Value": "true"},
                    {"Key": "access_logs.s3.enabled", "Value": "true"},
                ]
            ),
        },
    )
    template.has_resource_properties(
        "AWS::ElasticLoadBalancingV2::TargetGroup",
        {
            "HealthCheckPath": "/health",
            "Port": 8080,
            "TargetType": "ip",
            "TargetGroupAttributes": Match.array_with(
                [{"Key": "deregistration_delay.timeout_seconds", "Value": "30"}]
            ),
        },
    )


def test_without_a_certificate_http_forwards(synth: Synth) -> None:
    (listener,) = synth.resources(CHEAP, "AWS::ElasticLoadBalancingV2::Listener").values()
    props = listener["Properties"]
    assert (props["Port"], props["Protocol"]) == (80, "HTTP")
    assert props["DefaultActions"][0]["Type"] == "forward"


def test_with_a_certificate_https_serves_and_http_redirects(synth: Synth) -> None:
    listeners = {
        r["Properties"]["Port"]: r["Properties"]
        for r in synth.resources(
            "AutoPipe-imported", "AWS::ElasticLoadBalancingV2::Listener"
        ).values()
    }
    assert set(listeners) == {80, 443}
    https = listeners[443]
    assert https["Protocol"] == "HTTPS"
    assert https["Certificates"] == [{"CertificateArn": TEST_CERTIFICATE}]
    assert https["SslPolicy"].startswith("ELBSecurityPolicy-TLS13")
    redirect = listeners[80]["DefaultActions"][0]
    assert redirect["Type"] == "redirect"
    assert redirect["RedirectConfig"]["Protocol"] == "HTTPS"
    assert redirect["RedirectConfig"]["StatusCode"] == "HTTP_301"
