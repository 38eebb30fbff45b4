"""ECR image scanning as it behaves for what CI pushes (an image index with per-platform
manifests), and the config blobs ECR hands out.

- Basic scanning scans images, not indexes: StartImageScan on an index fails with
  UnsupportedImageTypeException ("An artifact with media type
  'application/vnd.oci.image.index.v1+json' cannot be scanned."), and an index has no scan of its
  own, so DescribeImageScanFindings on its digest answers ScanNotFoundException. Findings exist
  on the per-platform manifests, which `docker buildx` pushes by digest.
  https://docs.aws.amazon.com/AmazonECR/latest/userguide/image-scanning-basic.html
  https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_StartImageScan.html
  https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_DescribeImageScanFindings.html
- Basic scanning can leave a platform unscanned (users report arm64 images never scanned:
  aws/containers-roadmap#1683, #2656): `ImageSpec(unscanned=("arm64",))`.
- Enhanced scanning (Amazon Inspector): status ACTIVE, findings under `enhancedFindings`.
  https://docs.aws.amazon.com/AmazonECR/latest/userguide/image-scanning-enhanced.html
  https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_EnhancedImageScanFinding.html
- GetDownloadUrlForLayer (moto lacks it) points at the loopback blob store.
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ecs_model.ecs_api import as_json, service_error

if TYPE_CHECKING:
    from ecs_model.emulator import Emulator

INDEX_TYPES = frozenset(
    {
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
    }
)
UNSCANNABLE = "An artifact with media type '{media_type}' cannot be scanned."
SEVERITIES = ("CRITICAL", "HIGH", "MEDIUM", "LOW", "INFORMATIONAL", "UNDEFINED")


def basic_result(counts: dict[str, int]) -> dict[str, Any]:
    findings = [
        {
            "name": f"CVE-2026-{n:04d}",
            "severity": severity,
            "uri": "https://nvd.nist.gov/",
            "attributes": [{"key": "package_name", "value": "openssl"}],
        }
        for severity, count in counts.items()
        for n in range(count)
    ]
    return {
        "imageScanStatus": {
            "status": "COMPLETE",
            "description": "The scan was completed successfully.",
        },
        "imageScanFindings": {
            "imageScanCompletedAt": datetime.now(UTC),
            "findings": findings,
            "vulnerabilitySourceUpdatedAt": datetime.now(UTC),
            "findingSeverityCounts": dict(counts),
        },
    }


def enhanced_result(
    counts: dict[str, int], *, account: str, repository: str, digest: str, architecture: str
) -> dict[str, Any]:
    stamp = datetime.now(UTC)
    findings = [
        {
            "awsAccountId": account,
            "description": f"A {severity.lower()} vulnerability.",
            "findingArn": f"arn:aws:inspector2:us-east-1:{account}:finding/{digest[7:19]}{n}",
            "firstObservedAt": stamp,
            "lastObservedAt": stamp,
            "updatedAt": stamp,
            "packageVulnerabilityDetails": {
                "vulnerabilityId": f"CVE-2026-{n:04d}",
                "source": "NVD",
                "vulnerablePackages": [{"name": "openssl", "version": "3.0.11"}],
            },
            "remediation": {"recommendation": {"text": "Upgrade openssl."}},
            "resources": [
                {
                    "type": "AWS_ECR_CONTAINER_IMAGE",
                    "id": f"arn:aws:ecr:{repository}/{digest}",
                    "details": {
                        "awsEcrContainerImage": {
                            "architecture": architecture,
                            "imageHash": digest,
                            "platform": "DEBIAN_12",
                            "repositoryName": repository,
                            "registry": account,
                        }
                    },
                }
            ],
            "score": 7.5,
            "severity": severity,
            "status": "ACTIVE",
            "title": f"CVE-2026-{n:04d}",
            "type": "PACKAGE_VULNERABILITY",
            "fixAvailable": "YES",
            "exploitAvailable": "NO",
        }
        for severity, count in counts.items()
        for n in range(count)
    ]
    return {
        "imageScanStatus": {
            "status": "ACTIVE",
            "description": "Continuous scan is selected for image.",
        },
        "imageScanFindings": {
            "enhancedFindings": findings,
            "findingSeverityCounts": dict(counts),
            "imageScanCompletedAt": stamp,
            "vulnerabilitySourceUpdatedAt": stamp,
        },
    }


class Scans:
    """Scan results per (repository, image digest)."""

    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator
        self.lock = threading.Lock()
        self.results: dict[tuple[str, str], dict[str, Any]] = {}

    def clear(self) -> None:
        with self.lock:
            self.results.clear()

    def put(self, repository: str, digest: str, result: dict[str, Any]) -> None:
        with self.lock:
            self.results[(repository, digest)] = result

    def _image(self, response: Any) -> tuple[Any, Any]:
        backend = response.ecr_backend
        repo = backend._get_repository(
            response._get_param("repositoryName"), response._get_param("registryId")
        )
        image_id = response._get_param("imageId") or {}
        return repo, repo._get_image(image_id.get("imageTag"), image_id.get("imageDigest"))

    def start_image_scan(self, response: Any) -> str:
        repo, image = self._image(response)
        media_type = image.image_manifest_media_type or json.loads(image.image_manifest).get(
            "mediaType", ""
        )
        if media_type in INDEX_TYPES:
            raise service_error(
                "UnsupportedImageTypeException",
                UNSCANNABLE.format(media_type=media_type)
                + " For more information, see the Amazon ECR documentation.",
                service="ecr",
            )
        digest = image.get_image_digest()
        with self.lock:
            self.results.setdefault((repo.name, digest), basic_result({}))
        return as_json(
            {
                "registryId": repo.registry_id,
                "repositoryName": repo.name,
                "imageId": {"imageDigest": digest},
                "imageScanStatus": {"status": "IN_PROGRESS"},
            }
        )

    def describe_image_scan_findings(self, response: Any) -> str:
        from moto.ecr.exceptions import ScanNotFoundException  # noqa: PLC0415 - optional

        repo, image = self._image(response)
        digest = image.get_image_digest()
        with self.lock:
            result = self.results.get((repo.name, digest))
        if result is None:
            raise ScanNotFoundException(
                image_id=f"{{imageDigest:'{digest}'}}",
                repository_name=repo.name,
                registry_id=repo.registry_id,
            )
        tags = {"imageTag": image.image_tags[0]} if image.image_tags else {}
        return as_json(
            {
                "registryId": repo.registry_id,
                "repositoryName": repo.name,
                "imageId": {"imageDigest": digest, **tags},
                **result,
            }
        )

    def get_download_url_for_layer(self, response: Any) -> str:
        digest = response._get_param("layerDigest")
        repository = response._get_param("repositoryName")
        url = self.emulator.blobs.url(repository, digest)
        return json.dumps({"downloadUrl": url, "layerDigest": digest})
