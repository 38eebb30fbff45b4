"""The image in ECR: tag → digest, its architecture(s) from the manifest and config blob, its
per-platform images (an index's entries), and their scan findings."""

from __future__ import annotations

import json
import urllib.request
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from autopipe.aws import Aws, error_code
from autopipe.errors import ConfigError

if TYPE_CHECKING:
    from autopipe.config import Settings

INDEX_TYPES = (
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.index.v1+json",
)
MANIFEST_TYPES = (
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
)
# OCI/Go architecture names → ECS runtimePlatform.cpuArchitecture.
ECS_ARCH = {"amd64": "X86_64", "arm64": "ARM64"}


@dataclass(frozen=True)
class ImageRef:
    registry: str
    repository: str
    digest: str
    tag: str

    @property
    def uri(self) -> str:
        return f"{self.registry}/{self.repository}@{self.digest}"


def registry_host(account: str, region: str) -> str:
    suffix = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
    return f"{account}.dkr.ecr.{region}.{suffix}"


def resolve(aws: Aws, settings: Settings, *, tag: str | None, digest: str | None) -> ImageRef:
    """The image by digest. A tag is looked up in ECR; a digest is taken as given (verify
    checks that it exists)."""
    if digest:
        if not digest.startswith("sha256:"):
            raise ConfigError(f"--digest must look like sha256:<hex>, got {digest!r}")
        if not tag:  # name it by its tag in ECR (CI tags the git sha), else by the digest
            tag = _tag_of(aws, settings, digest) or digest[7:19]
        account = settings.account_id or aws.account_id()
        host = registry_host(account, settings.region)
        return ImageRef(host, settings.repository, digest, tag)
    if not tag:
        raise ConfigError("give the image: --tag TAG or --digest sha256:...")
    try:
        details = aws.ecr().describe_images(
            repositoryName=settings.repository, imageIds=[{"imageTag": tag}]
        )["imageDetails"]
    except Exception as exc:
        if error_code(exc) in ("ImageNotFoundException", "RepositoryNotFoundException"):
            raise ConfigError(f"image {settings.repository}:{tag} not found in ECR") from exc
        raise
    detail = details[0]
    host = registry_host(detail["registryId"], settings.region)
    return ImageRef(host, settings.repository, detail["imageDigest"], tag)


def _tag_of(aws: Aws, settings: Settings, digest: str) -> str:
    try:
        details = aws.ecr().describe_images(
            repositoryName=settings.repository, imageIds=[{"imageDigest": digest}]
        )["imageDetails"]
    except Exception as exc:
        if error_code(exc) in ("ImageNotFoundException", "RepositoryNotFoundException"):
            return ""  # verify says NG, with the reason
        raise
    tags = sorted(details[0].get("imageTags", [])) if details else []
    return tags[0] if tags else ""


def manifest(aws: Aws, image: ImageRef) -> tuple[str, dict[str, Any]] | None:
    found = aws.ecr().batch_get_image(
        repositoryName=image.repository,
        imageIds=[{"imageDigest": image.digest}],
        acceptedMediaTypes=[*INDEX_TYPES, *MANIFEST_TYPES],
    )["images"]
    if not found:
        return None
    raw = found[0].get("imageManifest", "{}")
    body: dict[str, Any] = json.loads(raw)
    media_type = found[0].get("imageManifestMediaType") or body.get("mediaType", "")
    return media_type, body


def architectures(aws: Aws, image: ImageRef, media_type: str, body: dict[str, Any]) -> set[str]:
    """ECS names of the architectures the image runs on; an index lists them, a single
    manifest's config blob says it."""
    if media_type in INDEX_TYPES or "manifests" in body:
        return {
            ECS_ARCH.get(m["platform"]["architecture"], m["platform"]["architecture"])
            for m in body.get("manifests", [])
            if m.get("platform", {}).get("os") == "linux"
        }
    config_digest = body.get("config", {}).get("digest")
    if not config_digest:
        return set()
    url = aws.ecr().get_download_url_for_layer(
        repositoryName=image.repository, layerDigest=config_digest
    )["downloadUrl"]
    config = json.loads(_fetch(url))
    arch = str(config.get("architecture", ""))
    return {ECS_ARCH.get(arch, arch)} if arch else set()


def _fetch(url: str, timeout: float = 10.0) -> bytes:
    if not url.startswith(("https://", "http://")):
        raise ValueError(f"unexpected download URL scheme: {url[:16]}")
    with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - scheme checked
        return response.read()  # type: ignore[no-any-return]


