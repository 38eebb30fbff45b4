"""What ECS needs to shift traffic itself (blue/green, canary, linear), for the environments whose
`deployment_strategy` is not rolling; a rolling environment has none of it.

ECS's required resources for blue/green
(https://docs.aws.amazon.com/AmazonECS/latest/developerguide/blue-green-deployment-implementation.html):
- a second, alternate target group, checked like the primary (`/health`): the new revision's
  tasks register there (infra/constructs/load_balancer.py makes both alike);
- on the service's listener (HTTPS; plain HTTP where staging has no TLS) a *production* listener
  rule and a *test* listener rule, both forwarding to the pair of target groups. ECS rewrites
  their weights during a deployment (test traffic to the new tasks first, production after the
  gate, docs/deployer.md#strategies). The test rule matches the header `X-Autopipe-Test-Traffic`
  (autopipe.toml's `test_header`) equal to a value generated into a Secrets Manager secret here
  (`auto-pipe/<env>/test-traffic`, read by the deployer): the rule's condition takes it by a
  CloudFormation dynamic reference, so the value is never in the repository or the template
  (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/dynamic-references-secretsmanager.html);
- the ECS infrastructure role for load balancers, which ECS assumes to move the weights
  (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/AmazonECSInfrastructureRolePolicyForLoadBalancers.html).
  Its policy is the statements of the AWS managed policy
  AmazonECSInfrastructureRolePolicyForLoadBalancers (https://docs.aws.amazon.com/aws-managed-policy/latest/reference/AmazonECSInfrastructureRolePolicyForLoadBalancers.html)
  written inline and scoped to this listener, these two rules and these two target groups (the
  managed policy allows every load balancer of the account);
- the service's load balancer entry carries them in `advancedConfiguration`, and its
  `deploymentConfiguration.strategy` is the environment's
  (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_AdvancedConfiguration.html,
  https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_DeploymentConfiguration.html).

ECS owns the rules' weights once it has shifted traffic, and CloudFormation writes a listener
rule's Actions back only when the rule's own properties change (aws/aws-cdk#36649: a CDK rule
whose rendered actions change on an unrelated update resets the weights ECS set). So the rules
are L1 resources whose properties are constants of this module and of the two target groups'
references: nothing the environment's configuration, the release or any other construct holds
reaches them, so no infra deploy has a reason to rewrite them (tests/infra/test_blue_green.py
synthesizes an update and compares). Their initial weights, primary 1 and alternate 0, are the
shape ECS itself writes (a weighted forward over both groups), so the first deployment is the
only one that changes the rule's form.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import RemovalPolicy
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from autopipe.strategy import timings
from infra.checks import acknowledge, skip_checkov
from infra.config import EnvironmentConfig

TEST_HEADER = "X-Autopipe-Test-Traffic"  # autopipe/config.py's `test_header` default
# After the internal paths' 404 (priority 1), before everything else.
TEST_RULE_PRIORITY = 10
PRODUCTION_RULE_PRIORITY = 20
SECRET_LENGTH = 40  # an ALB header condition value holds up to 128 characters


class TrafficShift(Construct):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        listener: elbv2.IApplicationListener,
        primary: elbv2.ApplicationTargetGroup,
        alternate: elbv2.ApplicationTargetGroup,
        secret_name: str,
    ) -> None:
        super().__init__(scope, id)
        self.primary, self.alternate = primary, alternate
        self.secret = secretsmanager.Secret(
            self,
            "TestTrafficSecret",
            secret_name=secret_name,
            description=f"Value of the {TEST_HEADER} header the test listener rule matches",
            # Letters and digits only: ALB header values treat `*` and `?` as wildcards.
            generate_secret_string=secretsmanager.SecretStringGenerator(
                exclude_punctuation=True, include_space=False, password_length=SECRET_LENGTH
            ),
            removal_policy=RemovalPolicy.DESTROY,
        )
        reason = (
            "A routing token for the pre-traffic smoke test, not a credential to data: the "
            "deploy role reads it through the account's Secrets Manager key (a customer key "
            "would need a kms:Decrypt grant across stacks); replacing it is a stack update."
        )
        acknowledge(self.secret, {"AwsSolutions-SMG4": reason})
        skip_checkov(self.secret, {"CKV_AWS_149": reason})
        header_value = self.secret.secret_value.unsafe_unwrap()  # {{resolve:secretsmanager:...}}
        self.test_rule = self._rule(
            "TestRule",
            listener,
            TEST_RULE_PRIORITY,
            {"field": "http-header",
             "httpHeaderConfig": {"httpHeaderName": TEST_HEADER, "values": [header_value]}},
        )  # fmt: skip
        self.production_rule = self._rule(
            "ProductionRule",
            listener,
            PRODUCTION_RULE_PRIORITY,
            {"field": "path-pattern", "pathPatternConfig": {"values": ["/*"]}},
        )
        self.role = iam.Role(
            self,
            "InfrastructureRole",
            assumed_by=iam.ServicePrincipal("ecs.amazonaws.com"),
            description="ECS moves traffic between the target groups (blue/green, canary)",
            inline_policies={"ShiftTraffic": self._policy(listener)},
        )
        acknowledge(
            self.role,
            {
                "AwsSolutions-IAM5[Resource::*]": "The Describe calls ECS makes on the load "
                "balancer (listeners, rules, target groups, target health) have no "
                "resource-level permissions; every write is scoped to this listener, its two "
                "rules and its two target groups."
            },
        )

    def _rule(
        self, id: str, listener: elbv2.IApplicationListener, priority: int, condition: Any
    ) -> elbv2.CfnListenerRule:
        """A weighted forward over both groups, primary 1, alternate 0 (ECS's own form)."""
        groups = [
            {"targetGroupArn": self.primary.target_group_arn, "weight": 1},
            {"targetGroupArn": self.alternate.target_group_arn, "weight": 0},
        ]
        return elbv2.CfnListenerRule(
            self,
            id,
            listener_arn=listener.listener_arn,
            priority=priority,
            conditions=[condition],
            actions=[{"type": "forward", "forwardConfig": {"targetGroups": groups}}],
        )

    def _policy(self, listener: elbv2.IApplicationListener) -> iam.PolicyDocument:
        elb = "elasticloadbalancing"
        groups = [self.primary.target_group_arn, self.alternate.target_group_arn]
        return iam.PolicyDocument(
            statements=[
                iam.PolicyStatement(
                    sid="ELBReadOperations",
                    actions=[
                        f"{elb}:DescribeListeners",
                        f"{elb}:DescribeRules",
                        f"{elb}:DescribeTargetGroups",
                        f"{elb}:DescribeTargetHealth",
                    ],
                    resources=["*"],
                ),
                iam.PolicyStatement(
                    sid="TargetGroupOperations",
                    actions=[f"{elb}:RegisterTargets", f"{elb}:DeregisterTargets"],
                    resources=groups,
                ),
                iam.PolicyStatement(
                    sid="ALBModifyListeners",
                    actions=[f"{elb}:ModifyListener"],
                    resources=[listener.listener_arn],
                ),
                iam.PolicyStatement(
                    sid="ALBModifyRules",
                    actions=[f"{elb}:ModifyRule"],
                    resources=[self.test_rule.attr_rule_arn, self.production_rule.attr_rule_arn],
                ),
            ]
        )

    def attach(self, service: ecs.FargateService, config: EnvironmentConfig) -> None:
        """The service's load balancer entry and deployment strategy (escape hatches: the L2
        service attaches the target group; these keys are the CfnService's)."""
        cfn = service.node.default_child
        if not isinstance(cfn, ecs.CfnService):
            raise TypeError(f"{service.node.path} has no CfnService")
        cfn.add_property_override(
            "LoadBalancers.0.AdvancedConfiguration",
            {
                "AlternateTargetGroupArn": self.alternate.target_group_arn,
                "ProductionListenerRule": self.production_rule.attr_rule_arn,
                "TestListenerRule": self.test_rule.attr_rule_arn,
                "RoleArn": self.role.role_arn,
            },
        )
        for key, value in deployment_configuration(config).items():
            cfn.add_property_override(f"DeploymentConfiguration.{key}", value)
        # The role's policy is inline (part of the role): RoleArn's GetAtt orders it first.


def deployment_configuration(config: EnvironmentConfig) -> dict[str, Any]:
    """The strategy and its timings, exactly what autopipe/strategy.py sends with UpdateService
    (the PAUSE hook at POST_TEST_TRAFFIC_SHIFT is the deployer's, added at every deploy), in
    CloudFormation's spelling of the same fields (AWS::ECS::Service DeploymentConfiguration)."""
    c = config
    api = timings(
        c.deployment_strategy,
        bake_minutes=c.bake_minutes,
        canary_percent=c.canary_percent,
        canary_bake_minutes=c.canary_bake_minutes,
        linear_step_percent=c.linear_step_percent,
        linear_step_minutes=c.linear_step_minutes,
    )
    return _cloudformation(api)  # type: ignore[no-any-return]


def _cloudformation(value: Any) -> Any:
    """`canaryBakeTimeInMinutes` → `CanaryBakeTimeInMinutes`, at every level."""
    if isinstance(value, dict):
        return {key[:1].upper() + key[1:]: _cloudformation(v) for key, v in value.items()}
    return value
