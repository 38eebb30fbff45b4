"""The database connection is verified TLS in AWS: the stack's task definition and the
deployer's (autopipe.toml) both set verify-full against the bundle the image carries at that
path, the vendored bundle matches the checksum the build pins, and the database refuses
plain connections (rds.force_ssl, tests/infra/test_network_and_data.py)."""

from __future__ import annotations

import hashlib
import re
import ssl
import tomllib
from typing import Any

import pytest

from tests.infra.conftest import ROOT, Synth

BUNDLE = ROOT / "docker" / "rds" / "global-bundle.pem"


def _dockerfile() -> str:
    return (ROOT / "Dockerfile").read_text()


def _image_path() -> str:
    found = re.search(r"COPY --from=build /src/rds-global-bundle.pem (\S+)", _dockerfile())
    assert found is not None, "the Dockerfile must install the bundle"
    return found.group(1)


@pytest.mark.parametrize("env", ["staging", "production"])
def test_both_task_definitions_verify_the_database(synth: Synth, env: str) -> None:
    wanted = {"PGSSLMODE": "verify-full", "PGSSLROOTCERT": _image_path()}
    (container,) = synth.one(f"AutoPipe-{env}", "AWS::ECS::TaskDefinition")["ContainerDefinitions"]
    stack = {e["Name"]: e["Value"] for e in container["Environment"]}
    assert {k: stack[k] for k in wanted} == wanted
    toml = tomllib.loads((ROOT / "autopipe.toml").read_text())["environments"][env]
    assert {k: toml["environment"][k] for k in wanted} == wanted


def test_the_vendored_bundle_is_the_one_the_build_pins() -> None:
    pinned = re.search(r"ARG RDS_CA_SHA256=([0-9a-f]{64})", _dockerfile())
    assert pinned is not None
    assert hashlib.sha256(BUNDLE.read_bytes()).hexdigest() == pinned.group(1)
    assert "!docker/rds/global-bundle.pem" in (ROOT / ".dockerignore").read_text()


def test_the_bundle_holds_the_roots_rds_serves_in_the_default_region() -> None:
    context = ssl.create_default_context(cafile=str(BUNDLE))
    subjects: list[Any] = [cert["subject"] for cert in context.get_ca_certs()]
    names = {
        value
        for subject in subjects
        for rdn in subject
        for key, value in rdn
        if key == "commonName"
    }
    for kind in ("RSA2048", "RSA4096", "ECC384"):
        assert f"Amazon RDS eu-west-1 Root CA {kind} G1" in names


@pytest.mark.parametrize("env", ["staging", "production"])
def test_proxy_headers_are_trusted_from_the_vpc_only(synth: Synth, env: str) -> None:
    """Both task definitions trust X-Forwarded-* from this environment's VPC (where the load
    balancer is) and from nowhere else."""
    (vpc,) = synth.resources(f"AutoPipe-{env}", "AWS::EC2::VPC").values()
    cidr = vpc["Properties"]["CidrBlock"]
    (container,) = synth.one(f"AutoPipe-{env}", "AWS::ECS::TaskDefinition")["ContainerDefinitions"]
    stack = {e["Name"]: e["Value"] for e in container["Environment"]}
    toml = tomllib.loads((ROOT / "autopipe.toml").read_text())["environments"][env]
    assert stack["TRUSTED_PROXIES"] == toml["environment"]["TRUSTED_PROXIES"] == cidr