@dataclass(frozen=True)
class Platform:
    """One runnable image: the image itself, or one entry of an index."""

    name: str  # linux/arm64 (with /variant when given)
    architecture: str  # the ECS name (X86_64, ARM64), or the OCI one when ECS has none
    digest: str  # the per-platform manifest's digest: what ECR scans
    config_digest: str  # its config blob's digest (what Trivy reports as ImageID), "" if unknown


def platforms(aws: Aws, image: ImageRef, media_type: str, body: dict[str, Any]) -> list[Platform]:
    """The per-platform images behind `image`. An index's attestation entries (buildx's SBOM and
    provenance, platform unknown/unknown) are not images and are left out."""
    if not (media_type in INDEX_TYPES or "manifests" in body):
        arch = next(iter(architectures(aws, image, media_type, body)), "")
        oci = next((k for k, v in ECS_ARCH.items() if v == arch), arch.lower())
        config = str(body.get("config", {}).get("digest", ""))
        return [Platform(f"linux/{oci}", arch, image.digest, config)]
    entries = [
        m for m in body.get("manifests", [])
        if m.get("platform", {}).get("os") not in (None, "unknown")
    ]  # fmt: skip
    configs: dict[str, str] = {}
    if entries:
        found = aws.ecr().batch_get_image(
            repositoryName=image.repository,
            imageIds=[{"imageDigest": m["digest"]} for m in entries],
            acceptedMediaTypes=list(MANIFEST_TYPES),
        )["images"]
        for item in found:
            manifest_body = json.loads(item.get("imageManifest", "{}"))
            configs[item["imageId"]["imageDigest"]] = manifest_body.get("config", {}).get(
                "digest", ""
            )
    out = []
    for m in entries:
        p = m["platform"]
        name = f"{p['os']}/{p['architecture']}" + (f"/{p['variant']}" if p.get("variant") else "")
        arch = ECS_ARCH.get(p["architecture"], p["architecture"])
        out.append(Platform(name, arch, m["digest"], configs.get(m["digest"], "")))
    return out


# What DescribeImageScanFindings can say (imageScanStatus.status, see
# https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_ImageScanStatus.html): COMPLETE
# (basic, or an enhanced scan on push) and ACTIVE (enhanced continuous scanning, findings kept
# current) carry findings; every other status (IN_PROGRESS, PENDING, FAILED, UNSUPPORTED_IMAGE,
# SCAN_ELIGIBILITY_EXPIRED, FINDINGS_UNAVAILABLE, LIMIT_EXCEEDED, IMAGE_ARCHIVED), and no scan at
# all (ScanNotFoundException, reported here as MISSING), is no evidence.
EVIDENCE = ("COMPLETE", "ACTIVE")


@dataclass(frozen=True)
class ScanResult:
    status: str  # COMPLETE, ACTIVE, IN_PROGRESS, FAILED, ..., or MISSING
    counts: dict[str, int]
    scanner: str = "ECR"  # "ECR basic" or "ECR enhanced (Inspector)"

    @property
    def complete(self) -> bool:
        return self.status in EVIDENCE


def scan_findings(aws: Aws, repository: str, digest: str) -> ScanResult:
    """ECR's findings for one per-platform image, in both result shapes
    (https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_DescribeImageScanFindings.html):
    basic scanning fills `imageScanFindings.findingSeverityCounts` (and `findings`); enhanced
    scanning (Amazon Inspector) lists `enhancedFindings`, each with a `severity` and a `status`
    (ACTIVE, SUPPRESSED, CLOSED; https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_EnhancedImageScanFinding.html).
    The counts are ECR's when it gives them, else the ACTIVE enhanced findings tallied."""
    pages = aws.ecr().get_paginator("describe_image_scan_findings")
    status, given, tally, enhanced = "MISSING", None, dict[str, int](), False
    try:
        for page in pages.paginate(repositoryName=repository, imageId={"imageDigest": digest}):
            status = page.get("imageScanStatus", {}).get("status", "UNKNOWN")
            findings: dict[str, Any] = dict(page.get("imageScanFindings", {}))
            if given is None and "findingSeverityCounts" in findings:
                given = {str(k): int(v) for k, v in findings["findingSeverityCounts"].items()}
            if "enhancedFindings" in findings:
                enhanced = True
            for f in findings.get("enhancedFindings", []):
                if f.get("status", "ACTIVE") == "ACTIVE":
                    severity = "UNDEFINED" if f.get("severity") == "UNTRIAGED" else f["severity"]
                    tally[severity] = tally.get(severity, 0) + 1
    except Exception as exc:
        if error_code(exc) == "ScanNotFoundException":
            return ScanResult("MISSING", {})
        raise
    enhanced = enhanced or status == "ACTIVE"
    scanner = "ECR enhanced (Inspector)" if enhanced else "ECR basic"
    return ScanResult(status, given if given is not None else tally, scanner)
