"""A recorded stand-in for the tools setup.sh drives: `cdk`, `docker`, `autopipe`, `gh`.

Installed under each name in a directory put first on PATH. Every call appends its argument
list to $STANDIN_RECORD (JSON lines) and then does, against the moto server at
$AWS_ENDPOINT_URL, what the real tool's success leaves in AWS (a stack with its outputs, a
pushed image, a deployed revision), so the next step and the next run see it. $STANDIN_FAIL:
a call whose arguments contain it exits 3 instead."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import boto3

ACCOUNT_ROLE = "arn:aws:iam::{account}:role/auto-pipe-github-deploy"


def client(service: str) -> Any:
    factory: Any = boto3.client  # the service name is a variable: no typed overload applies
    return factory(
        service, endpoint_url=os.environ["AWS_ENDPOINT_URL"], region_name=os.environ["AWS_REGION"]
    )


def stack(name: str, outputs: dict[str, str]) -> None:
    template = {
        "Resources": {"Marker": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": name}}},
        "Outputs": {k: {"Value": v} for k, v in outputs.items()},
    }
    client("cloudformation").create_stack(StackName=name, TemplateBody=json.dumps(template))


def cdk(args: list[str]) -> None:
    account = client("sts").get_caller_identity()["Account"]
    if args[0] == "bootstrap":
        client("ssm").put_parameter(
            Name="/cdk-bootstrap/hnb659fds/version", Value="28", Type="String"
        )
    elif args[:2] == ["deploy", "AutoPipe-staging-Bootstrap"]:
        client("ecr").create_repository(repositoryName="auto-pipe-api")
        stack(args[1], {"DeployRoleArn": ACCOUNT_ROLE.format(account=account)})
    elif args[:2] == ["deploy", "AutoPipe-staging"]:
        image = client("ssm").get_parameter(Name="/auto-pipe/staging/release/image")
        ecs = client("ecs")
        ecs.create_cluster(clusterName="auto-pipe-cluster")
        arn = register(image["Parameter"]["Value"])
        ecs.create_service(
            cluster="auto-pipe-cluster",
            serviceName="auto-pipe-service",
            taskDefinition=arn,
            desiredCount=1,
        )
        stack(
            args[1], {"Url": "http://auto-pipe-staging.elb.example", "StackTaskDefinitionArn": arn}
        )


def register(image: str) -> str:
    found = client("ecs").register_task_definition(
        family="auto-pipe-task",
        containerDefinitions=[{"name": "app", "image": image, "memory": 512}],
    )
    return str(found["taskDefinition"]["taskDefinitionArn"])


def docker(args: list[str]) -> None:
    if args[0] == "login":
        assert sys.stdin.read(), "docker login without a password on stdin"
    if args[0] == "push":
        repository, tag = args[1].split("/", 1)[1].split(":")
        manifest = {
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {"digest": "sha256:" + "0" * 64, "size": 1, "mediaType": "x"},
            "layers": [],
        }
        client("ecr").put_image(
            repositoryName=repository, imageManifest=json.dumps(manifest), imageTag=tag
        )


def autopipe(args: list[str]) -> None:
    options = dict(zip(args[1::2], args[2::2], strict=False))
    image = client("ssm").get_parameter(Name="/auto-pipe/staging/release/image")
    uri = image["Parameter"]["Value"].split("@")[0]
    arn = register(f"{uri}@{options['--digest']}")
    client("ecs").update_service(
        cluster="auto-pipe-cluster", service="auto-pipe-service", taskDefinition=arn
    )


def gh(args: list[str]) -> None:
    state = Path(os.environ["STANDIN_GH_STATE"])
    variables = json.loads(state.read_text()) if state.exists() else {}
    if args[:2] == ["variable", "list"]:
        print(json.dumps([{"name": k, "value": v} for k, v in variables.items()]))
    elif args[:2] == ["variable", "set"]:
        variables[args[2]] = args[args.index("--body") + 1]
        state.write_text(json.dumps(variables))


def main() -> int:
    name, args = Path(sys.argv[0]).name, sys.argv[1:]
    with Path(os.environ["STANDIN_RECORD"]).open("a") as record:
        record.write(json.dumps([name, *args]) + "\n")
    if os.environ.get("STANDIN_FAIL") and os.environ["STANDIN_FAIL"] in " ".join([name, *args]):
        print(f"{name}: failing as asked", file=sys.stderr)
        return 3
    {"cdk": cdk, "docker": docker, "autopipe": autopipe, "gh": gh}[name](args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
