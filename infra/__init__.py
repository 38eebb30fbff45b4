"""The AWS CDK app: per-environment config (`config`), stacks that only wire constructs
(`stacks/`), one construct per logical unit (`constructs/`). `python -m infra.app` synthesizes."""
