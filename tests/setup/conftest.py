"""setup.sh's world: moto's server on loopback (the AWS calls setup makes itself go there,
through the deployer's client factory), and recorded stand-ins on PATH for the CDK CLI,
Docker, the deployer and the GitHub CLI (tests/setup/standin.py)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from moto.server import ThreadedMotoServer

from tests.support.pg import free_port

ROOT = Path(__file__).resolve().parents[2]
TOOLS = ("cdk", "docker", "autopipe", "gh")
# Plain HTTP for the test (cdk.json's example staging domain is refused by setup on purpose).
HTTP_ONLY = [
    "-c",
    "staging:domain_name=",
    "-c",
    "staging:hosted_zone_id=",
    "-c",
    "staging:hosted_zone_name=",
]


@pytest.fixture(scope="session")
def moto_url() -> Iterator[str]:
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@dataclass
class World:
    url: str
    bin: Path
    record: Path
    gh_state: Path
    env: dict[str, str]

    def run(
        self,
        *args: str,
        stdin: str = "",
        fail: str = "",
        tools: tuple[str, ...] = TOOLS,
        command: list[str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        for name in TOOLS:
            (self.bin / name).unlink(missing_ok=True)
            if name in tools:
                (self.bin / name).symlink_to(self.bin / "standin.py")
        env = {**self.env, "STANDIN_FAIL": fail}
        argv = command or [sys.executable, "-m", "infra.setup"]
        return subprocess.run(
            [*argv, *args],
            cwd=ROOT,
            env=env,
            input=stdin,
            text=True,
            capture_output=True,
            timeout=600,  # a hang guard, not a speed limit
            check=False,
        )

    def calls(self) -> list[list[str]]:
        if not self.record.exists():
            return []
        return [json.loads(line) for line in self.record.read_text().splitlines()]

    def client(self, service: str) -> Any:
        factory: Any = boto3.client  # the service name is a variable: no typed overload applies
        return factory(
            service,
            endpoint_url=self.url,
            region_name="eu-west-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    def state(self) -> dict[str, Any]:
        """What exists in the emulated account (what a write would change)."""
        ssm = self.client("ssm").describe_parameters()["Parameters"]
        return {
            "parameters": sorted((p["Name"], p["Version"]) for p in ssm),
            "repositories": [
                r["repositoryName"]
                for r in self.client("ecr").describe_repositories()["repositories"]
            ],
            "stacks": [
                s["StackName"] for s in self.client("cloudformation").describe_stacks()["Stacks"]
            ],
            "services": self.client("ecs").list_clusters()["clusterArns"],
            "variables": json.loads(self.gh_state.read_text()) if self.gh_state.exists() else {},
        }


@pytest.fixture
def world(moto_url: str, tmp_path: Path) -> World:
    httpx.post(f"{moto_url}/moto-api/reset").raise_for_status()
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "standin.py"
    script.write_text(f"#!{sys.executable}\n" + (Path(__file__).parent / "standin.py").read_text())
    script.chmod(0o755)
    git = shutil.which("git")
    assert git is not None
    # Only the stand-ins and git: never the machine's real docker, cdk or gh.
    (bin_dir / "git").symlink_to(git)
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "AUTOPIPE_"))}
    env = {
        **keep,
        "PATH": str(bin_dir),
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_ENDPOINT_URL": moto_url,
        "AWS_REGION": "eu-west-1",
        "STANDIN_RECORD": str(tmp_path / "calls.jsonl"),
        "STANDIN_GH_STATE": str(tmp_path / "gh.json"),
    }
    return World(moto_url, bin_dir, tmp_path / "calls.jsonl", tmp_path / "gh.json", env)
