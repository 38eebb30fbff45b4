"""docs/examples/adot-sidecar.json applied to taskdef.template.json exactly as docs/tracing.md
says, for the tests that prove the deployer and the CDK app both carry it."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "docs" / "examples" / "adot-sidecar.json"


def example() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(EXAMPLE.read_text())
    return data


def with_sidecar(template: dict[str, Any]) -> dict[str, Any]:
    overlay = example()
    changed = copy.deepcopy(template)
    changed.update(overlay["task"])
    app = changed["containerDefinitions"][0]
    app["environment"] = [*app["environment"], *overlay["appContainer"]["environment"]]
    app["dependsOn"] = overlay["appContainer"]["dependsOn"]
    changed["containerDefinitions"].append(overlay["sidecar"])
    return changed
