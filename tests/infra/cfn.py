"""Small readers for synthesized CloudFormation: resolve intrinsics with a fake account,
collect IAM statements."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

ACCOUNT = "123456789012"
REGION = "eu-west-1"
PSEUDO = {
    "AWS::Partition": "aws",
    "AWS::Region": REGION,
    "AWS::AccountId": ACCOUNT,
    "AWS::URLSuffix": "amazonaws.com",
}


def resolve(node: Any, refs: dict[str, str] | None = None) -> Any:
    """Fn::Join / Ref / Fn::GetAtt / Fn::Select / Fn::Split evaluated with a fake account;
    a Ref or GetAtt to a resource becomes `refs[logical id]` or a recognisable fake."""
    refs = refs or {}
    if isinstance(node, list):
        return [resolve(item, refs) for item in node]
    if not isinstance(node, dict):
        return node
    if len(node) == 1 and next(iter(node)) in INTRINSICS:
        ((key, value),) = node.items()
        return INTRINSICS[key](value, refs)
    return {k: resolve(v, refs) for k, v in node.items()}


INTRINSICS: dict[str, Callable[[Any, dict[str, str]], Any]] = {
    "Ref": lambda v, refs: PSEUDO.get(v) or refs.get(v, f"ref-{v}"),
    "Fn::GetAtt": lambda v, refs: refs.get(v[0], f"arn:aws:fake:{REGION}:{ACCOUNT}:{v[0]}/{v[1]}"),
    "Fn::Join": lambda v, refs: v[0].join(str(p) for p in resolve(v[1], refs)),
    "Fn::Select": lambda v, refs: resolve(v[1], refs)[int(v[0])],
    "Fn::Split": lambda v, refs: str(resolve(v[1], refs)).split(v[0]),
}


def statements(template: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(logical id, statement) of every IAM policy (inline role policies included)."""
    for logical_id, resource in template["Resources"].items():
        props = resource.get("Properties", {})
        documents = []
        if resource["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            documents.append(props["PolicyDocument"])
        if resource["Type"] == "AWS::IAM::Role":
            documents += [p["PolicyDocument"] for p in props.get("Policies", [])]
        for document in documents:
            for statement in document["Statement"]:
                yield logical_id, statement


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]
