#!/usr/bin/env bash
# The first setup of an environment, in one command (docs/infrastructure.md: first setup):
#   ./setup.sh staging --repository OWNER/REPO [--region eu-west-1] [--yes] [--dry-run]
# Checks the prerequisites and the AWS identity, then: the CDK toolkit, the bootstrap stack, the
# first image, the release record, the service stack, the first `autopipe deploy`, and the
# GitHub repository variables. Re-running is safe: each step skips itself when it is done.
set -euo pipefail
cd "$(dirname "$0")"
export UV_PYTHON_DOWNLOADS=never
if ! command -v uv >/dev/null 2>&1; then
    echo "setup: uv is not installed (make uv, or https://docs.astral.sh/uv/)" >&2
    exit 1
fi
exec uv run --locked --quiet python -m infra.setup "$@"
