"""ECR state a scan-gate test needs, made through boto3 against moto: per-platform manifests, an
index naming them plus an attestation entry, and scan results posted for exactly the digests ECR
would have scanned. buildx pushes the per-platform manifests untagged; here each gets a tag
nothing reads (the scan results are keyed by digest either way)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from tests.support.moto import World

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
ATTESTATION = "vnd.docker.reference.type"


def sha(body: str) -> str:
    return "sha256:" + hashlib.sha256(body.encode()).hexdigest()


@dataclass(frozen=True)
class Pushed:
    index: str  # the index's digest
    platforms: dict[str, str]  # arch → manifest digest
    configs: dict[str, str]  # arch → config digest


def _manifest(tag: str, arch: str) -> tuple[str, str]:
    config = sha(f"{tag}/{arch}/config")
    body = json.dumps({
        "schemaVersion": 2, "mediaType": DOCKER_MANIFEST,
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 100,
                   "digest": config},
        "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                    "size": 1024, "digest": sha(f"{tag}/{arch}/layer")}],
    })  # fmt: skip
    return body, config


def push_index(
    world: World, tag: str, scans: dict[str, dict[str, int] | None], *, enhanced: bool = False
) -> Pushed:
    """Push one manifest per architecture and an index tagged `tag`; `scans[arch]` is the
    severity counts ECR found for that platform, None when ECR never scanned it."""
    ecr, repo = world.aws.ecr(), world.settings.repository
    entries, digests, configs = [], {}, {}
    for arch in scans:
        body, config = _manifest(tag, arch)
        digest = sha(body)
        ecr.put_image(repositoryName=repo, imageManifest=body, imageDigest=digest,
                      imageTag=f"{tag}-{arch}", imageManifestMediaType=DOCKER_MANIFEST)  # fmt: skip
        entries.append({"mediaType": DOCKER_MANIFEST, "size": len(body), "digest": digest,
                        "platform": {"architecture": arch, "os": "linux"}})  # fmt: skip
        digests[arch], configs[arch] = digest, config
    # buildx's SBOM/provenance entry: a manifest of platform unknown/unknown, not an image.
    att_config = {"digest": sha(f"{tag}/att"), "size": 2, "mediaType": OCI_CONFIG}
    attestation = json.dumps(
        {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "layers": [], "config": att_config}
    )
    ecr.put_image(repositoryName=repo, imageManifest=attestation, imageDigest=sha(attestation),
                  imageTag=f"{tag}-attestation", imageManifestMediaType=OCI_MANIFEST)  # fmt: skip
    entries.append({"mediaType": OCI_MANIFEST, "size": len(attestation),
                    "digest": sha(attestation),
                    "platform": {"architecture": "unknown", "os": "unknown"},
                    "annotations": {ATTESTATION: "attestation-manifest"}})  # fmt: skip
    index = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries})
    ecr.put_image(repositoryName=repo, imageManifest=index, imageTag=tag, imageDigest=sha(index),
                  imageManifestMediaType=OCI_INDEX)  # fmt: skip
    for arch, counts in scans.items():
        if counts is not None:
            post_scan(world, digests[arch], counts, enhanced=enhanced)
    return Pushed(sha(index), digests, configs)


def post_scan(
    world: World, digest: str, counts: dict[str, int], *, enhanced: bool = False,
    suppressed: dict[str, int] | None = None,
) -> None:  # fmt: skip
    """Findings for one image, as ECR would have recorded them, put into the ECS model's scan
    store, in the basic or the enhanced (Inspector) shape of
    https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_DescribeImageScanFindings.html."""
    findings: dict[str, Any]
    if enhanced:  # Inspector: a list of findings, each ACTIVE / SUPPRESSED / CLOSED; no counts
        listed = [(sev, "ACTIVE") for sev, n in counts.items() for _ in range(n)]
        listed += [(sev, "SUPPRESSED") for sev, n in (suppressed or {}).items() for _ in range(n)]
        findings = {"enhancedFindings": [
            {"severity": sev, "status": status, "type": "PACKAGE_VULNERABILITY",
             "packageVulnerabilityDetails": {"vulnerabilityId": f"CVE-2026-{i:04d}"}}
            for i, (sev, status) in enumerate(listed)]}  # fmt: skip
        status = "ACTIVE"
    else:
        findings = {"findings": [], "findingSeverityCounts": dict(counts)}
        status = "COMPLETE"
    world.emulator.scans.put(
        world.settings.repository,
        digest,
        {
            "imageScanStatus": {"status": status, "description": "posted by the test"},
            "imageScanFindings": findings,
        },
    )


def trivy_report(
    path: Any, *, image_id: str = "", repo_digests: tuple[str, ...] = (), arch: str = "",
    severities: tuple[str, ...] = (),
) -> str:  # fmt: skip
    """A `trivy image --format json` report (schema 2) with one finding per severity given."""
    doc = {
        "SchemaVersion": 2,
        "ArtifactName": "auto-pipe-api",
        "ArtifactType": "container_image",
        "Metadata": {"ImageID": image_id, "RepoDigests": list(repo_digests),
                     "ImageConfig": {"architecture": arch, "os": "linux"}},
        "Results": [{"Target": "python", "Class": "lang-pkgs", "Vulnerabilities": [
            {"VulnerabilityID": f"CVE-2026-{i:04d}", "Severity": s}
            for i, s in enumerate(severities)]}],
    }  # fmt: skip
    path.write_text(json.dumps(doc))
    return str(path)
