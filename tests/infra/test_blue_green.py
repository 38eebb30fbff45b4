"""Blue/green, canary: the alternate target group, the production and test listener rules, the
test-traffic secret, the ECS infrastructure role and the service's advancedConfiguration and
strategy (infra/constructs/traffic_shift.py); rolling environments have none of it; and a stack
update leaves the rules, whose weights ECS owns, untouched (aws/aws-cdk#36649)."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

from tests.infra.cfn import as_list, resolve, statements
from tests.infra.conftest import Synth

STAGING, PRODUCTION, CHEAP = "AutoPipe-staging", "AutoPipe-production", "AutoPipe-cheap"
SHIFTING = (STAGING, PRODUCTION, CHEAP)
RULE = "AWS::ElasticLoadBalancingV2::ListenerRule"
TARGET_GROUP = "AWS::ElasticLoadBalancingV2::TargetGroup"
HEADER = "X-Autopipe-Test-Traffic"  # autopipe.toml's test_header (its default)


def service(template: dict[str, Any]) -> dict[str, Any]:
    (found,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::ECS::Service"]
    return found["Properties"]  # type: ignore[no-any-return]


def rules(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {k: r for k, r in template["Resources"].items() if r["Type"] == RULE}


def bare(resources: dict[str, Any]) -> dict[str, Any]:
    """Without Metadata (its construct paths name the stack, which differs between variants)."""
    return {k: {f: v for f, v in r.items() if f != "Metadata"} for k, r in resources.items()}


def advanced(template: dict[str, Any]) -> dict[str, Any]:
    (balancer,) = service(template)["LoadBalancers"]
    return balancer["AdvancedConfiguration"]  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    ("stack", "expected"),
    [
        (STAGING, {"Strategy": "BLUE_GREEN", "BakeTimeInMinutes": 2}),
        (
            PRODUCTION,
            {
                "Strategy": "CANARY",
                "BakeTimeInMinutes": 10,
                "CanaryConfiguration": {"CanaryPercent": 5, "CanaryBakeTimeInMinutes": 10},
            },
        ),
    ],
)
def test_the_service_carries_the_strategy(synth: Synth, stack: str, expected: Any) -> None:
    config = service(synth.template(stack))["DeploymentConfiguration"]
    assert {k: config.get(k) for k in expected} == expected
    # The guards the rolling service had stay on.
    assert config["DeploymentCircuitBreaker"] == {"Enable": True, "Rollback": True}
    assert config["Alarms"]["Enable"] is True


@pytest.mark.parametrize("stack", SHIFTING)
def test_the_alternate_target_group_is_checked_like_the_primary(synth: Synth, stack: str) -> None:
    template = synth.template(stack)
    groups = {
        k: r["Properties"] for k, r in template["Resources"].items() if r["Type"] == TARGET_GROUP
    }
    assert len(groups) == 2
    (balancer,) = service(template)["LoadBalancers"]
    primary = balancer["TargetGroupArn"]["Ref"]
    alternate = advanced(template)["AlternateTargetGroupArn"]["Ref"]
    assert {primary, alternate} == set(groups)
    assert groups[alternate]["HealthCheckPath"] == "/health"
    assert groups[alternate] == groups[primary]


@pytest.mark.parametrize(("stack", "port"), [(STAGING, 443), (PRODUCTION, 443), (CHEAP, 80)])
def test_both_rules_sit_on_the_service_listener(synth: Synth, stack: str, port: int) -> None:
    template = synth.template(stack)
    listeners = {
        k: r["Properties"]["Port"]
        for k, r in template["Resources"].items()
        if r["Type"] == "AWS::ElasticLoadBalancingV2::Listener"
    }
    config = advanced(template)
    found = rules(template)
    for key in ("ProductionListenerRule", "TestListenerRule"):
        rule_id = config[key]["Fn::GetAtt"][0]
        assert config[key]["Fn::GetAtt"][1] == "RuleArn"
        rule = found[rule_id]["Properties"]
        assert listeners[rule["ListenerArn"]["Ref"]] == port
        (action,) = rule["Actions"]
        weights = {
            g["TargetGroupArn"]["Ref"]: g["Weight"] for g in action["ForwardConfig"]["TargetGroups"]
        }
        (balancer,) = service(template)["LoadBalancers"]
        assert weights == {
            balancer["TargetGroupArn"]["Ref"]: 1,
            config["AlternateTargetGroupArn"]["Ref"]: 0,
        }
    production = found[config["ProductionListenerRule"]["Fn::GetAtt"][0]]["Properties"]
    test = found[config["TestListenerRule"]["Fn::GetAtt"][0]]["Properties"]
    assert production["Conditions"] == [
        {"Field": "path-pattern", "PathPatternConfig": {"Values": ["/*"]}}
    ]
    # The test rule is evaluated first; the internal paths' 404 before both.
    internal = [
        r["Properties"]["Priority"]
        for r in found.values()
        if "FixedResponseConfig" in json.dumps(r)
    ]
    assert internal
    assert max(internal) < test["Priority"] < production["Priority"]


@pytest.mark.parametrize("stack", SHIFTING)
def test_the_test_rule_matches_the_header_by_dynamic_reference(synth: Synth, stack: str) -> None:
    template = synth.template(stack)
    rule_id = advanced(template)["TestListenerRule"]["Fn::GetAtt"][0]
    (condition,) = template["Resources"][rule_id]["Properties"]["Conditions"]
    assert condition["Field"] == "http-header"
    config = condition["HttpHeaderConfig"]
    assert config["HttpHeaderName"] == HEADER
    (value,) = config["Values"]
    secrets = {
        k: r["Properties"]
        for k, r in template["Resources"].items()
        if r["Type"] == "AWS::SecretsManager::Secret"
    }
    env = stack.removeprefix("AutoPipe-")
    (secret_id,) = [k for k, p in secrets.items() if p["Name"] == f"auto-pipe/{env}/test-traffic"]
    assert (
        resolve(value, {secret_id: "SECRET"}) == "{{resolve:secretsmanager:SECRET:SecretString:::}}"
    )
    generated = secrets[secret_id]["GenerateSecretString"]
    assert generated["ExcludePunctuation"] is True  # no ALB wildcard characters in the value
    assert "SecretString" not in secrets[secret_id]  # generated by AWS, never in the template


@pytest.mark.parametrize("stack", SHIFTING)
def test_the_infrastructure_role_is_scoped_to_this_listener(synth: Synth, stack: str) -> None:
    template = synth.template(stack)
    config = advanced(template)
    role_id = config["RoleArn"]["Fn::GetAtt"][0]
    role = template["Resources"][role_id]["Properties"]
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "ecs.amazonaws.com"}
    assert trust["Action"] == "sts:AssumeRole"
    assert "ManagedPolicyArns" not in role
    refs = {
        "ProductionRule": config["ProductionListenerRule"]["Fn::GetAtt"][0],
        "TestRule": config["TestListenerRule"]["Fn::GetAtt"][0],
    }
    granted: dict[str, set[str]] = {}
    for owner, statement in statements(template):
        if owner != role_id:
            continue
        assert statement["Effect"] == "Allow"
        for action in as_list(statement["Action"]):
            granted.setdefault(action, set()).update(
                json.dumps(r, sort_keys=True) for r in as_list(statement["Resource"])
            )
    (balancer,) = service(template)["LoadBalancers"]
    groups = {
        json.dumps(g, sort_keys=True)
        for g in (balancer["TargetGroupArn"], config["AlternateTargetGroupArn"])
    }
    rule_arns = {json.dumps({"Fn::GetAtt": [r, "RuleArn"]}, sort_keys=True) for r in refs.values()}
    rule_listener = {
        json.dumps(template["Resources"][r]["Properties"]["ListenerArn"], sort_keys=True)
        for r in refs.values()
    }
    elb = "elasticloadbalancing:"
    assert granted == {
        f"{elb}DescribeListeners": {'"*"'},
        f"{elb}DescribeRules": {'"*"'},
        f"{elb}DescribeTargetGroups": {'"*"'},
        f"{elb}DescribeTargetHealth": {'"*"'},
        f"{elb}RegisterTargets": groups,
        f"{elb}DeregisterTargets": groups,
        f"{elb}ModifyRule": rule_arns,
        f"{elb}ModifyListener": rule_listener,
    }


def test_the_deploy_role_reads_the_secret_the_stack_makes(synth: Synth) -> None:
    """The name the bootstrap stack's deploy role may read is the secret's name here."""
    template = synth.template(STAGING)
    (name,) = [
        r["Properties"]["Name"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::SecretsManager::Secret"
        and r["Properties"]["Name"].endswith("/test-traffic")
    ]
    bootstrap = synth.template(f"{STAGING}-Bootstrap")
    readable = [
        resolve(r)
        for _, s in statements(bootstrap)
        if "secretsmanager:GetSecretValue" in as_list(s["Action"])
        for r in as_list(s["Resource"])
    ]
    assert [r.rsplit(":", 1)[1] for r in readable] == [f"{name}-??????"]


# --- a stack update, and a rolling environment, synthesized side by side -----------------


@pytest.fixture(scope="module")
def variants(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """One app, three service stacks from staging's configuration: as deployed ("before"),
    after an update that changes nothing about the load balancer ("after": the service's
    sizing and the task's settings), and the same environment configured rolling."""
    import aws_cdk as cdk  # noqa: PLC0415 - after conftest's toolchain check

    from infra import config as cfg  # noqa: PLC0415
    from infra import taskdef_template  # noqa: PLC0415
    from infra.app import FEATURE_FLAGS  # noqa: PLC0415
    from infra.stacks.service import ServiceStack  # noqa: PLC0415

    staging = cfg.load("staging", cfg.checked_in_context().get)
    configs = {
        "before": staging,
        "after": dataclasses.replace(
            staging,
            min_tasks=2,
            max_tasks=4,
            app_log_level="DEBUG",
            health_check_grace_seconds=90,
            log_retention_days=90,
        ),
        "rolling": dataclasses.replace(staging, deployment_strategy="rolling"),
    }
    template = taskdef_template.load(taskdef_template.DEFAULT_PATH)
    where = cdk.Environment(account=staging.account, region=staging.region)
    out = {}
    for name, config in configs.items():
        # One app each, the same stack name: logical ids and hashes carry the stack's path.
        outdir = tmp_path_factory.mktemp(name)
        app = cdk.App(outdir=str(outdir), context=dict(FEATURE_FLAGS))
        ServiceStack(app, "AutoPipe-staging", config=config, template=template, env=where)
        app.synth()
        out[name] = json.loads((outdir / "AutoPipe-staging.template.json").read_text())
    return out


def test_an_update_leaves_the_listener_rules_alone(variants: dict[str, dict[str, Any]]) -> None:
    before, after = variants["before"], variants["after"]
    # The update is real: CloudFormation would change the service and the task definition...
    assert service(before) != service(after)
    old, new = bare(before["Resources"]), bare(after["Resources"])
    changed = {k for k in old if old[k] != new.get(k)}
    assert len(changed) >= 2
    # ...and none of the listener rules, so it never writes their actions (ECS's weights) back.
    assert bare(rules(before)) == bare(rules(after))
    assert set(rules(before)).isdisjoint(changed)
    assert advanced(before) == advanced(after)


def test_the_rules_depend_on_nothing_the_configuration_holds(
    variants: dict[str, dict[str, Any]],
) -> None:
    """Their properties reference only the listener, the two target groups and the secret."""
    template = variants["before"]
    kinds = ("AWS::ElasticLoadBalancingV2::Listener", TARGET_GROUP, "AWS::SecretsManager::Secret")
    allowed = {k for k, r in template["Resources"].items() if r["Type"] in kinds}
    for rule in rules(template).values():
        text = json.dumps(rule["Properties"])
        referenced = {k for k in template["Resources"] if f'"{k}"' in text}
        assert referenced <= allowed, referenced - allowed


def test_a_rolling_environment_has_none_of_it(variants: dict[str, dict[str, Any]]) -> None:
    rolling, shifting = variants["rolling"], variants["before"]
    balancer = service(rolling)["LoadBalancers"]
    assert [set(b) for b in balancer] == [{"ContainerName", "ContainerPort", "TargetGroupArn"}]
    assert "Strategy" not in service(rolling)["DeploymentConfiguration"]
    assert len([r for r in rolling["Resources"].values() if r["Type"] == TARGET_GROUP]) == 1
    # Exactly the traffic-shifting resources are the difference between the two.
    # (by logical id: the construct paths TrafficShift/..., LoadBalancer/AlternateTargets/...)
    extra = {
        k
        for k in shifting["Resources"]
        if k.startswith(("TrafficShift", "LoadBalancerAlternateTargets"))
    }
    assert extra
    assert set(rolling["Resources"]) == set(shifting["Resources"]) - extra
    service_id = next(
        k for k, r in rolling["Resources"].items() if r["Type"] == "AWS::ECS::Service"
    )
    ours, theirs = bare(rolling["Resources"]), bare(shifting["Resources"])
    for key in set(ours) - {service_id}:
        assert ours[key] == theirs[key], key
    assert set(shifting["Outputs"]) - set(rolling["Outputs"]) == {
        "TestTrafficSecretName",
        "AlternateTargetGroupArn",
    }
