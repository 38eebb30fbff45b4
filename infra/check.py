"""`make infra-check`: synthesize, then cdk-nag, cfn-lint and checkov on the templates.

Prints one line per checker and exits 1 unless each has 0 findings. Every exception is
written next to its resource (infra/checks.py) with its reason; this counts them too.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from infra.checks import CFN_LINT_REASONS
from infra.taskdef_template import ROOT

DEFAULT_OUTDIR = ROOT / "infra" / "cdk.out"
NAG_PREFIX = "AwsSolutions::"


@dataclass(frozen=True)
class Findings:
    checker: str
    findings: list[str]
    passed: int = 0
    excepted: dict[str, str] = field(default_factory=dict)  # what -> reason

    def line(self) -> str:
        extra = f", {self.passed} passed" if self.passed else ""
        return (
            f"{self.checker:<8} {len(self.findings)} findings{extra}, "
            f"{len(self.excepted)} written exceptions"
        )


class ToolMissing(RuntimeError):
    pass


LINT_PROJECT = ROOT / "tools" / "infra-lint"


def tool(name: str) -> list[str]:
    """The linter from its own locked environment (tools/infra-lint): checkov pins an old boto3,
    so it must not share the deployer's lock, and another version on PATH may judge the same
    template differently."""
    uv = shutil.which("uv") or shutil.which("uv", path=str(Path(sys.executable).parent))
    if uv is None:
        raise ToolMissing(f"{name}: uv is not installed (make uv)")
    return [uv, "run", "--project", str(LINT_PROJECT), "--locked", "--quiet", "--", name]


def templates(outdir: Path) -> list[str]:
    return sorted(str(p) for p in outdir.glob("*.template.json"))


def cdk_nag(outdir: Path) -> Findings:
    """From the assembly: violations in validation-report.json, acknowledgments in metadata."""
    report_path = outdir / "validation-report.json"
    report = json.loads(report_path.read_text()) if report_path.exists() else {}
    violations = [
        f"{v['ruleName']} {c['constructPath']}"
        for plugin in report.get("pluginReports", [])
        if plugin["pluginName"] == "AwsSolutions"
        for v in plugin.get("violations", [])
        for c in v["violatingConstructs"]
    ]
    acknowledged = {}
    for path in outdir.glob("*.metadata.json"):
        for construct, entries in json.loads(path.read_text()).items():
            for entry in entries:
                if entry["type"] == "aws:cdk:acknowledged-rules":
                    for rule, reason in entry["data"].items():
                        if rule.startswith(NAG_PREFIX):
                            acknowledged[f"{construct} {rule[len(NAG_PREFIX) :]}"] = reason
    return Findings("cdk-nag", violations, excepted=acknowledged)


def commands(outdir: Path) -> dict[str, list[str]]:
    return {
        "cfn-lint": [*tool("cfn-lint"), "--format", "parseable", *templates(outdir)],
        "checkov": [
            *tool("checkov"), "--directory", str(outdir), "--framework", "cloudformation",
            "--skip-download", "--compact", "--output", "json",
        ],
    }  # fmt: skip


def run_linters(outdir: Path, env: Mapping[str, str] | None = None) -> list[Findings]:
    """cfn-lint and checkov side by side (each takes seconds)."""
    running = {
        name: subprocess.Popen(  # noqa: S603 - our own argv, no shell
            argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
        )
        for name, argv in commands(outdir).items()
    }
    out = {}
    for name, process in running.items():
        stdout, stderr = process.communicate(timeout=600)
        if process.returncode and not stdout.strip():
            raise RuntimeError(f"{name} failed to run ({process.returncode}): {stderr}")
        out[name] = stdout
    files = templates(outdir)
    return [_cfn_lint(out["cfn-lint"], files), _checkov(out["checkov"], files)]


def _cfn_lint(stdout: str, files: list[str]) -> Findings:
    findings = [line for line in stdout.splitlines() if line.strip()]
    ignored = {}
    for file in files:
        for logical, resource in json.loads(Path(file).read_text())["Resources"].items():
            reasons = resource.get("Metadata", {}).get(CFN_LINT_REASONS, {})
            checks = resource.get("Metadata", {}).get("cfn-lint", {}).get("config", {})
            for check in checks.get("ignore_checks", []):
                ignored[f"{check} {logical} ({Path(file).name})"] = reasons.get(check, "")
    return Findings("cfn-lint", findings, excepted=ignored)


def _checkov(stdout: str, files: list[str]) -> Findings:
    report = json.loads(stdout) if stdout.strip() else []
    reports = report if isinstance(report, list) else [report]
    failed, skipped, passed = [], {}, 0
    for r in reports:
        if not isinstance(r, dict) or "results" not in r:
            continue
        passed += r["summary"]["passed"]
        for check in r["results"]["failed_checks"]:
            failed.append(f"{check['check_id']} {check['resource']} ({check['file_path']})")
        for check in r["results"]["skipped_checks"]:
            key = f"{check['check_id']} {check['resource']} ({check['file_path']})"
            skipped[key] = check["check_result"].get("suppress_comment") or ""
    if not passed and files:
        failed.append("checkov checked nothing")
    return Findings("checkov", failed, passed=passed, excepted=skipped)


def synthesize(outdir: Path) -> str | None:
    """Synthesize every stack with cdk-nag on; the validation error, if any."""
    from infra.app import build_app  # noqa: PLC0415 - jsii starts only when needed
    from infra.config import checked_in_context  # noqa: PLC0415

    try:
        build_app(outdir=str(outdir), context=checked_in_context()).synth()
    except RuntimeError as exc:
        return str(exc)
    return None


def main() -> int:
    outdir = Path(os.environ.get("CDK_OUTDIR") or DEFAULT_OUTDIR)
    error = synthesize(outdir)
    results = [cdk_nag(outdir), *run_linters(outdir)]
    for result in results:
        print(result.line())
        for finding in result.findings:
            print(f"  {finding}")
    unexplained = [k for r in results for k, reason in r.excepted.items() if len(reason) < 20]
    for key in unexplained:
        print(f"  exception without a reason: {key}")
    if error and not results[0].findings:
        print(error)
    return 1 if error or unexplained or any(r.findings for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
