"""HTTPS is not optional in production: it refuses to synthesize without TLS; with it, 443
serves a TLS 1.3/1.2 policy, 80 redirects, and the stack's URL is the smoke test's URL.
Staging without a domain stays on plain HTTP and says so in its outputs."""

from __future__ import annotations

import dataclasses
import tomllib
from typing import Any

import pytest

from infra import config
from infra.errors import ConfigError
from tests.infra.cfn import resolve
from tests.infra.conftest import ROOT, TEST_CERTIFICATE, Synth

LISTENER = "AWS::ElasticLoadBalancingV2::Listener"


def listeners(synth: Synth, stack: str) -> dict[int, dict[str, Any]]:
    found = synth.resources(stack, LISTENER).values()
    return {r["Properties"]["Port"]: r["Properties"] for r in found}


def test_production_without_tls_is_refused_with_the_fix() -> None:
    staging = dataclasses.replace(config.STAGING, account="111111111111")
    production = dataclasses.replace(config.PRODUCTION, account="222222222222")
    with pytest.raises(ConfigError, match=r"HTTPS only: set production:domain_name") as caught:
        config.link([staging, production])
    assert "production:hosted_zone_id" in str(caught.value)
    assert "production:certificate_arn" in str(caught.value)
    # Staging alone may be HTTP-only.
    assert config.link([staging]) == [staging]


@pytest.mark.parametrize(
    "change",
    [
        {"certificate_arn": TEST_CERTIFICATE},  # a certificate but no name to serve it on
        {"domain_name": "api.example.com"},  # a name but no certificate
        {"domain_name": "api.example.com", "hosted_zone_id": "Z1"},  # the zone's name missing
        {"domain_name": "api.other.org", "hosted_zone_id": "Z1", "hosted_zone_name": "x.com"},
    ],
)
def test_half_configured_tls_is_refused(change: dict[str, Any]) -> None:
    with pytest.raises(ConfigError):
        dataclasses.replace(config.STAGING, **change)


@pytest.mark.parametrize("env", ["staging", "production"])
def test_the_smoke_url_is_the_stacks_url(synth: Synth, env: str) -> None:
    toml = tomllib.loads((ROOT / "autopipe.toml").read_text())
    outputs = synth.template(f"AutoPipe-{env}")["Outputs"]
    assert resolve(outputs["Url"]["Value"]) == toml["environments"][env]["url"]
    assert outputs["Tls"]["Value"].startswith("HTTPS on ")


@pytest.mark.parametrize("stack", ["AutoPipe-staging", "AutoPipe-production", "AutoPipe-imported"])
def test_https_serves_a_current_policy_and_http_redirects(synth: Synth, stack: str) -> None:
    found = listeners(synth, stack)
    assert set(found) == {80, 443}
    https = found[443]
    assert https["Protocol"] == "HTTPS"
    # TLS 1.3 with 1.2 as the floor: ELBSecurityPolicy-TLS13-1-2-*.
    assert str(https["SslPolicy"]).startswith("ELBSecurityPolicy-TLS13-1-2")
    (redirect,) = found[80]["DefaultActions"]
    assert redirect["Type"] == "redirect"
    assert redirect["RedirectConfig"] == {
        "Port": "443",
        "Protocol": "HTTPS",
        "StatusCode": "HTTP_301",
    }


def test_a_hosted_zone_gets_a_dns_validated_certificate_and_the_alias(synth: Synth) -> None:
    certificate = synth.one("AutoPipe-production", "AWS::CertificateManager::Certificate")
    assert certificate["DomainName"] == "api.example.com"
    assert certificate["ValidationMethod"] == "DNS"
    assert certificate["DomainValidationOptions"] == [
        {"DomainName": "api.example.com", "HostedZoneId": "Z0EXAMPLEPRODUCTION"}
    ]
    (https,) = [p for port, p in listeners(synth, "AutoPipe-production").items() if port == 443]
    (logical_id,) = synth.resources("AutoPipe-production", "AWS::CertificateManager::Certificate")
    assert https["Certificates"] == [{"CertificateArn": {"Ref": logical_id}}]
    record = synth.one("AutoPipe-production", "AWS::Route53::RecordSet")
    assert (record["Name"], record["Type"], record["HostedZoneId"]) == (
        "api.example.com.",
        "A",
        "Z0EXAMPLEPRODUCTION",
    )
    assert "DNSName" in record["AliasTarget"]


def test_an_imported_certificate_creates_no_certificate_or_record(synth: Synth) -> None:
    assert not synth.resources("AutoPipe-imported", "AWS::CertificateManager::Certificate")
    assert not synth.resources("AutoPipe-imported", "AWS::Route53::RecordSet")
    https = listeners(synth, "AutoPipe-imported")[443]
    assert https["Certificates"] == [{"CertificateArn": TEST_CERTIFICATE}]
    outputs = synth.template("AutoPipe-imported")["Outputs"]
    assert outputs["Url"]["Value"] == "https://api.example.com"
    assert "LoadBalancerDnsName" in outputs  # for the CNAME the zone's owner creates


def test_staging_without_a_domain_says_it_is_plain_http(synth: Synth) -> None:
    outputs = synth.template("AutoPipe-cheap")["Outputs"]
    assert resolve(outputs["Url"]["Value"]).startswith("http://")
    assert "plain HTTP" in outputs["Tls"]["Value"]
    assert set(listeners(synth, "AutoPipe-cheap")) == {80}


@pytest.mark.parametrize("stack", ["AutoPipe-production", "AutoPipe-cheap"])
def test_metrics_are_not_reachable_through_the_load_balancer(synth: Synth, stack: str) -> None:
    found = synth.resources(stack, "AWS::ElasticLoadBalancingV2::ListenerRule").values()
    # The fixed-response rule (blue/green's forward rules are tests/infra/test_blue_green.py's).
    (rule,) = [r for r in found if r["Properties"]["Actions"][0]["Type"] != "forward"]
    props = rule["Properties"]
    serving = 443 if stack.endswith("production") else 80
    (listener_id,) = [
        k for k, r in synth.resources(stack, LISTENER).items() if r["Properties"]["Port"] == serving
    ]
    assert props["ListenerArn"] == {"Ref": listener_id}
    assert props["Priority"] == 1  # before the default forward to the service
    (condition,) = props["Conditions"]
    assert condition["PathPatternConfig"]["Values"] == ["/metrics", "/metrics/*"]
    (action,) = props["Actions"]
    assert action["Type"] == "fixed-response"
    assert action["FixedResponseConfig"]["StatusCode"] == "404"
