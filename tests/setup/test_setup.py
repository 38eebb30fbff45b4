"""`./setup.sh ENV --repository OWNER/REPO`: one command from an empty account to a deployed
service, idempotent, with a dry run that writes nothing and failures that say where to resume."""

from __future__ import annotations

import shutil
import subprocess

from tests.setup.conftest import HTTP_ONLY, ROOT, World

ACCOUNT = "123456789012"  # moto's account
REGISTRY = f"{ACCOUNT}.dkr.ecr.eu-west-1.amazonaws.com"
ARGS = ("staging", "--repository", "acme/api", "--yes", *HTTP_ONLY)
CONTEXT = [
    "-c",
    "staging:domain_name=",
    "-c",
    "staging:hosted_zone_id=",
    "-c",
    "staging:hosted_zone_name=",
    "-c",
    "environments=staging",
    "-c",
    f"staging:account={ACCOUNT}",
    "-c",
    "staging:github_repository=acme/api",
]


def head() -> str:
    return subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()


def test_a_first_run_sets_up_everything_and_a_second_changes_nothing(world: World) -> None:
    first = world.run(*ARGS)
    assert first.returncode == 0, first.stderr + first.stdout
    sha = head()
    tag = f"setup-{sha[:12]}"
    (image,) = world.client("ecr").describe_images(repositoryName="auto-pipe-api")["imageDetails"]
    digest = image["imageDigest"]
    assert image["imageTags"] == [tag]
    calls = world.calls()
    deploy = ["deploy", "--exclusively", "--require-approval", "never", *CONTEXT]
    assert calls == [
        ["cdk", "bootstrap", f"aws://{ACCOUNT}/eu-west-1"],
        ["cdk", deploy[0], "AutoPipe-staging-Bootstrap", *deploy[1:]],
        [
            "docker",
            "build",
            "--build-arg",
            f"GIT_SHA={sha}",
            "--build-arg",
            f"IMAGE_TAG={tag}",
            "-t",
            f"{REGISTRY}/auto-pipe-api:{tag}",
            ".",
        ],
        ["docker", "login", "--username", "AWS", "--password-stdin", REGISTRY],
        ["docker", "push", f"{REGISTRY}/auto-pipe-api:{tag}"],
        ["cdk", deploy[0], "AutoPipe-staging", *deploy[1:]],
        [
            "autopipe",
            "deploy",
            "--env",
            "staging",
            "--region",
            "eu-west-1",
            "--digest",
            digest,
            "--git-sha",
            sha,
            "--url",
            "http://auto-pipe-staging.elb.example",
            "--reason",
            "first deploy (setup.sh)",
        ],
        ["gh", "auth", "status"],
        ["gh", "variable", "list", "--repo", "acme/api", "--json", "name,value"],
        ["gh", "variable", "set", "AWS_REGION", "--repo", "acme/api", "--body", "eu-west-1"],
        [
            "gh",
            "variable",
            "set",
            "AWS_STAGING_ROLE_ARN",
            "--repo",
            "acme/api",
            "--body",
            f"arn:aws:iam::{ACCOUNT}:role/auto-pipe-github-deploy",
        ],
    ]
    ssm = world.client("ssm")
    recorded = {
        p["Name"].rsplit("/", 1)[1]: p["Value"]
        for p in ssm.get_parameters_by_path(Path="/auto-pipe/staging/release")["Parameters"]
    }
    assert recorded == {
        "image": f"{REGISTRY}/auto-pipe-api@{digest}",
        "image-tag": tag,
        "git-sha": sha,
    }
    assert "http://auto-pipe-staging.elb.example" in first.stdout  # the autopipe.toml note

    before = world.state()
    world.record.unlink()
    second = world.run(*ARGS)
    assert second.returncode == 0, second.stderr
    assert world.state() == before  # same parameter versions, stacks, images, variables
    assert [c[:3] for c in world.calls()] == [["gh", "auth", "status"], ["gh", "variable", "list"]]
    assert second.stdout.count("done already") == 6
    assert "Nothing to change: staging is set up." in second.stdout


