"""Slack (Block Kit, checked on a loopback receiver) and GitHub step summary / outputs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from autopipe.notify import Report, slack_payload
from tests.support.moto import World


def fields(payload: dict[str, Any]) -> dict[str, str]:
    section = next(b for b in payload["blocks"] if b["type"] == "section" and "fields" in b)
    out = {}
    for f in section["fields"]:
        key, _, value = f["text"].partition("\n")
        out[key.strip("*")] = value
    return out


def test_block_kit_message_for_a_rolled_back_deploy(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_RUN_ID", "42")
    monkeypatch.setenv("GITHUB_REPOSITORY", "auto-pipe/auto-pipe")
    assert world.cli("deploy", "--tag", "v1").exit_code == 0
    world.stand_in.broken.add("v2")
    assert world.cli("deploy", "--tag", "v2", "--git-sha", "c0ffee" * 6 + "beef").exit_code == 6
    payload = world.slack.payloads[-1]
    assert payload["text"].startswith(":leftwards_arrow_with_hook: auto-pipe-service deploy")
    assert payload["text"].endswith("failed and was rolled back in rehearsal")
    assert payload["blocks"][0]["type"] == "header"
    f = fields(payload)
    assert set(f) == {"Environment", "Service", "Image", "Commit", "Actor", "Duration", "Result",
                      "Revision"}  # fmt: skip
    assert f["Environment"] == "rehearsal"
    assert f["Service"] == "auto-pipe-cluster/auto-pipe-service"
    assert world.seeded.digests["v2"] in f["Image"]
    assert f["Commit"] == "`c0ffeec0ffee`"
    assert f["Result"] == "rolled_back"
    assert f["Duration"].endswith("s")
    reason = next(b for b in payload["blocks"] if "text" in b and "Reason" in b["text"]["text"])
    assert "/ready answered 503" in reason["text"]["text"]
    button = payload["blocks"][-1]["elements"][0]
    assert button["url"] == "https://github.com/auto-pipe/auto-pipe/actions/runs/42"


def test_github_step_summary_and_outputs(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    summary, output = tmp_path / "summary.md", tmp_path / "output"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    monkeypatch.setenv("GITHUB_OUTPUT", str(output))
    assert world.cli("deploy", "--tag", "v1").exit_code == 0
    text = summary.read_text()
    assert text.startswith("### auto-pipe-service deployed in rehearsal")
    assert "| revision | auto-pipe-task:2 |" in text
    outputs = parse_outputs(output.read_text())
    assert outputs["result"] == "success"
    assert outputs["exit-code"] == "0"
    assert outputs["revision"] == "auto-pipe-task:2"
    assert outputs["previous-revision"] == "auto-pipe-task:1"


def parse_outputs(text: str) -> dict[str, str]:
    """GitHub's `name<<DELIM` ... `DELIM` format."""
    out: dict[str, str] = {}
    lines = iter(text.splitlines())
    for line in lines:
        name, _, delimiter = line.partition("<<")
        value = []
        for body in lines:
            if body == delimiter:
                break
            value.append(body)
        out[name] = "\n".join(value)
    return out


def test_notify_command(world: World) -> None:
    result = world.cli(
        "notify", "--result", "failed", "--reason", "build broke", "--image", "x@sha256:1"
    )
    assert result.exit_code == 0, result.output
    payload = world.slack.payloads[-1]
    assert payload["text"].startswith(":x: auto-pipe-service deploy failed (failed)")
    world.slack.status = 500
    broken = world.cli("notify")
    assert broken.exit_code == 0  # a webhook that fails is a warning
    assert "Slack notification failed" in broken.stdout


def test_payload_is_plain_data() -> None:
    payload = slack_payload(
        Report("success", "production", "svc", "cluster", image="i", commit="c")
    )
    assert payload["text"] == ":white_check_mark: svc deployed in production"
    assert not any(b["type"] == "actions" for b in payload["blocks"])  # no link, no button
