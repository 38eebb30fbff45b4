"""`./setup.sh ENV --repository OWNER/REPO [--region R] [--yes] [--dry-run]`

Checks the prerequisites and the AWS identity it is about to change, then runs the steps of
infra/setup/steps.py in order, each skipped when already done, and ends with the GitHub
repository variables (set with the GitHub CLI when it is installed and signed in)."""

from __future__ import annotations

import argparse
import os
import re
import sys
import tomllib
from collections.abc import Sequence

from autopipe.aws import Aws
from autopipe.errors import AutopipeError
from infra import config as cfg
from infra.errors import ConfigError
from infra.setup import github, tools
from infra.setup.steps import STEPS, Setup

PREREQUISITES = ("git", "docker", "autopipe")
REPOSITORY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]*/[A-Za-z0-9._-]+$")
EXAMPLE = re.compile(r"example|EXAMPLE")
EXAMPLE_ACCOUNTS = ("111111111111", "222222222222")  # cdk.json's


def parse(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="setup.sh", description=__doc__.splitlines()[0])
    parser.add_argument("env", choices=cfg.ENVIRONMENT_NAMES)
    parser.add_argument("--repository", required=True, help="the GitHub repository, OWNER/REPO")
    parser.add_argument("--region", help="default: AWS_REGION, else autopipe.toml's region")
    parser.add_argument("--yes", action="store_true", help="do not ask before changing AWS")
    parser.add_argument("--dry-run", action="store_true", help="print the plan, write nothing")
    parser.add_argument(
        "-c",
        "--context",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="CDK context over cdk.json's, passed on to the CDK CLI, e.g. -c staging:domain_name=",
    )
    args = parser.parse_args(argv)
    for item in args.context:
        if "=" not in item or item.split(":", 1)[0] not in cfg.ENVIRONMENT_NAMES:
            parser.error(f"-c {item}: expected ENV:KEY=VALUE, e.g. {args.env}:domain_name=…")
    if not REPOSITORY.match(args.repository):
        parser.error(f"--repository: expected OWNER/REPO, got {args.repository!r}")
    return args


def context_of(args: argparse.Namespace) -> dict[str, str]:
    given = dict(item.split("=", 1) for item in args.context)
    return {**cfg.checked_in_context(), **given}


def prerequisites(env: str, context: dict[str, str]) -> list[str]:
    problems = [f"{name} is not installed" for name in tools.missing(PREREQUISITES)]
    if tools.missing(["cdk"]) and tools.missing(["npx"]):
        problems.append("the CDK CLI needs Node.js (npx) or `npm install -g aws-cdk`")
    examples = [
        f"{k}={v}"
        for k, v in context.items()
        if k.startswith(f"{env}:") and not k.endswith(":account") and EXAMPLE.search(v)
    ]
    if env == "production" and context.get("staging:account") in (None, "", *EXAMPLE_ACCOUNTS):
        examples.append("staging:account (the account that builds the images)")
    if examples:
        problems.append(
            f"cdk.json still has example values for {env}: {', '.join(examples)}; set your "
            "domain and Route 53 zone (or certificate ARN)"
            + (", or remove them for plain HTTP" if env == "staging" else "")
        )
    return problems


def build(args: argparse.Namespace, aws: Aws, account: str, region: str) -> Setup:
    toml = tomllib.loads((tools.ROOT / "autopipe.toml").read_text())["environments"][args.env]
    given = dict(item.split("=", 1) for item in args.context)
    context = {
        **given,
        # Only what this environment needs is synthesized: production also needs staging's
        # account (where its image comes from), staging nothing of production's.
        "environments": "staging,production" if args.env == "production" else args.env,
        f"{args.env}:account": account,
        f"{args.env}:github_repository": args.repository,
    }
    base = cfg.load(args.env, context_of(args).get)
    if region != base.region:
        context[f"{args.env}:region"] = region
        context.setdefault(f"{args.env}:availability_zones", f"{region}a,{region}b")
    merged = {**cfg.checked_in_context(), **context}
    names = context["environments"].split(",")
    (config,) = [
        e for e in cfg.link([cfg.load(n, merged.get) for n in names]) if e.name == args.env
    ]
    code, sha = tools.output(["git", "rev-parse", "HEAD"])
    if code != 0 or not re.fullmatch(r"[0-9a-f]{40}", sha):
        raise tools.SetupError("not a git checkout with a commit: run setup.sh from the clone")
    return Setup(config, aws, account, region, sha, context, toml.get("url", ""))


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    problems = prerequisites(args.env, context_of(args))
    if problems:
        print("setup: prerequisites missing:\n  " + "\n  ".join(problems), file=sys.stderr)
        return 1
    toml_region = tomllib.loads((tools.ROOT / "autopipe.toml").read_text())["environments"][
        args.env
    ].get("region")
    region = args.region or os.environ.get("AWS_REGION") or toml_region
    aws = Aws(
        region=region, endpoint_url=os.environ.get("AWS_ENDPOINT_URL"), read_only=args.dry_run
    )
    try:
        identity = aws.sts().get_caller_identity()
        setup = build(args, aws, identity["Account"], region)
    except (ConfigError, AutopipeError) as exc:
        print(f"setup: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # no credentials, no network: say so in one line
        print(f"setup: cannot read the AWS identity: {exc}", file=sys.stderr)
        return 1
    print(f"setup {args.env}: account {setup.account}, region {region}, as {identity['Arn']}")
    if args.dry_run:
        print("dry run: nothing will be written")
    elif not args.yes and input(f"Set up {args.env} in this account? [y/N] ").lower() != "y":
        print("setup: nothing done")
        return 1
    changed: list[str] = []
    done: list[str] = []
    for number, step in enumerate(STEPS, 1):
        label = f"[{number}/{len(STEPS)}] {step.title}"
        try:
            already = step.done(setup)
            if already:
                print(f"{label}: done already ({already})")
            elif args.dry_run:
                print(f"{label}: would {step.plan(setup)}")
                continue
            else:
                print(f"{label}: {step.plan(setup)}")
                already = step.do(setup)
                changed.append(step.title)
                print(f"{label}: {already}")
            done.append(f"{step.title}: {already}")
        except (ConfigError, AutopipeError, Exception) as exc:
            print(
                f"setup: step {number}/{len(STEPS)} ({step.title}) failed: {exc}", file=sys.stderr
            )
            print(
                "  exists now:" + "".join(f"\n    {d}" for d in done)
                if done
                else "  nothing exists yet",
                file=sys.stderr,
            )
            print(
                f"  fix the cause and re-run ./setup.sh {args.env} --repository "
                f"{args.repository}: it continues from step {number}",
                file=sys.stderr,
            )
            return 1
    changed += github.variables(setup, args.repository, dry_run=args.dry_run)
    if args.dry_run:
        print("dry run: nothing was written")
    elif not changed:
        print(f"Nothing to change: {args.env} is set up.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
