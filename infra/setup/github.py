"""The GitHub repository variables the deploy workflow reads (scripts/ci/preflight.sh): set
with the GitHub CLI when it is installed and signed in, else printed for the settings page."""

from __future__ import annotations

import json

from infra.setup import tools
from infra.setup.steps import Setup


def wanted(s: Setup) -> dict[str, str]:
    outputs = s.facts.get(s.config.bootstrap_stack_name) or {}
    role = outputs.get("DeployRoleArn", "<DeployRoleArn output of the bootstrap stack>")
    return {"AWS_REGION": s.region, f"AWS_{s.config.name.upper()}_ROLE_ARN": role}


def variables(s: Setup, repository: str, *, dry_run: bool) -> list[str]:
    """What changed (for the 'nothing to change' verdict)."""
    values = wanted(s)
    url = (s.facts.get(s.config.stack_name) or {}).get("Url")
    if url and url != s.url:
        print(
            f"note: the stack serves {url}; set autopipe.toml [environments.{s.config.name}] "
            f'url = "{url}" so CI\'s deploys smoke-test it'
        )
    signed_in = not tools.missing(["gh"]) and tools.output(["gh", "auth", "status"])[0] == 0
    if not signed_in:
        print(
            f"GitHub repository variables for {repository} (Settings > Secrets and variables "
            "> Actions > Variables):"
        )
        for name, value in values.items():
            print(f"  {name} = {value}")
        return []
    code, listed = tools.output(
        ["gh", "variable", "list", "--repo", repository, "--json", "name,value"]
    )
    current = {v["name"]: v["value"] for v in json.loads(listed or "[]")} if code == 0 else {}
    changed = []
    for name, value in values.items():
        if current.get(name) == value:
            print(f"GitHub variable {name}: set already")
        elif dry_run:
            print(f"GitHub variable {name}: would set to {value}")
        else:
            tools.run(["gh", "variable", "set", name, "--repo", repository, "--body", value])
            print(f"GitHub variable {name}: set to {value}")
            changed.append(name)
    return changed
