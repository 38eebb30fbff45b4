"""The scan gate, per platform. ECR scans per-platform images, never an image index (StartImageScan
on an index fails: "An artifact with media type 'application/vnd.oci.image.index.v1+json'
cannot be scanned"), and basic scanning has been seen to leave arm64 images unscanned
(https://github.com/aws/containers-roadmap/issues/1683, /issues/2656). So every platform of the
image is judged on its own evidence:

- ECR's findings for that platform's manifest digest (basic or enhanced, see images.py);
- the pipeline's Trivy gate: `trivy image --format json` reports given with `--scan-report FILE`
  (or `scan_reports`), matched to a platform by the config digest Trivy reports as
  `Metadata.ImageID`, or by a `Metadata.RepoDigests` entry naming the platform's digest, or the
  index's digest with that platform's `Metadata.ImageConfig.architecture`.

Findings at a `scan_fail_on` severity in any evidence make the platform NG. A platform with no
evidence at all is what `scan_missing` says: `fail` NG, `warn` OK marked NOT SCANNED, `skip`
SKIP. The gate is NG when any platform is.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from autopipe import images
from autopipe.check import NG, OK, SKIP, Check
from autopipe.errors import ConfigError

if TYPE_CHECKING:
    from autopipe.aws import Aws
    from autopipe.config import Settings
    from autopipe.images import ImageRef, Platform

TRIVY_SEVERITY = {"UNKNOWN": "UNDEFINED"}


@dataclass(frozen=True)
class TrivyReport:
    path: str
    image_id: str
    repo_digests: tuple[str, ...]
    architecture: str
    counts: dict[str, int]

    def covers(self, platform: Platform, index_digest: str) -> bool:
        if platform.config_digest and self.image_id == platform.config_digest:
            return True
        digests = {d.rsplit("@", 1)[-1] for d in self.repo_digests}
        if platform.digest in digests:
            return True
        arch = images.ECS_ARCH.get(self.architecture, self.architecture)
        return index_digest in digests and arch == platform.architecture


def read_trivy(path: str) -> TrivyReport:
    """A `trivy image --format json` report (schema 2). Bad input is a ConfigError."""
    try:
        doc: Any = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(
            f"--scan-report {path}: not a readable Trivy JSON report ({exc})"
        ) from exc
    meta = doc.get("Metadata") if isinstance(doc, dict) else None
    if not isinstance(meta, dict) or doc.get("SchemaVersion") != 2:
        raise ConfigError(f"--scan-report {path}: expected Trivy JSON (SchemaVersion 2, Metadata)")
    counts: dict[str, int] = {}
    for result in doc.get("Results") or []:
        for vuln in result.get("Vulnerabilities") or []:
            severity = str(vuln.get("Severity", "UNKNOWN")).upper()
            severity = TRIVY_SEVERITY.get(severity, severity)
            counts[severity] = counts.get(severity, 0) + 1
    return TrivyReport(
        path=path,
        image_id=str(meta.get("ImageID", "")),
        repo_digests=tuple(str(d) for d in meta.get("RepoDigests") or ()),
        architecture=str((meta.get("ImageConfig") or {}).get("architecture", "")),
        counts=counts,
    )


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(counts.items()) if v) or "no findings"


def evaluate(
    aws: Aws,
    settings: Settings,
    *,
    image: ImageRef,
    media_type: str,
    body: dict[str, Any],
    runs_on: str,
) -> list[Check]:
    """One check per platform (`scan linux/arm64`), then the gate's verdict (`scan gate`)."""
    reports = [read_trivy(p) for p in settings.scan_reports]
    fail_on = set(settings.scan_fail_on)
    out: list[Check] = []
    used: set[str] = set()
    for platform in images.platforms(aws, image, media_type, body):
        evidence: list[tuple[str, dict[str, int]]] = []
        ecr = images.scan_findings(aws, image.repository, platform.digest)
        notes = []
        if ecr.complete:
            evidence.append((f"{ecr.scanner} scan {ecr.status}", ecr.counts))
        else:
            notes.append(f"ECR: not scanned (status {ecr.status})")
        for report in reports:
            if report.covers(platform, image.digest):
                evidence.append((f"Trivy {Path(report.path).name}", report.counts))
                used.add(report.path)
        runs = " · the task runs this one" if platform.architecture == runs_on else ""
        described = (
            "; ".join([*(f"{who}: {_counts(c)}" for who, c in evidence), *notes])
            + f" ({platform.digest[:19]}…{runs})"
        )
        blocking = sorted({k for _, c in evidence for k, v in c.items() if k in fail_on and v})
        if blocking:
            status, detail = NG, f"findings at {'/'.join(blocking)}: {described}"
        elif evidence:
            status, detail = OK, described
        elif settings.scan_missing == "fail":
            status, detail = NG, f"not scanned (scan_missing = fail): {described}"
        elif settings.scan_missing == "warn":
            status, detail = OK, f"NOT SCANNED, allowed by scan_missing = warn: {described}"
        else:
            status, detail = SKIP, f"not scanned (scan_missing = skip): {described}"
        out.append(Check(f"scan {platform.name}", status, detail))
    if not out:
        return [Check("scan gate", NG, "the image lists no platform to scan")]
    stray = [p for p in settings.scan_reports if p not in used]
    return [*out, Check("scan gate", *_verdict(out, stray, settings))]


def _verdict(per_platform: list[Check], stray: list[str], settings: Settings) -> tuple[str, str]:
    names = "/".join(c.name.removeprefix("scan ") for c in per_platform)
    policy = f"fails on {'/'.join(settings.scan_fail_on)}, scan_missing = {settings.scan_missing}"
    unmatched = f"; report(s) matching no platform: {', '.join(stray)}" if stray else ""
    if bad := [c for c in per_platform if c.status == NG]:
        detail = [c.name.removeprefix("scan ") + ": " + c.detail for c in bad]
        return NG, "; ".join(detail) + unmatched
    if all(c.status == SKIP for c in per_platform):
        return SKIP, f"no platform of {names} was scanned ({policy}){unmatched}"
    return OK, f"{names} passed ({policy}){unmatched}"