def test_a_dry_run_prints_the_plan_and_writes_nothing(world: World) -> None:
    before = world.state()
    result = world.run(*ARGS, "--dry-run")
    assert result.returncode == 0, result.stderr
    assert world.state() == before
    assert [c for c in world.calls() if c[0] != "gh" or c[1:3] == ["variable", "set"]] == []
    lines = [line for line in result.stdout.splitlines() if line.startswith("[")]
    assert len(lines) == 6
    assert all(": would " in line for line in lines), lines
    assert f"would run cdk bootstrap aws://{ACCOUNT}/eu-west-1" in lines[0]
    assert "would set to eu-west-1" in result.stdout
    assert "dry run: nothing was written" in result.stdout


def test_a_failed_step_says_where_it_stopped_and_a_rerun_continues(world: World) -> None:
    failed = world.run(*ARGS, fail="deploy AutoPipe-staging -")
    assert failed.returncode == 1
    assert "step 5/6 (service stack) failed: `cdk deploy AutoPipe-staging" in failed.stderr
    assert "exists now:" in failed.stderr
    for done in ("CDK toolkit", "bootstrap stack", "first image", "release record"):
        assert f"    {done}: " in failed.stderr
    assert (
        "re-run ./setup.sh staging --repository acme/api: it continues from step 5" in failed.stderr
    )
    world.record.unlink()
    resumed = world.run(*ARGS)
    assert resumed.returncode == 0, resumed.stderr
    tools = [c[:2] for c in world.calls() if c[0] != "gh"]
    assert tools == [["cdk", "deploy"], ["autopipe", "deploy"]]
    assert world.calls()[0][2] == "AutoPipe-staging"


def test_it_asks_before_changing_the_account(world: World) -> None:
    result = world.run("staging", "--repository", "acme/api", *HTTP_ONLY, stdin="n\n")
    assert result.returncode == 1
    assert f"account {ACCOUNT}, region eu-west-1, as arn:aws:" in result.stdout
    assert "nothing done" in result.stdout
    assert world.calls() == []
    assert world.state()["parameters"] == []


def test_missing_prerequisites_and_example_values_are_refused(world: World) -> None:
    no_docker = world.run(*ARGS, tools=("cdk", "autopipe"))
    assert no_docker.returncode == 1
    assert "docker is not installed" in no_docker.stderr
    example = world.run("staging", "--repository", "acme/api", "--yes")
    assert example.returncode == 1
    assert "cdk.json still has example values for staging" in example.stderr
    production = world.run("production", "--repository", "acme/api", "--yes")
    assert production.returncode == 1
    assert "production:domain_name=api.example.com" in production.stderr
    assert "staging:account (the account that builds the images)" in production.stderr
    assert world.calls() == []


def test_bad_arguments_get_one_line_and_exit_2(world: World) -> None:
    result = world.run("staging", "--repository", "not a repo")
    assert result.returncode == 2
    assert "--repository: expected OWNER/REPO" in result.stderr.splitlines()[-1]
    assert world.run("qa", "--repository", "a/b").returncode == 2


def test_without_the_github_cli_the_variables_are_printed(world: World) -> None:
    result = world.run(*ARGS, fail="gh auth")
    assert result.returncode == 0, result.stderr
    assert "  AWS_STAGING_ROLE_ARN = arn:aws:iam::" in result.stdout
    assert world.state()["variables"] == {}


def test_setup_sh_runs_the_same_module(world: World) -> None:
    # The wrapper needs uv and coreutils' dirname: linked in, not the machine's whole PATH.
    for tool in ("uv", "dirname"):
        found = shutil.which(tool)
        assert found is not None, f"{tool} must be installed"
        (world.bin / tool).symlink_to(found)
    bash = shutil.which("bash")
    assert bash is not None
    result = world.run(*ARGS, "--dry-run", command=[bash, str(ROOT / "setup.sh")])
    assert result.returncode == 0, result.stderr
    assert (
        sum(line.startswith("[") and ": would " in line for line in result.stdout.splitlines()) == 6
    )
    assert world.calls() == [
        ["gh", "auth", "status"],
        ["gh", "variable", "list", "--repo", "acme/api", "--json", "name,value"],
    ]
