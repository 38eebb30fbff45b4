"""ECR scanning for what CI pushes: an image index whose findings exist only on its per-platform
manifests; a platform basic scanning left unscanned; Inspector's result shape."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from autopipe.config import Settings
from ecs_model.seed import ImageSpec, push_image
from tests.ecs_model.conftest import Cloud

REPO = "model-repo"


def push(cloud: Cloud, spec: ImageSpec) -> tuple[str, dict[str, str]]:
    cloud.client("ecr").create_repository(repositoryName=REPO)
    return push_image(cloud.aws, cloud.emulator, Settings(repository=REPO), spec)


def findings(cloud: Cloud, digest: str) -> dict[str, Any]:
    return dict(
        cloud.client("ecr").describe_image_scan_findings(
            repositoryName=REPO, imageId={"imageDigest": digest}
        )
    )


def test_findings_live_on_the_platform_images_not_the_index(cloud: Cloud) -> None:
    index, platforms = push(cloud, ImageSpec("multi", ("amd64", "arm64"), {"HIGH": 1}))
    assert set(platforms) == {"amd64", "arm64"}
    for digest in platforms.values():
        found = findings(cloud, digest)
        assert found["imageScanStatus"]["status"] == "COMPLETE"
        assert found["imageScanFindings"]["findingSeverityCounts"] == {"HIGH": 1}
    with pytest.raises(ClientError) as error:
        findings(cloud, index)
    assert error.value.response["Error"]["Code"] == "ScanNotFoundException"
    # The tag names the index; the platform images are there by digest, untagged.
    images = cloud.client("ecr").describe_images(repositoryName=REPO)["imageDetails"]
    tagged = {i["imageDigest"]: i.get("imageTags", []) for i in images}
    assert tagged[index] == ["multi"]
    assert all(tagged[d] == [] for d in platforms.values())


def test_an_index_cannot_be_scanned(cloud: Cloud) -> None:
    index, platforms = push(cloud, ImageSpec("multi", ("amd64", "arm64")))
    ecr = cloud.client("ecr")
    with pytest.raises(ClientError) as error:
        ecr.start_image_scan(repositoryName=REPO, imageId={"imageDigest": index})
    assert error.value.response["Error"]["Code"] == "UnsupportedImageTypeException"
    assert (
        "An artifact with media type 'application/vnd.oci.image.index.v1+json' cannot be scanned"
    ) in error.value.response["Error"]["Message"]
    started = ecr.start_image_scan(repositoryName=REPO, imageId={"imageDigest": platforms["arm64"]})
    assert started["imageScanStatus"]["status"] == "IN_PROGRESS"


def test_an_unscanned_arm64_image(cloud: Cloud) -> None:
    _, platforms = push(cloud, ImageSpec("multi", ("amd64", "arm64"), unscanned=("arm64",)))
    assert findings(cloud, platforms["amd64"])["imageScanStatus"]["status"] == "COMPLETE"
    with pytest.raises(ClientError) as error:
        findings(cloud, platforms["arm64"])
    assert error.value.response["Error"]["Code"] == "ScanNotFoundException"


def test_enhanced_scanning_result_shape(cloud: Cloud) -> None:
    _, platforms = push(
        cloud, ImageSpec("one", findings={"CRITICAL": 1, "LOW": 2}, scanning="enhanced")
    )
    found = findings(cloud, platforms["amd64"])
    assert found["imageScanStatus"] == {
        "status": "ACTIVE",
        "description": "Continuous scan is selected for image.",
    }
    result = found["imageScanFindings"]
    assert result["findingSeverityCounts"] == {"CRITICAL": 1, "LOW": 2}
    enhanced = result["enhancedFindings"]
    assert sorted(f["severity"] for f in enhanced) == ["CRITICAL", "LOW", "LOW"]
    image = enhanced[0]["resources"][0]["details"]["awsEcrContainerImage"]
    assert (image["architecture"], image["imageHash"]) == ("amd64", platforms["amd64"])
    assert "findings" not in result


def test_a_single_manifest_image_is_scanned_under_its_tag(cloud: Cloud) -> None:
    digest, platforms = push(cloud, ImageSpec("v1"))
    assert platforms == {"amd64": digest}
    by_tag = cloud.client("ecr").describe_image_scan_findings(
        repositoryName=REPO, imageId={"imageTag": "v1"}
    )
    assert by_tag["imageId"] == {"imageDigest": digest, "imageTag": "v1"}
    assert by_tag["imageScanFindings"]["findingSeverityCounts"] == {"LOW": 2, "MEDIUM": 1}
